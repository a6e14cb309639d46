"""The SIP adapter against a raw UDP attacker on 127.0.0.1 (issue 18, point 1): what a third
party that knows (or sniffed) a call's Call-ID and tags may no longer do — move its media, end
it, press its keys —, INVITEs never ACKed that held every call slot, an SDP pointing the bot's
RTP at any host, one source flooding. Bounded: a few dozen datagrams, seconds each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from domain.media import AudioFrame, Dtmf, Hangup
from tests.workers.telephony.sip.support import Calls, sip_server
from tests.workers.telephony.sip.test_server import RawCaller, raw_caller, sdp_target
from tests.workers.telephony.support import HOST, open_peer, tone
from workers.telephony import g711
from workers.telephony.rtp import RtpPacket, parse_rtp
from workers.telephony.sip.message import parse_message
from workers.telephony.sip.policy import SipPolicy
from workers.telephony.sip.server import SipServer


@contextlib.asynccontextmanager
async def attacker_on(server: SipServer, victim: RawCaller) -> AsyncIterator[RawCaller]:
    """Another socket on the same host that knows everything of the victim's dialog: Call-ID,
    From tag (RawCaller's is fixed), our To tag, the CSeq."""
    async with raw_caller(server, victim.call_id) as attacker:
        attacker.to_tag = victim.to_tag
        attacker.cseq = victim.cseq
        yield attacker


async def no_response(caller: RawCaller, timeout: float = 0.3) -> bool:
    try:
        await caller.response(timeout)
    except TimeoutError:
        return True
    return False


async def test_reinvite_from_a_third_party_does_not_move_the_media() -> None:
    calls = Calls()
    async with sip_server(calls) as server, raw_caller(server, "hijack-1") as caller:
        ok = await caller.answered_call()
        session = await calls.next()
        async with attacker_on(server, caller) as attacker:
            # Points the media at itself, with every header right but the source address.
            attacker.request("INVITE", attacker.offer(), cseq=2)
            refused = await attacker.response()
            assert refused.status == 481
            assert await no_response(attacker)  # no 200 OK, no SDP of ours
            # The bot's read-back still goes to the caller only.
            await session.play(tone(0.1, 500))
            await session.wait_played()
            await asyncio.sleep(0.1)
            assert attacker.rtp.inbox.empty()
            data, _ = await asyncio.wait_for(caller.rtp.inbox.get(), 1)
            assert parse_rtp(data).payload_type in (g711.PCMU, g711.PCMA)
        assert server.guard.refused.get("not_the_peer") == 1
        assert sdp_target(ok)  # the call is still up
        assert session.ended is None


async def test_bye_or_info_from_a_third_party_changes_nothing() -> None:
    calls = Calls()
    async with sip_server(calls) as server, raw_caller(server, "bye-1") as caller:
        await caller.answered_call()
        session = await calls.next()
        async with attacker_on(server, caller) as attacker:
            attacker.request("BYE", cseq=2)
            assert (await attacker.response()).status == 481
            attacker.request(
                "INFO", b"Signal=1\r\nDuration=100\r\n", cseq=3, ctype="application/dtmf-relay"
            )
            assert (await attacker.response()).status == 481
        await asyncio.sleep(0.1)
        assert session.ended is None and "bye-1" in server.dialogs
        assert not [e for e in calls.events["bye-1"] if isinstance(e, Dtmf | Hangup)]
        # From the caller's own socket, a BYE without our To tag is not the dialog's either.
        tag, caller.to_tag = caller.to_tag, "guessed"
        caller.request("BYE", cseq=2)
        assert (await caller.response()).status == 481
        caller.to_tag = tag
        # The caller's own requests: a stale CSeq is refused, a new one works, a retransmitted
        # INFO presses its key once.
        caller.request("INFO", b"Signal=7\r\n", cseq=5, ctype="application/dtmf-relay")
        assert (await caller.response()).status == 200
        caller.request("INFO", b"Signal=7\r\n", cseq=5, ctype="application/dtmf-relay")
        assert (await caller.response()).status == 200
        caller.request("BYE", cseq=4)
        assert (await caller.response()).status == 500
        caller.request("BYE", cseq=6)
        assert (await caller.response()).status == 200
        await asyncio.wait_for(calls.done["bye-1"].wait(), 2)
        assert [e for e in calls.events["bye-1"] if not isinstance(e, AudioFrame)] == [
            Dtmf("7"),
            Hangup("bye"),
        ]


async def test_invites_never_acked_do_not_hold_the_call_slots() -> None:
    """Twenty INVITEs never ACKed from one source: past its share they are refused at once,
    the answered ones end after the ACK timeout (one BYE each), and the next caller gets in."""
    calls = Calls()
    policy = SipPolicy(ack_timeout_s=1.0)
    async with (
        sip_server(calls, max_calls=20, policy=policy) as server,
        raw_caller(server, "flood-0") as attacker,
    ):
        for i in range(20):
            attacker.call_id, attacker.to_tag = f"flood-{i}", ""
            attacker.request("INVITE", attacker.offer())
        await asyncio.sleep(0.3)  # the answers, before any retransmission (T1 = 0.5 s)
        final: dict[str, int] = {}
        while not attacker.sip.inbox.empty():
            message = parse_message(attacker.sip.inbox.get_nowait()[0])
            if not message.is_request and message.status >= 200:
                final[message.call_id] = message.status
        answered = [call_id for call_id, status in final.items() if status == 200]
        assert len(final) == 20
        assert 0 < len(answered) <= policy.max_unconfirmed_per_source
        assert sorted(final.values()).count(503) == 20 - len(answered)
        assert set(server.dialogs) == set(answered)
        await asyncio.sleep(policy.ack_timeout_s + 0.5)
        assert server.dialogs == {} and server.calls_up == 0
        byes = []
        while not attacker.sip.inbox.empty():
            message = parse_message(attacker.sip.inbox.get_nowait()[0])
            if message.is_request and message.method == "BYE":
                byes.append(message.call_id)
        # One each, no retransmissions to a peer that never answered.
        assert sorted(byes) == sorted(answered)
        assert server.guard.refused.get("no_ack") == len(answered)
        # A caller now (the same host: the rate limit has refilled a token) gets through.
        async with raw_caller(server, "after-flood") as caller:
            await asyncio.sleep(1.0)
            await caller.answered_call()
            assert (await calls.next()).call_id == "after-flood"
    assert calls.sessions.empty()


async def test_sdp_outside_the_media_networks_is_refused() -> None:
    """An SDP `c=` outside the allowed networks cannot aim the bot's RTP at another host."""
    calls = Calls()
    outside = "192.0.2.55"  # TEST-NET-1: not in the default media networks
    async with sip_server(calls) as server, raw_caller(server, "aim-1") as caller:
        caller.request("INVITE", caller.offer(host=outside))
        assert (await caller.response()).status == 488
        assert "aim-1" not in server.dialogs
        # A call up: its own peer cannot move the media outside either (hold is fine).
        caller.call_id, caller.to_tag = "aim-2", ""
        await caller.answered_call()
        session = await calls.next()
        caller.request("INVITE", caller.offer(host=outside), cseq=2)
        assert (await caller.response()).status == 100
        assert (await caller.response()).status == 488
        caller.request("INVITE", caller.offer(host="0.0.0.0"), cseq=3)
        assert (await caller.response()).status == 100
        assert (await caller.response()).status == 200
        caller.request("ACK", cseq=3)
        caller.request("INVITE", caller.offer(), cseq=4)
        assert (await caller.response()).status == 100
        assert (await caller.response()).status == 200
        caller.request("ACK", cseq=4)
        await session.play(tone(0.04, 500))
        await session.wait_played()
        await asyncio.wait_for(caller.rtp.inbox.get(), 1)
        assert server.guard.refused.get("media_address") == 2


async def test_a_datagram_flood_from_one_source_is_dropped_unread() -> None:
    calls = Calls()
    policy = SipPolicy(packet_rate_per_s=20.0, packet_burst=40)
    async with sip_server(calls, policy=policy) as server:
        flooder = await open_peer()
        try:
            for i in range(300):
                options = (
                    f"OPTIONS sip:bot@{HOST}:{server.port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {HOST}:{flooder.port};branch=z9hG4bKf{i}\r\n"
                    f"From: <sip:x@{HOST}>;tag=f\r\nTo: <sip:bot@{HOST}>\r\n"
                    f"Call-ID: flood-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                )
                flooder.send(options.encode(), (HOST, server.port))
                if i % 20 == 19:
                    await asyncio.sleep(0.005)  # within the socket buffers: read, then judged
            await asyncio.sleep(0.5)
            answered = flooder.inbox.qsize()
            # The burst, and what the rate refilled in the second or so the flood took.
            assert 40 <= answered <= 70, answered
            assert server.guard.refused["packet_rate"] >= 200
        finally:
            assert flooder.transport is not None
            flooder.transport.close()


async def test_media_from_another_source_never_reaches_the_call() -> None:
    """The attacker sends RTP to the bot's port first (it read it in the 200 OK): the call
    hears only the caller."""
    calls = Calls()
    async with sip_server(calls) as server, raw_caller(server, "bleed-1") as caller:
        ok = await caller.answered_call()
        await calls.next()
        bot = sdp_target(ok)
        async with attacker_on(server, caller) as attacker:
            noise = g711.encode(tone(0.02, 3000), 0)
            for seq in range(10):
                attacker.send_rtp(RtpPacket(0, seq == 0, seq, seq * 160, 66, noise), bot)
            await asyncio.sleep(0.1)
            assert not [e for e in calls.events["bleed-1"] if isinstance(e, AudioFrame)]
            voice = g711.encode(tone(0.02, 1000), 0)
            caller.send_rtp(RtpPacket(0, True, 1, 0, 42, voice), bot)
            await asyncio.sleep(0.1)
            assert len([e for e in calls.events["bleed-1"] if isinstance(e, AudioFrame)]) == 1
