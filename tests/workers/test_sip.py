"""The SIP adapter: G.711 and RTP units, SIP transactions from a raw UDP caller, then real SIP
peers from Debian (sipp, baresip) calling it on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import shutil
import socket
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from activities.speech.tts import Tts
from domain.media import FRAME_BYTES, AudioFrame, Dtmf, Hangup, MediaEvent, MediaSession
from workers.telephony import g711
from workers.telephony.rtp import RtpPacket, RtpStream, build_rtp, parse_rtp, telephone_event
from workers.telephony.sip import (
    SdpNotAcceptable,
    SipMessage,
    SipParseError,
    SipServer,
    caller_number,
    parse_message,
    parse_sdp,
    serve_sip,
)

HOST = "127.0.0.1"
SIPP_SCENARIO = Path(__file__).resolve().parents[1] / "fakes" / "sipp" / "caller.xml"


def tone(seconds: float, freq: float, amplitude: int = 8000) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return (amplitude * np.sin(2 * math.pi * freq * t)).astype("<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def rms(pcm: bytes) -> float:
    x = samples(pcm)
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def peak_hz(pcm: bytes) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / 8000)[int(np.argmax(spectrum))])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- G.711, RTP, SIP parsing -------------------------------------------------------------------


@pytest.mark.parametrize("law", [g711.PCMU, g711.PCMA])
def test_g711_round_trip_within_the_segment_step(law: int) -> None:
    x = np.arange(-32768, 32768, 3, dtype=np.int32).astype("<i2")
    back = samples(g711.decode(g711.encode(x.tobytes(), law), law))
    error = np.abs(back - x.astype(np.float64))
    # logarithmic: at most ~1/16 of the magnitude (one step of 16 per segment), 16 near zero
    assert np.all(error <= np.maximum(np.abs(x.astype(np.float64)) / 15, 16))
    codes = bytes(range(256))
    again = g711.encode(g711.decode(codes, law), law)
    # every code decodes and re-encodes to itself (mu-law's two zeros both come back as 0xff)
    assert [i for i in range(256) if again[i] != i] == ([0x7F] if law == g711.PCMU else [])


def test_g711_reference_values() -> None:
    pcm = np.array([0, 1000, -1000, 32767, -32768], dtype="<i2").tobytes()
    assert g711.encode(pcm, g711.PCMU).hex() == "ffce4e8000"
    assert g711.encode(pcm, g711.PCMA).hex() == "d5fa7aaa2a"
    assert g711.silence(g711.PCMU, 2) == b"\xff\xff"
    with pytest.raises(ValueError, match=r"G\.711"):
        g711.encode(pcm, 18)


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


def test_sip_parsing_helpers() -> None:
    message = parse_message(
        b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        b"f: <sip:+33612345678@example.org>;tag=abc\r\n"
        b"t: <sip:bot@127.0.0.1>\r\n"
        b"i: call-1\r\n"
        b"CSeq: 4\r\n INVITE\r\n"
        b"l: 4\r\n\r\nbodyEXTRA"
    )
    assert (message.method, message.call_id, message.cseq) == ("INVITE", "call-1", (4, "INVITE"))
    assert message.body == b"body"
    assert caller_number(message.get("from") or "") == "+33612345678"
    assert caller_number('"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1') is None
    assert caller_number("<tel:0491000000>") == "0491000000"
    for garbage in (b"hello", b"GET / HTTP/1.1\r\n\r\n", b"OPTIONS sip:x SIP/2.0\r\n\r\n"):
        with pytest.raises(ValueError):
            parse_message(garbage)
    sdp = parse_sdp(
        b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18 8 0 96\r\n"
        b"a=rtpmap:96 telephone-event/8000\r\na=sendonly\r\nm=video 5000 RTP/AVP 99\r\n"
    )
    assert (sdp.address, sdp.port, sdp.g711_choices(), sdp.event_payload_type) == (
        "10.0.0.1",
        4000,
        [8, 0],
        96,
    )
    assert sdp.direction == "sendonly"
    assert parse_sdp(b"c=IN IP6 ::1\r\nm=audio 4000 RTP/AVP 0\r\n").address == "::1"
    # a host name would be resolved by every sendto; a bad port would close the RTP socket
    for c, port in (("pbx.example.org", "4000"), ("10.0.0.1", "0"), ("10.0.0.1", "70000")):
        with pytest.raises(SdpNotAcceptable):
            parse_sdp(f"c=IN IP4 {c}\r\nm=audio {port} RTP/AVP 0\r\n".encode())
    # a status that is not a number is an unreadable message, not a crash in the protocol
    for start in ("SIP/2.0 abc Bad", "SIP/2.0 99 Low", "SIP/2.0 ", "INVITE SIP/2.0"):
        with pytest.raises(SipParseError):
            parse_message(f"{start}\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n".encode())
    assert parse_message(b"SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n").status == 200


async def test_rtp_refuses_unusable_remotes_and_latches_on_the_first_source() -> None:
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
        assert (stream.remote, audio) == (None, [])  # nothing to latch on before our SDP
        stream.configure((HOST, 9), 0, None)  # the SDP says 9; NAT makes it caller.port
        caller.send(build_rtp(RtpPacket(0, True, 1, 0, 42, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, caller.port) and len(audio) == 1
        # RTP bleed: valid packets from elsewhere neither divert the media nor reach the call
        for seq in range(2, 5):
            intruder.send(build_rtp(RtpPacket(0, False, seq, seq * 160, 7, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, caller.port) and len(audio) == 1
        assert stream.packets_foreign == 3
        stream.send_audio(tone(0.02, 500), True)
        await asyncio.wait_for(caller.inbox.get(), 1)
        assert intruder.inbox.empty()
        # a re-INVITE with the same address keeps the latch; one moving the media relearns
        stream.configure((HOST, 9), 8, None)
        assert stream.remote == (HOST, caller.port)
        stream.configure((HOST, intruder.port), 0, None)
        intruder.send(build_rtp(RtpPacket(0, False, 9, 9 * 160, 7, frame)), bot)
        await asyncio.sleep(0.05)
        assert stream.remote == (HOST, intruder.port) and len(audio) == 2
    finally:
        stream.close()
        for peer in (caller, intruder):
            assert peer.transport is not None
            peer.transport.close()


# -- a raw UDP caller --------------------------------------------------------------------------


class UdpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)


async def open_peer() -> UdpPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(UdpPeer, local_addr=(HOST, 0))
    return peer


class RawCaller:
    """Just enough of a UAC to poke at the transactions one message at a time."""

    def __init__(self, server_port: int, sip: UdpPeer, rtp: UdpPeer, call_id: str) -> None:
        self.server = (HOST, server_port)
        self.sip = sip
        self.rtp = rtp
        self.call_id = call_id
        self.to_tag = ""
        self.cseq = 1

    def request(
        self,
        method: str,
        body: bytes = b"",
        *,
        cseq: int | None = None,
        ctype: str = "application/sdp",
    ) -> None:
        to = f"<sip:bot@{HOST}:{self.server[1]}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        lines = [
            f"{method} sip:bot@{HOST}:{self.server[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP {HOST}:{self.sip.port};branch=z9hG4bK{method}{cseq or self.cseq}"
            ";rport",
            f'From: "Test" <sip:0491000000@{HOST}:{self.sip.port}>;tag=caller1',
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq or self.cseq} {method}",
            f"Contact: <sip:0491000000@{HOST}:{self.sip.port}>",
            "Max-Forwards: 70",
        ]
        if body:
            lines.append(f"Content-Type: {ctype}")
        lines.append(f"Content-Length: {len(body)}")
        self.sip.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, self.server)

    def offer(self, payloads: str = "0 8 101", host: str = HOST) -> bytes:
        return (
            f"v=0\r\no=t 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            f"m=audio {self.rtp.port} RTP/AVP {payloads}\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
        ).encode()

    async def response(self, timeout: float = 2.0) -> SipMessage:
        while True:
            data, _ = await asyncio.wait_for(self.sip.inbox.get(), timeout)
            message = parse_message(data)
            if not message.is_request:
                if message.status >= 200 and message.cseq[1] == "INVITE":
                    to = message.get("to") or ""
                    self.to_tag = to.split("tag=")[1] if "tag=" in to else ""
                return message

    async def request_in(self, timeout: float = 3.0) -> SipMessage:
        data, _ = await asyncio.wait_for(self.sip.inbox.get(), timeout)
        message = parse_message(data)
        assert message.is_request
        return message

    def reply(self, request: SipMessage, status: int | str = 200) -> None:
        lines = [f"SIP/2.0 {status} OK"]
        lines += [f"Via: {v}" for v in request.get_all("via")]
        lines += [
            f"From: {request.get('from')}",
            f"To: {request.get('to')}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.get('cseq')}",
            "Content-Length: 0",
        ]
        self.sip.send(("\r\n".join(lines) + "\r\n\r\n").encode(), self.server)

    async def answered_call(self) -> SipMessage:
        self.request("INVITE", self.offer())
        assert (await self.response()).status == 100
        ok = await self.response()
        assert ok.status == 200
        self.request("ACK", cseq=1)
        return ok

    def send_rtp(self, packet: RtpPacket, remote: tuple[str, int]) -> None:
        self.rtp.send(build_rtp(packet), remote)


class Calls:
    """on_session recorder: each call's events, and a handle on its session."""

    def __init__(self) -> None:
        self.sessions: asyncio.Queue[MediaSession] = asyncio.Queue()
        self.events: dict[str, list[MediaEvent]] = {}
        self.done: dict[str, asyncio.Event] = {}

    async def __call__(self, session: MediaSession) -> None:
        self.events[session.call_id] = events = list[MediaEvent]()
        self.done[session.call_id] = done = asyncio.Event()
        await self.sessions.put(session)
        try:
            while not isinstance(event := await session.receive(), Hangup):
                events.append(event)
            events.append(event)
        finally:
            done.set()

    async def next(self, timeout: float = 3.0) -> MediaSession:
        return await asyncio.wait_for(self.sessions.get(), timeout)


