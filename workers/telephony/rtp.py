"""RTP for the SIP adapter: one UDP socket per call carrying G.711 audio and RFC 4733 DTMF.

Inbound: G.711 is decoded to slin16 and re-cut into exact 20 ms frames; telephone-events become
one key press per event, reported at its end (an end packet is sent three times, and a key held
long sends many updates: the RTP timestamp identifies the event). Outbound: the session's paced
frames, with one SSRC per call, a sequence number +1 per packet and a timestamp +160 per frame
that jumps over the silence between prompts (marker bit on the first frame of each talkspurt),
as a receiver's jitter buffer expects.

Whose media is taken (issue 18): by default only packets from the address and port the SDP
gave; everything else is dropped, since following a new source would let anyone who guesses
the port take the call's media (Asterisk's "RTP bleed", CVE-2017-14099), and latching on the
first packet from anywhere lets whoever sends first take it. Symmetric RTP (`symmetric_hosts`,
for callers behind NAT whose SDP port is not the one their packets come from): the first packet
from one of those hosts (the SDP's and the SIP peer's IP), at any port, is latched, and the
bot's audio then goes there; still never to or from anywhere else. A re-INVITE moving the
media to another address learns the source again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from domain.media import FRAME_SAMPLES, SAMPLE_RATE
from workers.telephony import g711
from workers.telephony.playout import FrameBuffer

log = logging.getLogger(__name__)

RTP_VERSION = 2
HEADER = struct.Struct("!BBHII")
EVENT_DIGITS = "0123456789*#ABCD"  # RFC 4733 events 0-15


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < HEADER.size:
        raise ValueError(f"RTP packet of {len(data)} bytes")
    first, second, sequence, timestamp, ssrc = HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise ValueError(f"RTP version {first >> 6}")
    offset = HEADER.size + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension: 4 bytes, then its length in 32-bit words
        if len(data) < offset + 4:
            raise ValueError("truncated RTP header extension")
        offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
    end = len(data)
    if first & 0x20:  # padding: its length is the last byte
        end -= data[-1]
    if offset > end:
        raise ValueError("RTP header longer than the packet")
    return RtpPacket(
        second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, data[offset:end]
    )


def build_rtp(packet: RtpPacket) -> bytes:
    return (
        HEADER.pack(
            RTP_VERSION << 6,
            (0x80 if packet.marker else 0) | packet.payload_type,
            packet.sequence & 0xFFFF,
            packet.timestamp & 0xFFFFFFFF,
            packet.ssrc,
        )
        + packet.payload
    )


def telephone_event(payload: bytes) -> tuple[str, bool] | None:
    """(digit, end of event) of an RFC 4733 payload; None for non-DTMF events."""
    if len(payload) < 4 or payload[0] >= len(EVENT_DIGITS):
        return None
    return EVENT_DIGITS[payload[0]], bool(payload[1] & 0x80)


class RtpStream(asyncio.DatagramProtocol):
    """One call's RTP socket. Open with `await RtpStream.open(host, on_audio, on_dtmf)`."""

    def __init__(self, on_audio: Callable[[bytes], None], on_dtmf: Callable[[str], None]) -> None:
        self._on_audio = on_audio
        self._on_dtmf = on_dtmf
        self._transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self._announced: tuple[str, int] | None = None  # the SDP's address
        self._negotiated = False  # the far end learns our port from our SDP: see configure
        self._latched: tuple[str, int] | None = None  # symmetric RTP: the source latched on
        self._symmetric_hosts: frozenset[str] = frozenset()
        self.payload_type = g711.PCMU
        self.event_payload_type: int | None = None
        self._buffer = FrameBuffer()
        self._reported_events: set[int] = set()
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._last_sent: float | None = None
        self.packets_in = 0
        self.packets_out = 0
        self.packets_foreign = 0  # valid packets from a source other than the latched one

    @classmethod
    async def open(
        cls, host: str, on_audio: Callable[[bytes], None], on_dtmf: Callable[[str], None]
    ) -> RtpStream:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(on_audio, on_dtmf), local_addr=(host, 0)
        )
        return protocol

    @property
    def port(self) -> int:
        assert self._transport is not None
        return int(self._transport.get_extra_info("sockname")[1])

    def configure(
        self,
        remote: tuple[str, int] | None,
        payload_type: int,
        event_payload_type: int | None,
        *,
        symmetric_hosts: frozenset[str] = frozenset(),
    ) -> None:
        if remote is not None:
            # A host name would be resolved on the event loop by every sendto, and a port out of
            # range raises OverflowError there, which closes the socket: refused up front.
            ipaddress.ip_address(remote[0])
            if not 1 <= remote[1] <= 65535:
                raise ValueError(f"RTP port {remote[1]} out of range")
        self._negotiated = True  # called as our SDP goes out: from now on the far end knows us
        if remote is not None and remote[0] not in ("0.0.0.0", "::"):  # hold: keep the old one
            if self._announced is not None and remote != self._announced:
                self._latched = None  # media moved: learn its new source
            self._announced = remote
            self._symmetric_hosts = symmetric_hosts
            self.remote = self._latched or remote
        self.payload_type = payload_type
        self.event_payload_type = event_payload_type

    # -- asyncio.DatagramProtocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = parse_rtp(data)
        except ValueError as exc:
            log.debug("rtp: ignoring a packet from %s: %s", addr, exc)
            return
        source = (addr[0], addr[1])
        if not self._negotiated:
            return  # before our SDP went out only a port scan can reach us: nothing to latch on
        if not self._accepts(source):
            self.packets_foreign += 1
            if self.packets_foreign == 1:
                log.debug("rtp: ignoring packets from %s (not the call's media source)", addr)
            return
        self.packets_in += 1
        if packet.payload_type in g711.CODEC_NAMES:
            for frame in self._buffer.push(g711.decode(packet.payload, packet.payload_type)):
                self._on_audio(frame)
        elif packet.payload_type == self.event_payload_type:
            event = telephone_event(packet.payload)
            if event is not None and event[1] and packet.timestamp not in self._reported_events:
                self._reported_events.add(packet.timestamp)
                self._on_dtmf(event[0])
        # anything else (comfort noise, video, a codec not negotiated) is not for us

    def _accepts(self, source: tuple[str, int]) -> bool:
        if source == self._announced or source == self._latched:
            return True
        if self._latched is None and source[0] in self._symmetric_hosts:
            self._latched = self.remote = source  # symmetric RTP: the caller behind NAT
            return True
        return False

    def error_received(self, exc: Exception) -> None:
        log.debug("rtp: %s", exc)

    # -- sending ------------------------------------------------------------------------------

    def send_audio(self, pcm: bytes, talkspurt_start: bool) -> None:
        """Send one 20 ms slin16 frame as G.711."""
        if self._transport is None or self.remote is None:
            return
        now = asyncio.get_running_loop().time()
        if self._last_sent is not None:
            step = FRAME_SAMPLES
            if talkspurt_start:
                # the clock kept running through the silence: skip its samples
                gap = round((now - self._last_sent) * SAMPLE_RATE / FRAME_SAMPLES)
                step = max(1, gap) * FRAME_SAMPLES
            self._timestamp = (self._timestamp + step) & 0xFFFFFFFF
            self._sequence = (self._sequence + 1) & 0xFFFF
        self._last_sent = now
        packet = RtpPacket(
            self.payload_type,
            talkspurt_start,
            self._sequence,
            self._timestamp,
            self._ssrc,
            g711.encode(pcm, self.payload_type),
        )
        self._transport.sendto(build_rtp(packet), self.remote)
        self.packets_out += 1

    def close(self) -> None:
        if self.packets_foreign:
            log.debug("rtp: %d packets from foreign sources ignored", self.packets_foreign)
        if self._transport is not None:
            self._transport.close()
