"""The SIP server (workers/telephony/sip/server.py): transactions from a raw UDP caller."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator

import pytest

from domain.media import FRAME_BYTES, AudioFrame, Dtmf, Hangup
from tests.workers.telephony.sip.support import Calls, sip_server
from tests.workers.telephony.support import HOST, UdpPeer, open_peer, peak_hz, tone
from workers.telephony import g711
from workers.telephony.rtp import RtpPacket, build_rtp, parse_rtp
from workers.telephony.sip.message import SipMessage, parse_message
from workers.telephony.sip.sdp import parse_sdp
from workers.telephony.sip.server import SipServer


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