@contextlib.asynccontextmanager
async def sip_server(
    calls: Calls, answer_delay_s: float = 0.0, max_calls: int = 20
) -> AsyncIterator[SipServer]:
    server = await serve_sip(HOST, 0, calls, answer_delay_s=answer_delay_s, max_calls=max_calls)
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def raw_caller(server: SipServer, call_id: str) -> AsyncIterator[RawCaller]:
    sip, rtp = await open_peer(), await open_peer()
    try:
        yield RawCaller(server.port, sip, rtp, call_id)
    finally:
        assert sip.transport is not None and rtp.transport is not None
        sip.transport.close()
        rtp.transport.close()


def sdp_target(message: SipMessage) -> tuple[str, int]:
    sdp = parse_sdp(message.body)
    return sdp.address, sdp.port


async def test_invite_answer_media_both_ways_and_bot_bye(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="workers.telephony")
    calls = Calls()
    async with sip_server(calls) as server, raw_caller(server, "raw-1") as caller:
        ok = await caller.answered_call()
        assert ok.get("content-type") == "application/sdp"
        answer = parse_sdp(ok.body)
        assert answer.g711_choices() == [0, 8]
        assert answer.event_payload_type == 101
        assert "rport=" in (ok.get("via") or "")
        session = await calls.next()
        assert (session.call_id, session.caller) == ("raw-1", "0491000000")
        bot = sdp_target(ok)
        # caller -> bot: 10 PCMU packets of a 1 kHz tone, then one key held with 3 end packets
        pcm = tone(0.2, 1000)
        for i in range(10):
            chunk = pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]
            caller.send_rtp(RtpPacket(0, i == 0, i, i * 160, 42, g711.encode(chunk, 0)), bot)
        for i, end in enumerate([False, False, True, True, True]):
            event = bytes([7, 0x8A if end else 0x0A]) + (160 * (i + 1)).to_bytes(2, "big")
            caller.send_rtp(RtpPacket(101, i == 0, 10 + i, 1600, 42, event), bot)
        caller.send_rtp(RtpPacket(101, True, 15, 3200, 42, bytes([10, 0x8A, 0, 160])), bot)
        await asyncio.sleep(0.2)
        events = calls.events["raw-1"]
        frames = [e.pcm for e in events if isinstance(e, AudioFrame)]
        assert len(frames) == 10
        assert peak_hz(b"".join(frames)) == pytest.approx(1000, abs=10)
        assert [e for e in events if isinstance(e, Dtmf)] == [Dtmf("7"), Dtmf("*")]
        # bot -> caller: paced PCMU with a proper RTP stream
        await session.play(tone(0.2, 500))
        await session.wait_played()
        await asyncio.sleep(0.3)
        await session.play(tone(0.1, 500))
        await session.wait_played()
        loop = asyncio.get_running_loop()
        packets: list[tuple[float, RtpPacket]] = []
        while not caller.rtp.inbox.empty():
            data, _ = caller.rtp.inbox.get_nowait()
            packets.append((loop.time(), parse_rtp(data)))
        assert len(packets) == 15
        rtp = [p for _, p in packets]
        assert {p.payload_type for p in rtp} == {0}
        assert len({p.ssrc for p in rtp}) == 1
        assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in itertools.pairwise(rtp))
        steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(rtp)]
        assert steps[:9] == [160] * 9 and steps[10:] == [160] * 4
        assert 160 * 15 <= steps[9] <= 160 * 25  # the 300 ms pause (and the last frame) skipped
        assert [p.marker for p in rtp].count(True) == 2 and rtp[0].marker and rtp[10].marker
        heard = b"".join(g711.decode(p.payload, 0) for p in rtp)
        assert peak_hz(heard) == pytest.approx(500, abs=10)
        # the bot hangs up: BYE in the dialog, our 200 ends it
        hangup = asyncio.create_task(session.hangup())
        bye = await caller.request_in()
        assert bye.method == "BYE" and bye.call_id == "raw-1"
        assert f"tag={caller.to_tag}" in (bye.get("from") or "")
        assert "tag=caller1" in (bye.get("to") or "")
        caller.reply(bye, status="abc")  # an unreadable reply: ignored, the BYE still pending
        await asyncio.sleep(0.05)
        assert "unreadable message" in caplog.text
        caller.reply(bye)
        await asyncio.wait_for(hangup, 2)
        await asyncio.wait_for(calls.done["raw-1"].wait(), 2)
        assert calls.events["raw-1"][-1] == Hangup("bot hangup")
        for _ in range(50):  # forgotten once the BYE is answered
            if "raw-1" not in server.dialogs:
                break
            await asyncio.sleep(0.01)
        assert "raw-1" not in server.dialogs
        assert caller.rtp.inbox.empty()  # no media after the BYE
    assert "0491000000" not in caplog.text  # the caller's number is personal data


