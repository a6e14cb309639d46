"""What the SIP adapter accepts from the network (issue 18, point 1): whose media it will send
to, how long an answered call may stay unconfirmed, how fast one source may open calls.

- `media_networks`: the networks an SDP connection address (`c=`) may be in; any other is
  refused with 488, so a forged SDP cannot point the bot's RTP (the read-back of a caller's
  address and number) at an arbitrary host, nor use the bot to flood one.
- `ack_timeout_s`: an answered INVITE whose ACK does not come within it is ended (one BYE,
  the slot freed at once): INVITEs never ACKed cannot hold the call slots.
- `invite_rate_per_s` / `invite_burst`: new calls per source address; `max_unconfirmed_per_source`:
  calls one source may have ringing or answered-but-not-ACKed at once; `packet_rate_per_s` /
  `packet_burst`: datagrams per source, anything beyond dropped unread. A trunk brings every
  call from one address: raise these for it.
- `rtp_symmetric`: media is accepted only from the address and port the SDP gave (strict,
  the default), or also from the SDP's or the SIP peer's IP at another port, latched on the
  first packet (symmetric RTP, for callers behind NAT). Either way, never from anywhere else.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from workers.telephony.limits import SourceRateLimit

DEFAULT_MEDIA_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SipPolicy:
    media_networks: tuple[str, ...] = DEFAULT_MEDIA_NETWORKS
    ack_timeout_s: float = 8.0
    invite_rate_per_s: float = 1.0
    invite_burst: int = 10
    max_unconfirmed_per_source: int = 8
    packet_rate_per_s: float = 100.0
    packet_burst: int = 200
    rtp_symmetric: bool = False
    _networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in self.media_networks)
        object.__setattr__(self, "_networks", networks)

    def media_allowed(self, address: str) -> bool:
        """Whether the bot may send RTP to `address` (a literal IP, from an SDP)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def invite_limit(self) -> SourceRateLimit:
        return SourceRateLimit(self.invite_rate_per_s, self.invite_burst)

    def packet_limit(self) -> SourceRateLimit:
        return SourceRateLimit(self.packet_rate_per_s, self.packet_burst)
