"""The part of a MediaSession that does not depend on the wire: paced playout and inbound events.

Both adapters (AudioSocket, SIP/RTP) subclass PacedSession and only say how one 20 ms frame and
the bot's hangup go out; the queueing, barge-in cut, drift-free 20 ms schedule and the "Hangup
is sticky" rule live here once. The bot paces its own playout (rather than writing a whole
prompt at once) so that stop_playing() can cut it the moment the caller speaks.

SessionTasks runs the dialogue callback once per call and hangs up whatever it leaves up.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from domain.media import FRAME_BYTES, FRAME_MS, AudioFrame, Dtmf, Hangup, MediaEvent, MediaSession

log = logging.getLogger(__name__)

FRAME_S = FRAME_MS / 1000
# Behind schedule by more than this (event loop stalled), restart the schedule from now instead
# of bursting the backlog: a far end's jitter buffer copes with a gap better than with a burst.
MAX_LAG_S = 0.1
# Ten minutes of caller audio; past it the dialogue is not reading and the oldest frames go.
MAX_INBOUND_EVENTS = 30_000

OnSession = Callable[[MediaSession], Awaitable[None]]


def split_frames(pcm: bytes) -> list[bytes]:
    """Cut slin16 into 20 ms frames, the last one padded with silence."""
    if len(pcm) % 2:
        raise ValueError(f"slin16 audio must have an even number of bytes, got {len(pcm)}")
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1].ljust(FRAME_BYTES, b"\x00")
    return frames


class FrameBuffer:
    """Re-cuts inbound audio of any even length into exact 20 ms frames."""

    def __init__(self) -> None:
        self._pending = b""

    def push(self, pcm: bytes) -> list[bytes]:
        data = self._pending + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        return [data[i : i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES)]


class PacedSession(abc.ABC):
    """MediaSession core; subclasses implement _send_frame and _send_hangup."""

    def __init__(self, call_id: str, caller: str | None = None) -> None:
        self._call_id = call_id
        self._caller = caller
        self._events: asyncio.Queue[MediaEvent] = asyncio.Queue()
        self._ended: Hangup | None = None
        self._ended_event = asyncio.Event()
        self._frames: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._dropped_inbound = 0
        self._pump_task: asyncio.Task[None] | None = None

    # -- wire side ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def _send_frame(self, pcm: bytes, talkspurt_start: bool) -> None:
        """Send one 320-byte frame now. talkspurt_start: first frame after silence."""

    @abc.abstractmethod
    async def _send_hangup(self) -> None:
        """Tell the far end the bot ends the call, and release the transport."""

    def start(self) -> None:
        """Start the playout schedule (call once, inside the event loop)."""
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name=f"playout {self._call_id}")

    def deliver(self, event: AudioFrame | Dtmf) -> None:
        """An inbound event from the wire; ignored once the call has ended."""
        if self._ended is not None:
            return
        if isinstance(event, AudioFrame) and not event.at:
            event = AudioFrame(event.pcm, time.monotonic())
        if self._events.qsize() >= MAX_INBOUND_EVENTS:
            self._events.get_nowait()
            self._dropped_inbound += 1
            if self._dropped_inbound == 1:
                log.warning("call %s: the dialogue is not reading; dropping audio", self._call_id)
        self._events.put_nowait(event)

    def remote_hangup(self, reason: str = "hangup") -> None:
        """The far end (or the transport) ended the call."""
        self._end(Hangup(reason))

    @property
    def ended(self) -> Hangup | None:
        return self._ended

    async def wait_ended(self) -> Hangup:
        await self._ended_event.wait()
        assert self._ended is not None
        return self._ended

    def _end(self, hangup: Hangup) -> bool:
        if self._ended is not None:
            return False
        self._ended = hangup
        self._frames.clear()
        self._idle.set()
        self._events.put_nowait(hangup)
        self._ended_event.set()
        if self._pump_task is not None and self._pump_task is not asyncio.current_task():
            self._pump_task.cancel()
        return True

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = 0.0
        talkspurt = True
        try:
            while True:
                if not self._frames:
                    self._idle.set()
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    talkspurt = True
                    continue
                now = loop.time()
                if talkspurt or now - deadline > MAX_LAG_S:
                    deadline = now
                frame = self._frames.popleft()
                await self._send_frame(frame, talkspurt)
                talkspurt = False
                # The next frame is due one period after this one was due, not after it was
                # sent: sleeping a fixed 20 ms would add each send's latency to the clock.
                deadline += FRAME_S
                delay = deadline - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        except (ConnectionError, OSError) as exc:
            log.info("call %s: playout transport failed: %s", self._call_id, exc)
            self._end(Hangup("transport error"))

    # -- MediaSession ------------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def caller(self) -> str | None:
        return self._caller

    async def receive(self) -> MediaEvent:
        if self._ended is not None and self._events.empty():
            return self._ended
        return await self._events.get()

    async def play(self, pcm: bytes) -> None:
        frames = split_frames(pcm)
        if self._ended is not None or not frames:
            return
        self._frames.extend(frames)
        self._idle.clear()
        self._wakeup.set()

    def stop_playing(self) -> None:
        self._frames.clear()
        self._idle.set()

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    async def wait_played(self) -> None:
        await self._idle.wait()

    async def hangup(self) -> None:
        if self._ended is not None:
            return
        # The bot is done with the call: what the caller said meanwhile is moot.
        while not self._events.empty():
            self._events.get_nowait()
        self._end(Hangup("bot hangup"))
        try:
            await self._send_hangup()
        except (ConnectionError, OSError) as exc:
            log.info("call %s: hangup not delivered: %s", self._call_id, exc)


class SessionTasks:
    """The dialogue tasks of one server: one per call, each hung up when its callback returns."""

    def __init__(self, on_session: OnSession) -> None:
        self._on_session = on_session
        self._running: dict[asyncio.Task[None], PacedSession] = {}

    def start(self, session: PacedSession) -> asyncio.Task[None]:
        session.start()
        task = asyncio.create_task(self._run(session), name=f"call {session.call_id}")
        self._running[task] = session
        task.add_done_callback(self._running.pop)
        return task

    async def _run(self, session: PacedSession) -> None:
        try:
            await self._on_session(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: the session handler failed", session.call_id)
        finally:
            if session.ended is None:
                # Shielded: a cancelled handler must still release the caller.
                await asyncio.shield(session.hangup())

    async def close(self, grace_s: float = 2.0) -> None:
        """Hang up every live call, give the handlers grace_s to finish, then cancel them."""
        tasks = list(self._running.items())
        if not tasks:
            return
        await asyncio.gather(*(session.hangup() for _, session in tasks))
        _done, pending = await asyncio.wait([t for t, _ in tasks], timeout=grace_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