async def test_caller_bye_retransmissions_options_and_unknown_calls() -> None:
    calls = Calls()
    async with sip_server(calls) as server, raw_caller(server, "raw-2") as caller:
        caller.request("OPTIONS", cseq=1)
        options = await caller.response()
        assert options.status == 200 and "INVITE" in (options.get("allow") or "")
        caller.cseq = 2
        await caller.answered_call()
        session = await calls.next()
        # a retransmitted INVITE gets the same 200 again and starts nothing new
        caller.request("INVITE", caller.offer())
        assert (await caller.response()).status == 200
        await asyncio.sleep(0.1)
        assert calls.sessions.empty()
        caller.sip.send(b"\x00\xffnot sip at all", caller.server)
        caller.request(
            "INFO", b"Signal=9\r\nDuration=100\r\n", cseq=3, ctype="application/dtmf-relay"
        )
        assert (await caller.response()).status == 200
        caller.request("SUBSCRIBE", cseq=4)
        assert (await caller.response()).status == 501
        caller.request("BYE", cseq=5)
        assert (await caller.response()).status == 200
        await asyncio.wait_for(calls.done[session.call_id].wait(), 2)
        assert calls.events[session.call_id][-2:] == [Dtmf("9"), Hangup("bye")]
        assert await session.receive() == Hangup("bye")
        caller.request("BYE", cseq=6)
        assert (await caller.response()).status == 481


