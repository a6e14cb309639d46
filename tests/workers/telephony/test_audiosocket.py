"""The AudioSocket adapter against the Asterisk-side test client, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from domain.media import FRAME_BYTES, AudioFrame, Dtmf, Hangup, MediaEvent, MediaSession
from tests.fakes.audiosocket_client import AudioSocketCaller, frame_rms
from workers.telephony.audiosocket import (
    KIND_AUDIO,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketLimits,
    AudioSocketServer,
    encode_frame,
    serve_audiosocket,
)
from workers.telephony.playout import OnSession, split_frames

HOST = "127.0.0.1"


def tone(seconds: float, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return (amplitude * np.sin(2 * math.pi * freq * t)).astype("<i2").tobytes()


class Recorder:
    """An on_session that records what it sees and lets the test drive the session."""

    def __init__(self) -> None:
        self.sessions: asyncio.Queue[MediaSession] = asyncio.Queue()
        self.events: dict[str, list[MediaEvent]] = {}
        self.finished: dict[str, asyncio.Event] = {}

    async def __call__(self, session: MediaSession) -> None:
        self.events[session.call_id] = events = []
        self.finished[session.call_id] = done = asyncio.Event()
        await self.sessions.put(session)
        try:
            while True:
                event = await session.receive()
                events.append(event)
                if isinstance(event, Hangup):
                    return
        finally:
            done.set()

    async def next_session(self, timeout: float = 2.0) -> MediaSession:
        return await asyncio.wait_for(self.sessions.get(), timeout)


@contextlib.asynccontextmanager
async def serving(on_session: OnSession) -> AsyncIterator[AudioSocketServer]:
    server = await serve_audiosocket(HOST, 0, on_session)
    try:
        yield server
    finally:
        await server.close()


async def test_uuid_frame_gives_the_call_id_and_audio_dtmf_arrive_in_order() -> None:
    recorder = Recorder()
    call_uuid = uuid.UUID("6f1c2c3e-9a4b-4d2e-8f00-0123456789ab")
    async with serving(recorder) as server:
        assert server.port > 0
        async with AudioSocketCaller(HOST, server.port, call_uuid) as call:
            session = await recorder.next_session()
            assert session.call_id == "6f1c2c3e-9a4b-4d2e-8f00-0123456789ab"
            assert session.caller is None
            await call.say(tone(0.1))
            await call.dtmf("5")
            await call.dtmf("#")
            await asyncio.sleep(0.1)
        await asyncio.wait_for(recorder.finished[session.call_id].wait(), 2)
    events = recorder.events[session.call_id]
    assert all(len(e.pcm) == FRAME_BYTES for e in events if isinstance(e, AudioFrame))
    digits = [e.digit for e in events if isinstance(e, Dtmf)]
    assert digits == ["5", "#"]
    loud = [
        i for i, e in enumerate(events) if isinstance(e, AudioFrame) and frame_rms(e.pcm) > 1000
    ]
    assert len(loud) == 5  # 100 ms of tone = five 20 ms frames
    assert loud[-1] < events.index(Dtmf("5"))
    assert events[-1] == Hangup("hangup")


async def test_odd_sized_audio_payloads_are_recut_into_20ms_frames() -> None:
    recorder = Recorder()
    async with serving(recorder) as server:
        _reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(encode_frame(KIND_UUID, uuid.uuid4().bytes))
        pcm = tone(0.1)  # 1600 bytes, sent as 3 uneven pieces
        for piece in (pcm[:100], pcm[100:1000], pcm[1000:]):
            writer.write(encode_frame(KIND_AUDIO, piece))
        writer.write(encode_frame(0x00))
        await writer.drain()
        session = await recorder.next_session()
        await asyncio.wait_for(recorder.finished[session.call_id].wait(), 2)
        writer.close()
    frames = [e.pcm for e in recorder.events[session.call_id] if isinstance(e, AudioFrame)]
    assert b"".join(frames) == pcm
    assert [len(f) for f in frames] == [FRAME_BYTES] * 5


async def test_caller_hangup_is_sticky_and_ends_the_handler() -> None:
    seen: list[MediaEvent] = []

    async def handler(session: MediaSession) -> None:
        while not isinstance(event := await session.receive(), Hangup):
            pass
        seen.append(event)
        seen.append(await session.receive())
        seen.append(await session.receive())

    async with serving(handler) as server:
        call = AudioSocketCaller(HOST, server.port)
        await call.connect()
        await call.silence(0.06)
        await call.hangup()
        for _ in range(100):
            if len(seen) == 3:
                break
            await asyncio.sleep(0.02)
    assert seen == [Hangup("hangup")] * 3


async def test_bot_hangup_sends_a_hangup_frame_and_closes() -> None:
    events: list[MediaEvent] = []

    async def handler(session: MediaSession) -> None:
        await session.play(tone(0.1))
        await session.wait_played()
        await session.hangup()
        await session.hangup()  # idempotent
        events.append(await session.receive())

    async with serving(handler) as server:
        call = AudioSocketCaller(HOST, server.port)
        await call.connect()
        await call.wait_closed(3)
        assert call.bot_hung_up
        assert len(call.frames) == 5
        await call.hangup()
    assert events == [Hangup("bot hangup")]


async def test_handler_return_hangs_up_and_a_failing_handler_does_not_kill_the_server() -> None:
    calls = 0

    async def handler(session: MediaSession) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("dialogue bug")
        # the second one returns at once: the adapter hangs up for it

    async with serving(handler) as server:
        for _ in range(2):
            call = AudioSocketCaller(HOST, server.port)
            await call.connect()
            await call.wait_closed(3)
            assert call.bot_hung_up
            await call.hangup()
    assert calls == 2


@pytest.mark.parametrize(
    ("garbage", "why"),
    [
        (encode_frame(0x42, b"xx"), "unknown frame type"),
        (bytes([KIND_AUDIO]) + (60000).to_bytes(2, "big") + b"\x00" * 10, "oversized length"),
        (bytes([KIND_AUDIO]) + (320).to_bytes(2, "big") + b"\x00" * 10, "truncated payload"),
        (encode_frame(KIND_AUDIO, b"\x00" * 321), "odd-length audio"),
    ],
)
async def test_malformed_frames_close_that_call_only(garbage: bytes, why: str) -> None:
    recorder = Recorder()
    async with serving(recorder) as server:
        good = AudioSocketCaller(HOST, server.port)
        await good.connect()
        good_session = await recorder.next_session()
        bad = AudioSocketCaller(HOST, server.port)
        await bad.connect()
        bad_session = await recorder.next_session()
        await bad.send_raw(garbage)
        if why == "truncated payload":
            assert bad._writer is not None
            bad._writer.write_eof()  # the rest of the frame never comes
        await asyncio.wait_for(recorder.finished[bad_session.call_id].wait(), 3)
        assert recorder.events[bad_session.call_id][-1] == Hangup("connection closed")
        await bad.wait_closed(3)
        # the other call is untouched: it still sends and receives
        await good_session.play(tone(0.06))
        await good.wait_for_bot_speech(2)
        await good.dtmf("1")
        await asyncio.sleep(0.1)
        assert Dtmf("1") in recorder.events[good_session.call_id]
        assert not recorder.finished[good_session.call_id].is_set()
        await good.hangup()
        await bad.hangup()


async def test_first_frame_must_be_the_uuid() -> None:
    recorder = Recorder()
    async with serving(recorder) as server:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(encode_frame(KIND_AUDIO, b"\x00" * FRAME_BYTES))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the server
        writer.close()
        assert recorder.sessions.empty()
        # ... and the server still takes calls
        async with AudioSocketCaller(HOST, server.port):
            await recorder.next_session()


async def test_playout_is_paced_at_20ms_without_drift() -> None:
    played = asyncio.Event()
    timing: dict[str, float] = {}

    async def handler(session: MediaSession) -> None:
        loop = asyncio.get_running_loop()
        timing["start"] = loop.time()
        await session.play(tone(1.0))
        await session.play(tone(1.0, freq=660))  # queued behind the first, no gap
        assert session.playing
        await session.wait_played()
        timing["played"] = loop.time()
        assert not session.playing
        played.set()
        await session.receive()

    async with serving(handler) as server, AudioSocketCaller(HOST, server.port) as call:
        await asyncio.wait_for(played.wait(), 5)
        await asyncio.sleep(0.05)
        arrivals = [f.at for f in call.frames]
    assert len(arrivals) == 100
    span = arrivals[-1] - arrivals[0]
    # 99 periods of 20 ms; a sleep(0.02) loop would drift well past this on a busy machine
    assert span == pytest.approx(1.98, abs=0.06)
    gaps = np.diff(arrivals)
    assert float(np.median(gaps)) == pytest.approx(0.02, abs=0.004)
    # no burst: at any point, no more than 2 frames ahead of the 20 ms schedule
    ahead = [(i * 0.02) - (t - arrivals[0]) for i, t in enumerate(arrivals)]
    assert max(ahead) < 0.045
    assert timing["played"] - timing["start"] == pytest.approx(2.0, abs=0.08)


async def test_stop_playing_cuts_the_prompt_at_once() -> None:
    stopped = asyncio.Event()
    timing: dict[str, float] = {}

    async def handler(session: MediaSession) -> None:
        loop = asyncio.get_running_loop()
        await session.play(tone(3.0))
        await asyncio.sleep(0.3)
        session.stop_playing()
        timing["stop"] = loop.time()
        assert not session.playing
        await asyncio.wait_for(session.wait_played(), 0.01)
        stopped.set()
        await asyncio.sleep(0.3)
        await session.play(tone(0.1, freq=880))  # speaks again after the cut
        await session.wait_played()
        await session.receive()

    async with serving(handler) as server, AudioSocketCaller(HOST, server.port) as call:
        await asyncio.wait_for(stopped.wait(), 3)
        await asyncio.sleep(0.5)
        frames = list(call.frames)
    after_stop = [f for f in frames if f.at > timing["stop"] + 0.04]
    before = [f for f in frames if f.at <= timing["stop"] + 0.04]
    assert 12 <= len(before) <= 18  # ~300 ms of a 3 s prompt
    assert len(after_stop) == 5  # only the 100 ms prompt played after the cut
    assert after_stop[0].at - timing["stop"] == pytest.approx(0.3, abs=0.06)


async def test_play_pads_the_last_frame_with_silence() -> None:
    async def handler(session: MediaSession) -> None:
        await session.play(b"\x01\x02" * 50)
        await session.wait_played()
        await session.receive()

    async with serving(handler) as server, AudioSocketCaller(HOST, server.port) as call:
        await asyncio.sleep(0.15)
        assert [f.pcm for f in call.frames] == [b"\x01\x02" * 50 + b"\x00" * 220]
    with pytest.raises(ValueError, match="even"):
        split_frames(b"\x00" * 3)


async def test_echo_session_round_trip() -> None:
    """An echo bot: plays back each caller frame; the caller hears its own tone."""

    async def echo(session: MediaSession) -> None:
        while True:
            event = await session.receive()
            if isinstance(event, Hangup):
                return
            if isinstance(event, AudioFrame):
                await session.play(event.pcm)
            elif event.digit == "#":
                await session.hangup()

    async with serving(echo) as server:
        call = AudioSocketCaller(HOST, server.port)
        await call.connect()
        sent = tone(0.4, freq=500)
        end = await call.say(sent)
        first = await call.wait_for_bot_speech(2, since=end - 0.5)
        assert first < end  # echoed while the caller was still talking
        await call.silence(0.1)
        heard = call.bot_audio()
        # the loudest 0.4 s of what came back is the tone sent (same samples, same order)
        start = heard.find(sent[:FRAME_BYTES])
        assert start >= 0
        assert heard[start : start + len(sent)] == sent
        await call.dtmf("#")
        await call.wait_closed(2)
        assert call.bot_hung_up
        await call.hangup()


async def test_server_close_hangs_up_live_calls() -> None:
    recorder = Recorder()
    server = await serve_audiosocket(HOST, 0, recorder)
    call = AudioSocketCaller(HOST, server.port)
    await call.connect()
    session = await recorder.next_session()
    await server.close()
    await call.wait_closed(2)
    assert call.bot_hung_up
    assert recorder.events[session.call_id][-1] == Hangup("bot hangup")
    await call.hangup()
    with pytest.raises(OSError):
        await asyncio.open_connection(HOST, server.port)


# --------------------------------------------------------------------------- admission (issue 18)


async def uuid_call(port: int) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    call_id = str(uuid.uuid4())
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(encode_frame(KIND_UUID, uuid.UUID(call_id).bytes))
    await writer.drain()
    return call_id, reader, writer


async def refused_at_once(reader: asyncio.StreamReader) -> bool:
    """A hangup frame, then the end of the stream."""
    try:
        data = await asyncio.wait_for(reader.read(), 2)
    except ConnectionResetError:
        return False
    return data == encode_frame(KIND_HANGUP)


@contextlib.asynccontextmanager
async def limited(
    on_session: OnSession, limits: AudioSocketLimits, refused: list[tuple[str, str]]
) -> AsyncIterator[AudioSocketServer]:
    async def on_refused(call_id: str, reason: str) -> None:
        refused.append((call_id, reason))

    server = await serve_audiosocket(HOST, 0, on_session, limits=limits, on_refused=on_refused)
    try:
        yield server
    finally:
        await server.close()


async def test_calls_past_the_cap_are_refused_to_the_agents() -> None:
    """Each UUID starts a live call: past `max_calls` the next one gets a hangup frame at once
    and is reported (the dialplan's route then sends it to a person)."""
    rec = Recorder()
    refused: list[tuple[str, str]] = []
    limits = AudioSocketLimits(max_calls=2)
    async with limited(rec, limits, refused) as server:
        first, _, w1 = await uuid_call(server.port)
        second, _, w2 = await uuid_call(server.port)
        assert {(await rec.next_session()).call_id for _ in range(2)} == {first, second}
        third, reader, w3 = await uuid_call(server.port)
        assert await refused_at_once(reader)
        assert refused == [(third, "max_calls")]
        assert rec.sessions.empty()
        w1.close()  # a call ends: room again
        await asyncio.wait_for(rec.finished[first].wait(), 2)
        fourth, _, w4 = await uuid_call(server.port)
        assert (await rec.next_session()).call_id == fourth
        for w in (w2, w3, w4):
            w.close()


async def test_call_rate_is_bounded() -> None:
    rec = Recorder()
    refused: list[tuple[str, str]] = []
    async with limited(rec, AudioSocketLimits(calls_per_s=0.5, burst=3), refused) as server:
        writers = []
        for _ in range(5):
            _, _, writer = await uuid_call(server.port)
            writers.append(writer)
        await asyncio.sleep(0.2)
        assert rec.sessions.qsize() == 3
        assert [reason for _, reason in refused] == ["call_rate", "call_rate"]
        for writer in writers:
            writer.close()


async def test_only_the_allowed_peers_may_connect() -> None:
    rec = Recorder()
    refused: list[tuple[str, str]] = []
    limits = AudioSocketLimits(peers=["10.99.0.0/16", "pbx.invalid"])
    async with limited(rec, limits, refused) as server:
        _, reader, writer = await uuid_call(server.port)
        try:
            data = await asyncio.wait_for(reader.read(), 2)
        except ConnectionResetError:
            data = b""
        assert data == b""  # closed unread: no call, no workflow
        assert rec.sessions.empty() and refused == []
        assert limits.refused == {"peer": 1}
        writer.close()
    # The loopback allowed: the call goes through.
    async with limited(rec, AudioSocketLimits(peers=["127.0.0.0/8"]), refused) as server:
        call_id, _, writer = await uuid_call(server.port)
        assert (await rec.next_session()).call_id == call_id
        writer.close()


async def test_connections_that_never_send_a_uuid_are_bounded() -> None:
    rec = Recorder()
    limits = AudioSocketLimits(max_calls=1, max_pending=2)
    async with limited(rec, limits, []) as server:
        # max_calls + max_pending connections may wait for their UUID; the next is closed.
        idle = [await asyncio.open_connection(HOST, server.port) for _ in range(4)]
        await asyncio.sleep(0.1)
        reader = idle[3][0]
        assert await asyncio.wait_for(reader.read(), 2) == b""
        assert limits.refused == {"connections": 1}
        for _, writer in idle:
            writer.close()


async def test_frames_carry_their_arrival_not_the_time_they_are_read() -> None:
    """The dialogue reads the queue late while it works: when the caller spoke is a frame's
    arrival (AudioFrame.at), stamped as the adapter delivers it."""
    read: list[tuple[AudioFrame, float]] = []
    done = asyncio.Event()

    async def late_reader(session: MediaSession) -> None:
        await asyncio.sleep(0.5)
        try:
            while not isinstance(event := await session.receive(), Hangup):
                if isinstance(event, AudioFrame):
                    read.append((event, time.monotonic()))
        finally:
            done.set()

    async with serving(late_reader) as server:
        async with AudioSocketCaller(HOST, server.port) as call:
            sent = time.monotonic()
            await call.say(tone(0.1))
            await asyncio.sleep(0.7)
        await asyncio.wait_for(done.wait(), 2)
    tone_frames = [(f, when) for f, when in read if frame_rms(f.pcm) > 1000]
    assert len(tone_frames) == 5  # the caller's line sends silence around the tone
    for frame, when in tone_frames:
        assert sent <= frame.at <= sent + 0.3
        assert when - frame.at >= 0.2
