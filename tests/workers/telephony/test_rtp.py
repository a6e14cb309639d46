"""RTP (workers/telephony/rtp.py): packets, RFC 4733 events, the remote it latches on."""

from __future__ import annotations

import asyncio

import pytest

from tests.workers.telephony.support import HOST, open_peer, tone
from workers.telephony import g711
from workers.telephony.rtp import RtpPacket, RtpStream, build_rtp, parse_rtp, telephone_event


def test_rtp_parse_build_and_rfc4733() -> None:
    packet = RtpPacket(0, True, 65535, 2**32 - 1, 0xDEADBEEF, b"\x01\x02")
    assert parse_rtp(build_rtp(packet)) == packet
    # one CSRC, a header extension of one word and 3 bytes of padding
    raw = bytearray(build_rtp(RtpPacket(8, False, 7, 160, 1, b"")))
    raw[0] |= 0x01 | 0x10 | 0x20
    raw += b"\x00\x00\x00\x09" + b"\xbe\xde\x00\x01" + b"\x00" * 4 + b"abc" + b"\x00\x00\x03"
    parsed = parse_rtp(bytes(raw))
    assert (parsed.payload_type, parsed.payload) == (8, b"abc")
    for bad in (b"\x80\x00", b"\x40" + b"\x00" * 11):
        with pytest.raises(ValueError):
            parse_rtp(bad)
    assert telephone_event(bytes([11, 0x8A, 0x03, 0x20])) == ("#", True)
    assert telephone_event(bytes([5, 0x0A, 0x00, 0xA0])) == ("5", False)
    assert telephone_event(bytes([16, 0x80, 0, 0])) is None  # flash, not a key


async def test_rtp_takes_media_only_from_the_sdp_address() -> None:
    """Strict (the default): the first packet from anywhere is not latched on, whoever sends
    it; only the address and port of the SDP reach the call (issue 18, point 1)."""
    audio: list[bytes] = []
    stream = await RtpStream.open(HOST, audio.append, lambda _digit: None)
    caller, intruder = await open_peer(), await open_peer()
    try:
        for remote in (("pbx.example.org", 4000), (HOST, 0), (HOST, 65536)):
            with pytest.raises(ValueError):
                stream.configure(remote, 0, None)
        frame = g711.encode(tone(0.02, 1000), 0)
        bot = (HOST, stream.port)
        intruder.send(build_rtp(RtpPacket(0, True, 1, 0, 7, frame)), bot)  # a port scan
        await asyncio.sleep(0.05)
        assert (stream.remote, audio) == (None, [])  # nothing before our SDP
        stream.configure((HOST, caller.port), 0, None)
        # The intruder sends first, and keeps sending: none of it reaches the call.
        for seq in range(2, 5):
            intruder.send(build_rtp(RtpPacket(0, seq == 2, seq, seq * 160, 7, frame)), bot)
        await asyncio.sleep(0.05)
        caller.send(build_rtp(RtpPacket(0, True, 1, 0, 42, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, caller.port) and len(audio) == 1
        assert stream.packets_foreign == 3
        stream.send_audio(tone(0.02, 500), True)
        await asyncio.wait_for(caller.inbox.get(), 1)
        assert intruder.inbox.empty()
        # A re-INVITE (from the dialog's peer: sip/dialog.py) moving the media moves it.
        stream.configure((HOST, intruder.port), 8, None)
        intruder.send(build_rtp(RtpPacket(0, False, 9, 9 * 160, 7, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, intruder.port) and len(audio) == 2
    finally:
        stream.close()
        for peer in (caller, intruder):
            assert peer.transport is not None
            peer.transport.close()


async def test_symmetric_rtp_latches_on_the_first_packet_of_an_allowed_host() -> None:
    """Behind NAT the caller's packets do not come from the SDP's port: with symmetric RTP the
    first packet from an allowed host (the SDP's or the SIP peer's IP) is latched on and the
    bot's audio follows it; later sources are dropped (RTP bleed, CVE-2017-14099)."""
    audio: list[bytes] = []
    stream = await RtpStream.open(HOST, audio.append, lambda _digit: None)
    caller, intruder = await open_peer(), await open_peer()
    try:
        frame = g711.encode(tone(0.02, 1000), 0)
        bot = (HOST, stream.port)
        stream.configure((HOST, 9), 0, None, symmetric_hosts=frozenset({HOST}))
        caller.send(build_rtp(RtpPacket(0, True, 1, 0, 42, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, caller.port) and len(audio) == 1
        for seq in range(2, 5):
            intruder.send(build_rtp(RtpPacket(0, False, seq, seq * 160, 7, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, caller.port) and len(audio) == 1
        assert stream.packets_foreign == 3
        stream.send_audio(tone(0.02, 500), True)
        await asyncio.wait_for(caller.inbox.get(), 1)
        assert intruder.inbox.empty()
        # A re-INVITE with the same address keeps the latch; one moving the media relearns.
        stream.configure((HOST, 9), 8, None, symmetric_hosts=frozenset({HOST}))
        assert stream.remote == (HOST, caller.port)
        stream.configure((HOST, intruder.port), 0, None)
        intruder.send(build_rtp(RtpPacket(0, False, 9, 9 * 160, 7, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, intruder.port) and len(audio) == 2
        # Strict again (no symmetric hosts): a packet from another host's port is dropped.
        caller.send(build_rtp(RtpPacket(0, False, 10, 1600, 42, frame)), bot)
        await asyncio.sleep(0.05)
        assert len(audio) == 2
    finally:
        stream.close()
        for peer in (caller, intruder):
            assert peer.transport is not None
            peer.transport.close()
