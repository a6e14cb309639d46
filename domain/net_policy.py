"""Which network addresses the server may connect to when a message names a URL (a
voicemail's `audio_url`): public unicast only, unless an operator allow-lists a network (the
PBX's own private address on premises). Embedded IPv4 forms (IPv4-mapped, 6to4, NAT64,
Teredo) are judged by the IPv4 address they reach, since that is where the packets go."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 6052 well-known NAT64 prefix (the IPv4 address is the last 32 bits) and RFC 8215's
# local-use one (operator-defined mapping: where it leads cannot be told, so refused).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def parse_networks(values: Iterable[str]) -> list[IPNetwork]:
    """The allow-listed networks ("10.1.2.3", "10.1.0.0/16", "fd00::/8"); ValueError on a
    malformed one."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _non_public(ip: IPAddress) -> bool:
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def refusal(ip: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why `ip` may not be connected to (a reason code), or None when it may: public
    unicast, or inside an allow-listed network (the address itself or the IPv4 it embeds)."""
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    networks = list(allowed)
    for candidate in (ip, embedded):
        if candidate is not None and any(
            candidate.version == net.version and candidate in net for net in networks
        ):
            return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL or ip.teredo is not None:
            return "tunnelled_address"
        if embedded is not None:
            return "embedded_non_public_address" if _non_public(embedded) else None
    return "non_public_address" if _non_public(ip) else None