async def test_cancel_while_ringing() -> None:
    calls = Calls()
    async with (
        sip_server(calls, answer_delay_s=0.5) as server,
        raw_caller(server, "raw-3") as caller,
    ):
        caller.request("INVITE", caller.offer())
        assert (await caller.response()).status == 100
        assert (await caller.response()).status == 180
        caller.request("CANCEL", cseq=1)
        statuses = {(await caller.response()).status, (await caller.response()).status}
        assert statuses == {200, 487}
        caller.request("ACK", cseq=1)
        await asyncio.sleep(0.6)
        assert calls.sessions.empty()  # never answered, never handed to the dialogue


async def test_offer_without_g711_is_refused_and_offerless_invite_gets_our_offer() -> None:
    calls = Calls()
    async with sip_server(calls) as server, raw_caller(server, "raw-4") as caller:
        caller.request("INVITE", caller.offer("18 9"))
        assert (await caller.response()).status == 488
        caller.call_id, caller.to_tag = "raw-5", ""
        caller.request("INVITE")
        assert (await caller.response()).status == 100
        ok = await caller.response()
        offer = parse_sdp(ok.body)
        assert (offer.g711_choices(), offer.event_payload_type) == ([0, 8], 101)
        caller.request("ACK", caller.offer("8 101"), cseq=1)
        session = await calls.next()
        await session.play(tone(0.04, 500))
        await session.wait_played()
        data, _ = await asyncio.wait_for(caller.rtp.inbox.get(), 1)
        assert parse_rtp(data).payload_type == 8  # the codec of the answer in the ACK
        # a re-INVITE gets a new SDP version
        caller.request("INVITE", caller.offer("0 101"), cseq=2)
        assert (await caller.response()).status == 100
        again = await caller.response()
        assert again.status == 200 and again.body.split(b"\r\n")[1] != ok.body.split(b"\r\n")[1]
        caller.request("ACK", cseq=2)
        await session.hangup()
        bye = await caller.request_in()
        caller.reply(bye)
        # an address the RTP could not be sent to without a DNS lookup, or a port out of range
        for call_id, unusable in (
            ("raw-6", caller.offer(host="pbx.example.org")),
            ("raw-7", caller.offer().replace(f"audio {caller.rtp.port}".encode(), b"audio 70000")),
        ):
            caller.call_id, caller.to_tag = call_id, ""
            caller.request("INVITE", unusable)
            assert (await caller.response()).status == 488
        assert "raw-6" not in server.dialogs and "raw-7" not in server.dialogs


