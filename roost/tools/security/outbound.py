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

import ssl
from collections.abc import Iterable, Mapping

from roost.tools import tracing
from roost.tools.security._outbound_guard import (
    AddressRefused,
    Allowed,
    ConnectionFailed,
    InvalidURL,
    Limits,
    OutboundError,
    OutboundResponse,
    OutboundTimeout,
    ResponseTooLarge,
    address_problem,
)

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

#: the limits of a request that names none
DEFAULT_LIMITS = Limits()


async def fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    allow: Iterable[str] = (),
    limits: Limits = DEFAULT_LIMITS,
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
    import httpx  # with the client below, loaded on the first outbound request

    from roost.tools.security import _outbound_http as http

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidURL(f"not a valid URL: {exc}") from exc
    if tracing.active:
        return await http.traced_fetch(
            method, parsed, headers, content, Allowed(allow), limits, verify
        )
    return await http.fetch(method, parsed, headers, content, Allowed(allow), limits, verify)
