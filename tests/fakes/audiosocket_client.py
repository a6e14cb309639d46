"""The Asterisk side of AudioSocket, for tests (Asterisk itself is not packaged in Debian).

It behaves like a phone line bridged by Asterisk: once connected it sends one 20 ms frame every
20 ms for the whole call (silence between the caller's turns), streams caller turns from WAV files
or PCM in real time, sends DTMF and hangs up; it records every frame the bot sends with its
arrival time (loop.time(), monotonic) so tests can measure latency and barge-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from domain.media import FRAME_BYTES, SAMPLE_RATE
from workers.telephony.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    KIND_UUID,
    encode_frame,
    read_frame,
)
from workers.telephony.playout import FRAME_S, split_frames

SILENCE = b"\x00" * FRAME_BYTES
# RMS (int16 units) above which a bot frame counts as speech rather than silence or dither.
SPEECH_RMS = 300.0


def load_slin8k(path: Path | str) -> bytes:
    """Any audio file (WAV, ...) as slin16, 8 kHz, mono."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[bytes] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().astype("<i2").tobytes())
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().astype("<i2").tobytes())
    return b"".join(chunks)


def frame_rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


@dataclass(frozen=True)
class BotFrame:
    at: float  # loop.time() when it arrived
    pcm: bytes

    @property
    def speech(self) -> bool:
        return frame_rms(self.pcm) >= SPEECH_RMS


class AudioSocketCaller:
    """One simulated call: `async with AudioSocketCaller(host, port) as call: ...`."""

    def __init__(self, host: str, port: int, call_uuid: uuid.UUID | str | None = None) -> None:
        self.host = host
        self.port = port
        self.call_uuid = uuid.UUID(str(call_uuid)) if call_uuid is not None else uuid.uuid4()
        self.frames: list[BotFrame] = []
        self.dtmf_sent: list[tuple[float, str]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._outbox: deque[bytes] = deque()
        self._turn_done: deque[tuple[int, asyncio.Future[float]]] = deque()
        self._sent = 0
        self._new_frame = asyncio.Condition()
        self._closed = asyncio.Event()
        self._hung_up_by_us = False
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> AudioSocketCaller:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.hangup()

    @property
    def call_id(self) -> str:
        return str(self.call_uuid)

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(encode_frame(KIND_UUID, self.call_uuid.bytes))
        await self._writer.drain()
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="caller send"),
            asyncio.create_task(self._receive_loop(), name="caller receive"),
        ]

    # -- the line -----------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        assert self._writer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        try:
            while not self._closed.is_set():
                pcm = self._outbox.popleft() if self._outbox else SILENCE
                self._writer.write(encode_frame(KIND_AUDIO, pcm))
                await self._writer.drain()
                self._sent += 1
                now = loop.time()
                while self._turn_done and self._turn_done[0][0] <= self._sent:
                    _, done = self._turn_done.popleft()
                    if not done.done():
                        done.set_result(now)
                deadline += FRAME_S
                await asyncio.sleep(max(0.0, deadline - loop.time()))
        except (ConnectionError, OSError):
            self._closed.set()

    async def _receive_loop(self) -> None:
        assert self._reader is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                frame = await read_frame(self._reader)
                if frame is None:
                    break
                kind, payload = frame
                if kind == KIND_AUDIO:
                    async with self._new_frame:
                        self.frames.append(BotFrame(loop.time(), payload))
                        self._new_frame.notify_all()
                elif kind == KIND_HANGUP:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self._closed.set()
            async with self._new_frame:
                self._new_frame.notify_all()
            for _, done in self._turn_done:
                if not done.done():
                    done.set_result(loop.time())

    # -- the caller ---------------------------------------------------------------------------

    async def say(self, audio: Path | str | bytes) -> float:
        """Stream a turn (a file, or slin16 8 kHz bytes) in real time; returns the loop time at
        which its last frame was sent (the caller's end of utterance)."""
        if self._closed.is_set():
            # Nothing would send it: waiting for its last frame would wait forever.
            raise ConnectionError("the call is closed")
        pcm = audio if isinstance(audio, bytes) else load_slin8k(audio)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        frames = split_frames(pcm)
        self._outbox.extend(frames)
        self._turn_done.append((self._sent + len(self._outbox), done))
        return await done

    async def silence(self, seconds: float) -> None:
        """Let the line carry silence (or what is already queued) for `seconds`."""
        await self.say(b"\x00" * (int(seconds * SAMPLE_RATE) * 2))

    async def dtmf(self, digit: str) -> None:
        if self._writer is None or self._closed.is_set():
            raise ConnectionError("the call is closed")
        self._writer.write(encode_frame(KIND_DTMF, digit.encode("ascii")))
        await self._writer.drain()
        self.dtmf_sent.append((asyncio.get_running_loop().time(), digit))

    async def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket (malformed-frame tests)."""
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def hangup(self) -> None:
        """Hang up from the caller's side (idempotent)."""
        if self._writer is not None and not self._closed.is_set():
            self._hung_up_by_us = True
            with contextlib.suppress(ConnectionError, OSError):
                self._writer.write(encode_frame(KIND_HANGUP))
                await self._writer.drain()
        self._closed.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()

    # -- what the bot did ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The call is over (the bot hung up or closed, or we did)."""
        return self._closed.is_set()

    @property
    def bot_hung_up(self) -> bool:
        return self._closed.is_set() and not self._hung_up_by_us

    async def wait_closed(self, timeout: float) -> None:
        await asyncio.wait_for(self._closed.wait(), timeout)

    def bot_audio(self, since: float | None = None, until: float | None = None) -> bytes:
        """Everything the bot sent (slin16 8 kHz), optionally between two loop times."""
        return b"".join(
            f.pcm
            for f in self.frames
            if (since is None or f.at >= since) and (until is None or f.at < until)
        )

    async def wait_for_bot_speech(self, timeout: float, since: float | None = None) -> float:
        """Loop time of the first speech frame from the bot after `since` (default: now)."""
        start = asyncio.get_running_loop().time() if since is None else since

        def found() -> BotFrame | None:
            return next((f for f in self.frames if f.at >= start and f.speech), None)

        async def wait() -> float:
            async with self._new_frame:
                while (frame := found()) is None:
                    if self._closed.is_set():
                        raise ConnectionError("the call ended before the bot spoke")
                    await self._new_frame.wait()
                return frame.at

        return await asyncio.wait_for(wait(), timeout)

    async def wait_for_bot_quiet(self, quiet_s: float, timeout: float) -> float:
        """Wait until the bot has sent no speech for quiet_s; returns the loop time of its last
        speech frame (or now, if it never spoke)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            speech = [f.at for f in self.frames if f.speech]
            last = speech[-1] if speech else loop.time()
            now = loop.time()
            if now - last >= quiet_s or self._closed.is_set():
                return last
            if now >= end:
                raise TimeoutError(f"the bot kept speaking for {timeout} s")
            await asyncio.sleep(min(quiet_s - (now - last), end - now) + 0.001)
