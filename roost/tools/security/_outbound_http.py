"""The httpx side of :func:`roost.tools.security.outbound.fetch`: the address pinning
transport and the capped read. Imported on the first outbound request, so a server that sends
none does not load httpx."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from roost.tools.security._outbound_guard import (
    AddressRefused,
    Allowed,
    ConnectionFailed,
    InvalidURL,
    IPAddress,
    Limits,
    OutboundResponse,
    OutboundTimeout,
    ResponseTooLarge,
    address_problem,
    resolve,
)


async def _pin(url: httpx.URL, allowed: Allowed) -> IPAddress:
    """The one address the request will use, after checking every address the host has."""
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidURL(
            f"only http and https URLs with a host can be requested, not {str(url)[:200]!r}"
        )
    host = url.host.lower().rstrip(".")
    addresses = await resolve(host, url.port or (443 if url.scheme == "https" else 80))
    for ip in addresses:
        problem = address_problem(ip)
        if problem and not allowed.permits(host, ip):
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise AddressRefused(
                f"refused to connect to {shown}: {problem}; the host is not allowed for outbound requests"
            )
    return addresses[0]


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the pinned address whatever name httpcore asks for; TLS still uses the name."""

    def __init__(self, ip: IPAddress) -> None:
        self._ip = str(ip)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(
            self._ip,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for outbound requests")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, ip: IPAddress, verify: ssl.SSLContext | bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx builds its connection pool privately; rebuilding it is the seam httpcore offers
        # for choosing where a connection goes (the network backend), and it keeps httpx's
        # request and response mapping. tests/tools/test_outbound.py pins the behaviour.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=1,
            network_backend=_PinnedBackend(ip),
        )


async def traced_fetch(
    method: str,
    url: httpx.URL,
    headers: Mapping[str, str] | None,
    content: bytes | None,
    allowed: Allowed,
    limits: Limits,
    verify: ssl.SSLContext | bool,
) -> OutboundResponse:
    """:func:`fetch` in a client span, sending its ``traceparent`` along."""
    from roost.tools.tracing.spans import client_span, set_response_status

    port = url.port or (443 if url.scheme == "https" else 80)
    with client_span(method, url.scheme, url.host, port, url.path) as (span, trace_headers):
        response = await fetch(
            method, url, {**trace_headers, **(headers or {})}, content, allowed, limits, verify
        )
        set_response_status(span, response.status_code)
        return response


async def fetch(
    method: str,
    url: httpx.URL,
    headers: Mapping[str, str] | None,
    content: bytes | None,
    allowed: Allowed,
    limits: Limits,
    verify: ssl.SSLContext | bool,
) -> OutboundResponse:
    try:
        async with asyncio.timeout(limits.total):
            ip = await _pin(url, allowed)
            return await _send(method, url, ip, headers, content, limits, verify)
    except TimeoutError as exc:
        raise OutboundTimeout(
            f"no complete answer from {url.host} within {limits.total:g}s"
        ) from exc


async def _send(
    method: str,
    url: httpx.URL,
    ip: IPAddress,
    headers: Mapping[str, str] | None,
    content: bytes | None,
    limits: Limits,
    verify: ssl.SSLContext | bool,
) -> OutboundResponse:
    timeout = httpx.Timeout(limits.total, connect=limits.connect, read=limits.read)
    transport = _PinnedTransport(ip, verify)
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        try:
            # identity: the size cap counts the bytes that arrive, so nothing may inflate after it
            sent = {"accept-encoding": "identity", **(headers or {})}
            async with client.stream(method, url, headers=sent, content=content) as response:
                body = await _read_capped(response, limits.max_response_bytes)
        except httpx.TimeoutException as exc:
            raise OutboundTimeout(
                f"{url.host} did not answer in time ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise ConnectionFailed(
                f"request to {url.host} failed: {exc or type(exc).__name__}"
            ) from exc
    return OutboundResponse(response.status_code, dict(response.headers), body, str(ip))


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ResponseTooLarge(f"the answer declares {declared} bytes, more than the {cap} allowed")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > cap:
            raise ResponseTooLarge(f"the answer is longer than the {cap} bytes allowed")
        chunks.append(chunk)
    return b"".join(chunks)
