"""The one guarded HTTP client for requests Roost makes to URLs its users give it (webhooks).

A URL a user typed must not become a way into the machine's own network (SSRF). So
:func:`fetch`:

* resolves the host once and refuses the request when any of its addresses is loopback,
  private, link-local (the cloud metadata address ``169.254.169.254`` included), shared
  (CGNAT ``100.64.0.0/10``), unspecified, multicast or reserved, in IPv4 or IPv6 (an IPv4
  address mapped or embedded in IPv6 is judged as IPv4), unless the caller allows the host;
* connects to the address it checked, never resolving again (no DNS rebinding), while the
  ``Host`` header, TLS SNI and certificate verification still use the name;
* never follows a redirect (the 3xx answer is returned as it is);
* caps connect, read and total time, and the size of the answer (it stops reading past it);
* ignores proxy environment variables (a proxy would resolve the name itself);
* while tracing is on, runs in a client span and sends its W3C ``traceparent``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from roost.tools import tracing

__all__ = [
    "AddressRefused",
    "ConnectionFailed",
    "InvalidURL",
    "Limits",
    "OutboundError",
    "OutboundResponse",
    "OutboundTimeout",
    "ResponseTooLarge",
    "address_problem",
    "fetch",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class OutboundError(Exception):
    """An outbound request that did not get an answer; ``reason`` is a stable short code."""

    reason = "failed"


class InvalidURL(OutboundError):
    reason = "invalid_url"


class AddressRefused(OutboundError):
    """The host resolves to an address outbound requests may not reach."""

    reason = "refused"


class ConnectionFailed(OutboundError):
    reason = "connection_failed"


class OutboundTimeout(OutboundError):
    reason = "timeout"


class ResponseTooLarge(OutboundError):
    reason = "too_large"


@dataclass(frozen=True)
class Limits:
    """Time caps in seconds and the largest answer body read, in bytes."""

    connect: float = 5.0
    read: float = 10.0
    total: float = 30.0
    max_response_bytes: int = 1 << 20


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    headers: Mapping[str, str]
    content: bytes = field(repr=False)
    #: the address the request was sent to
    address: str = ""


def address_problem(ip: IPAddress) -> str:
    """Why outbound requests may not reach ``ip`` ("" when they may)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_problem(embedded)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("shared (CGNAT)", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or not ip.is_global),
    )
    return next((f"a {name} address" for name, bad in checks if bad), "")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class _Allowed:
    """The caller's allow-list: host names (exact, case-insensitive) and addresses or networks."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip().lower().strip("[]")
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry.rstrip("."))

    def permits(self, host: str, ip: IPAddress) -> bool:
        return host in self.names or any(ip in net for net in self.networks)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionFailed(f"cannot resolve {host!r}: {exc.strerror or exc}") from exc
    found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not found:
        raise ConnectionFailed(f"cannot resolve {host!r}: no address")
    return list(dict.fromkeys(found))


async def _pin(url: httpx.URL, allowed: _Allowed) -> IPAddress:
    """The one address the request will use, after checking every address the host has."""
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidURL(
            f"only http and https URLs with a host can be requested, not {str(url)[:200]!r}"
        )
    host = url.host.lower().rstrip(".")
    addresses = await _resolve(host, url.port or (443 if url.scheme == "https" else 80))
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


async def fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    allow: Iterable[str] = (),
    limits: Limits = Limits(),
    verify: ssl.SSLContext | bool = True,
) -> OutboundResponse:
    """Send one request to a user-given ``url`` and read its answer, within ``limits``.

    Args:
        allow: host names, addresses or networks (``"10.0.0.0/8"``) that may be reached even
            though they are private.
        verify: TLS verification (a custom ``SSLContext`` to trust a private CA).

    Raises:
        InvalidURL: not an http(s) URL with a host.
        AddressRefused: the host resolves to an address that may not be reached.
        ConnectionFailed: DNS, connection or protocol failure.
        OutboundTimeout: a time cap was reached.
        ResponseTooLarge: the answer body is longer than ``limits.max_response_bytes``.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidURL(f"not a valid URL: {exc}") from exc
    if tracing.active:
        return await _traced_fetch(method, parsed, headers, content, _Allowed(allow), limits, verify)
    return await _fetch(method, parsed, headers, content, _Allowed(allow), limits, verify)


async def _traced_fetch(
    method: str,
    url: httpx.URL,
    headers: Mapping[str, str] | None,
    content: bytes | None,
    allowed: _Allowed,
    limits: Limits,
    verify: ssl.SSLContext | bool,
) -> OutboundResponse:
    """:func:`_fetch` in a client span, sending its ``traceparent`` along."""
    from roost.tools.tracing.spans import client_span, set_response_status

    port = url.port or (443 if url.scheme == "https" else 80)
    with client_span(method, url.scheme, url.host, port, url.path) as (span, trace_headers):
        response = await _fetch(method, url, {**trace_headers, **(headers or {})}, content, allowed, limits, verify)
        set_response_status(span, response.status_code)
        return response


async def _fetch(
    method: str,
    url: httpx.URL,
    headers: Mapping[str, str] | None,
    content: bytes | None,
    allowed: _Allowed,
    limits: Limits,
    verify: ssl.SSLContext | bool,
) -> OutboundResponse:
    try:
        async with asyncio.timeout(limits.total):
            ip = await _pin(url, allowed)
            return await _send(method, url, ip, headers, content, limits, verify)
    except TimeoutError as exc:
        raise OutboundTimeout(f"no complete answer from {url.host} within {limits.total:g}s") from exc


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
