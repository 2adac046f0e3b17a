"""The client IP as PocketBase's ``RealIP`` resolves it.

Proxy headers count only when the ``trustedProxy.headers`` setting names them (a deployment
behind a proxy it controls). For each named header, the last occurrence is used (the one the
nearest proxy wrote); within it the rightmost valid IP is taken, or the leftmost with
``useLeftmostIP``. Otherwise, and when no header yields a valid IP, it is the socket's peer.
IPv6 addresses come out fully expanded, as Go's ``netip.Addr.StringExpanded`` writes them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence


def _canonical(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return address.exploded if address.version == 6 else str(address)


def client_ip(
    peer: str,
    headers: Iterable[tuple[bytes, bytes]],
    trusted_headers: Sequence[str] = (),
    use_leftmost: bool = False,
) -> str:
    """The request's client IP; ``headers`` are ASGI (lower-case name, value) pairs."""
    if not trusted_headers and ":" not in peer:
        return peer  # the common case: a direct IPv4 peer needs no parsing
    if trusted_headers:
        by_name: dict[str, str] = {}
        for name, value in headers:
            by_name[name.decode("latin-1").lower()] = value.decode("latin-1")  # the last one wins
        for header in trusted_headers:
            listed = by_name.get(str(header).lower(), "")
            if not listed:
                continue
            parts = listed.split(",")
            for part in parts if use_leftmost else reversed(parts):
                found = _canonical(part)
                if found:
                    return found
    return _canonical(peer) or peer
