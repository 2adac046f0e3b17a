"""What :func:`roost.tools.security.outbound.fetch` checks before it connects: which addresses
may be reached, the limits, and the errors it raises (no HTTP client here)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


class Allowed:
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


async def resolve(host: str, port: int) -> list[IPAddress]:
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
