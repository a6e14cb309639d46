"""The AudioSocket adapter against the Asterisk-side test client, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from domain.media import FRAME_BYTES, AudioFrame, Dtmf, Hangup, MediaEvent, MediaSession
from tests.fakes.audiosocket_client import AudioSocketCaller, frame_rms
from workers.telephony.audiosocket import (
    KIND_AUDIO,
    KIND_UUID,
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