async def test_calls_beyond_max_calls_get_503() -> None:
    calls = Calls()
    async with (
        sip_server(calls, max_calls=1) as server,
        raw_caller(server, "cap-1") as first,
        raw_caller(server, "cap-2") as second,
    ):
        await first.answered_call()
        await calls.next()
        second.request("INVITE", second.offer())
        busy = await second.response()
        assert busy.status == 503 and busy.get("retry-after")
        second.request("ACK", cseq=1)
        await asyncio.sleep(0.1)
        assert calls.sessions.empty() and "cap-2" not in server.dialogs
        # the first call ends: room again
        first.request("BYE", cseq=2)
        assert (await first.response()).status == 200
        second.call_id, second.to_tag = "cap-3", ""
        await second.answered_call()
        assert (await calls.next()).call_id == "cap-3"


# -- real SIP peers ----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) not installed")
async def test_sipp_builtin_uac_call() -> None:
    calls = Calls()
    async with sip_server(calls) as server:
        proc = await asyncio.create_subprocess_exec(
            "sipp", f"{HOST}:{server.port}", "-sn", "uac", "-m", "1", "-s", "bot",
            "-i", HOST, "-p", str(free_udp_port()), "-nostdin", "-timeout", "15", "-timeout_error",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
        session = await calls.next()
        await asyncio.wait_for(calls.done[session.call_id].wait(), 2)
        assert calls.events[session.call_id][-1] == Hangup("bye")


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) not installed")
async def test_sipp_scenario_streams_caller_audio_and_dtmf(tmp_path: Path) -> None:
    (tmp_path / "caller.pcmu").write_bytes(g711.encode(tone(1.0, 1000), g711.PCMU))
    calls = Calls()
    async with sip_server(calls) as server:
        proc = await asyncio.create_subprocess_exec(
            "sipp", f"{HOST}:{server.port}", "-sf", str(SIPP_SCENARIO), "-m", "1", "-s", "bot",
            "-i", HOST, "-p", str(free_udp_port()), "-mp", str(free_udp_port() & ~1),
            "-nostdin", "-timeout", "15", "-timeout_error",
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
        session = await calls.next()
        await asyncio.wait_for(calls.done[session.call_id].wait(), 2)
    assert session.caller == "0612345678"
    events = calls.events[session.call_id]
    loud = [e.pcm for e in events if isinstance(e, AudioFrame) and rms(e.pcm) > 1000]
    assert 48 <= len(loud) <= 50
    assert peak_hz(b"".join(loud)) == pytest.approx(1000, abs=10)
    assert [e for e in events if not isinstance(e, AudioFrame)] == [Dtmf("5"), Hangup("bye")]


class Baresip:
    """baresip run headless from a temporary config: the caller's audio from a WAV (aufile),
    what it hears dumped to WAV (sndfile), driven over its ctrl_tcp socket."""

    def __init__(self, workdir: Path, source: Path) -> None:
        self.dir = workdir
        self.ctrl_port = free_tcp_port()
        (workdir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen {HOST}:{free_udp_port()}",
                    "audio_player aubridge,nil",  # no sound card: sndfile records instead
                    f"audio_source aufile,{source}",
                    "ausrc_srate 8000",
                    "auplay_srate 8000",
                    "ausrc_channels 1",
                    "auplay_channels 1",
                    "rtp_timeout 0",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen {HOST}:{self.ctrl_port}",
                    f"snd_path {workdir}",
                    "",
                ]
            )
        )
        (workdir / "accounts").write_text(f"<sip:0612345678@{HOST}>;regint=0;audio_codecs=PCMA\n")
        self.events: list[dict[str, object]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "baresip", "-f", str(self.dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=open(self.dir / "baresip.log", "wb"),  # noqa: SIM115 - the child owns it
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(100):
            try:
                self._reader, self._writer = await asyncio.open_connection(HOST, self.ctrl_port)
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"baresip did not open ctrl_tcp: {self.log()}")

    def log(self) -> str:
        return (self.dir / "baresip.log").read_text(errors="replace")[-3000:]

    async def command(self, command: str, params: str = "") -> None:
        assert self._writer is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._writer.write(f"{len(body)}:".encode() + body + b",")
        await self._writer.drain()

    async def wait_event(self, kind: str, timeout: float) -> dict[str, object]:
        assert self._reader is not None

        async def read() -> dict[str, object]:
            assert self._reader is not None
            while True:
                length = int((await self._reader.readuntil(b":"))[:-1])
                message = json.loads((await self._reader.readexactly(length + 1))[:-1])
                if message.get("event"):
                    self.events.append(message)
                    if message.get("type") == kind:
                        return message

        return await asyncio.wait_for(read(), timeout)

    async def stop(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):
                await self.command("quit")
            self._writer.close()
        if self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def heard(self) -> bytes:
        """What baresip received from the bot (sndfile's decode dump), slin16 8 kHz."""
        dumps = sorted(self.dir.glob("dump-*-dec.wav"))
        assert dumps, f"no sndfile dump: {self.log()}"
        with wave.open(str(dumps[-1])) as wav:
            assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
            return wav.readframes(wav.getnframes())


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm)


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (baresip-core) not installed")
async def test_baresip_call_audio_both_ways_dtmf_and_bot_hangup(tmp_path: Path) -> None:
    greeting = Tts().synthesize("Bonjour, vous êtes bien au service des encombrants.")
    # the caller: silence while the bot greets, a 700 Hz tone, then silence until the bot hangs
    # up (aufile ends the call when the file ends: it must outlast the dialogue)
    caller_pcm = b"\x00" * 16000 * 3 + tone(1.0, 700) + b"\x00" * 16000 * 4
    write_wav(tmp_path / "caller.wav", caller_pcm)
    got_digit = asyncio.Event()

    async def bot(session: MediaSession) -> None:
        heard: list[MediaEvent] = []
        await session.play(greeting)
        while not isinstance(event := await session.receive(), Hangup):
            heard.append(event)
            if isinstance(event, Dtmf):
                got_digit.set()
                await session.play(tone(0.3, 440))
                await session.wait_played()
                await session.hangup()
        bot_heard.extend(heard)

    bot_heard: list[MediaEvent] = []
    calls: list[MediaSession] = []

    async def on_session(session: MediaSession) -> None:
        calls.append(session)
        await bot(session)

    server = await serve_sip(HOST, 0, on_session)
    phone = Baresip(tmp_path, tmp_path / "caller.wav")
    try:
        await phone.start()
        await phone.command("dial", f"sip:bot@{HOST}:{server.port}")
        await phone.wait_event("CALL_ESTABLISHED", 5)
        await asyncio.sleep(len(greeting) / 16000 + 1.6)  # greeting played, tone under way
        await phone.command("sndcode", "1")
        await asyncio.wait_for(got_digit.wait(), 3)
        await phone.wait_event("CALL_CLOSED", 5)
    finally:
        await phone.stop()
        await server.close()
    assert calls[0].caller == "0612345678"
    # baresip -> bot: the tone, once, about a second long, at 700 Hz (through PCMA)
    loud = [e.pcm for e in bot_heard if isinstance(e, AudioFrame) and rms(e.pcm) > 1000]
    assert 35 <= len(loud) <= 51, phone.log()
    assert peak_hz(b"".join(loud)) == pytest.approx(700, abs=15)
    assert [e for e in bot_heard if isinstance(e, Dtmf)] == [Dtmf("1")]
    # bot -> baresip: the TTS greeting, sample for sample up to G.711 and jitter buffering
    heard = samples(phone.heard())
    reference = samples(g711.decode(g711.encode(greeting, g711.PCMA), g711.PCMA))
    probe = reference[4000:12000]  # one second from inside the greeting
    corr = np.correlate(heard, probe, mode="valid")
    best = int(np.argmax(corr))
    window = heard[best : best + probe.size]
    similarity = float(np.dot(window, probe) / (np.linalg.norm(window) * np.linalg.norm(probe)))
    assert similarity > 0.9, phone.log()
    assert peak_hz(phone.heard()[-4000:]) == pytest.approx(440, abs=15)  # the goodbye tone
    assert any(e.get("type") == "CALL_CLOSED" for e in phone.events)
