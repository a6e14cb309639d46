"""SDP offer/answer for G.711: the first audio stream of an offer (its address must be a
literal IP and its port a real one), the G.711 payload types and telephone-event it offers, and
our offer or answer."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from workers.telephony import g711
from workers.telephony.sip.message import USER_AGENT, SipParseError

DEFAULT_EVENT_PT = 101


class SdpNotAcceptable(SipParseError):
    """A readable SDP whose media we will not send to (answered 488)."""


@dataclass
class SdpMedia:
    address: str
    port: int
    payload_types: list[int]
    rtpmaps: dict[int, str] = field(default_factory=dict)
    direction: str = "sendrecv"

    @property
    def event_payload_type(self) -> int | None:
        return next(
            (pt for pt, name in self.rtpmaps.items() if name.lower().startswith("telephone-event")),
            None,
        )

    def g711_choices(self) -> list[int]:
        """The offered G.711 payload types (static 0 and 8), in the offerer's preference."""
        return [pt for pt in self.payload_types if pt in g711.CODEC_NAMES]


def parse_sdp(body: bytes) -> SdpMedia:
    """The first audio stream of an SDP body. Its address must be a literal IP address (a host
    name would make every RTP sendto resolve it, blocking the event loop) and its port a real
    one (sendto raises OverflowError otherwise, which closes the RTP socket): SdpNotAcceptable."""
    address = ""
    media: SdpMedia | None = None
    for raw in body.decode("utf-8", errors="replace").splitlines():
        kind, _, value = raw.strip().partition("=")
        if kind == "c":
            parts = value.split()
            if len(parts) >= 3:
                if media is None:
                    address = parts[2].split("/")[0]
                else:
                    media.address = parts[2].split("/")[0]
        elif kind == "m":
            if media is not None:
                break  # only the first audio stream
            parts = value.split()
            if len(parts) < 4 or parts[0] != "audio":
                continue
            try:
                media = SdpMedia(address, int(parts[1]), [int(p) for p in parts[3:] if p.isdigit()])
            except ValueError as exc:
                raise SipParseError(f"bad m= line {value!r}") from exc
        elif kind == "a" and media is not None:
            if value.startswith("rtpmap:"):
                pt, _, name = value[len("rtpmap:") :].partition(" ")
                if pt.isdigit():
                    media.rtpmaps[int(pt)] = name.strip()
            elif value in ("sendrecv", "sendonly", "recvonly", "inactive"):
                media.direction = value
    if media is None:
        raise SipParseError("no audio stream in the SDP")
    if not media.address:
        raise SipParseError("no connection address in the SDP")
    try:
        ipaddress.ip_address(media.address)
    except ValueError as exc:
        raise SdpNotAcceptable(f"connection address {media.address[:60]!r} is not an IP") from exc
    if not 1 <= media.port <= 65535:
        raise SdpNotAcceptable(f"media port {media.port} out of range")
    return media


ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


def render_sdp(
    host: str,
    port: int,
    session_id: int,
    version: int,
    payload_types: list[int],
    event_pt: int | None,
    direction: str = "sendrecv",
) -> bytes:
    family = "IP6" if ":" in host else "IP4"
    formats = [*payload_types, *([event_pt] if event_pt is not None else [])]
    lines = [
        "v=0",
        f"o={USER_AGENT} {session_id} {version} IN {family} {host}",
        f"s={USER_AGENT}",
        f"c=IN {family} {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in formats)}",
        *(f"a=rtpmap:{pt} {g711.CODEC_NAMES[pt]}/8000" for pt in payload_types),
    ]
    if event_pt is not None:
        lines += [f"a=rtpmap:{event_pt} telephone-event/8000", f"a=fmtp:{event_pt} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()
