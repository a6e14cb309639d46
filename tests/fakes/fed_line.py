"""A media session whose caller side is audio queued up front: the live turn listener
(activities/live/turns.py) fed a caller's line as fast as it takes it. Used by the turn
tests and by `bench/bench_items_answer.py` (a turn cut as a call cuts it, without the call)."""

from __future__ import annotations

import asyncio

from domain.media import FRAME_BYTES, FRAME_MS, AudioFrame, Hangup, MediaEvent


class FedLine:
    """A MediaSession whose caller side is a list of frames queued up front."""

    def __init__(self, pcm: bytes, at: float = 0.0) -> None:
        """`at`: the frames arrived from then on, 20 ms apart (0: arrival not known)."""
        self.events: asyncio.Queue[MediaEvent] = asyncio.Queue()
        for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
            arrived = at + i // FRAME_BYTES * FRAME_MS / 1000 if at else 0.0
            self.events.put_nowait(AudioFrame(pcm[i : i + FRAME_BYTES], arrived))
        self.events.put_nowait(Hangup("end of the test line"))

    @property
    def call_id(self) -> str:
        return "fed-line"

    @property
    def caller(self) -> str | None:
        return None

    async def receive(self) -> MediaEvent:
        return await self.events.get()

    async def play(self, pcm: bytes) -> None:
        pass

    def stop_playing(self) -> None:
        pass

    @property
    def playing(self) -> bool:
        return False

    async def wait_played(self) -> None:
        pass

    async def hangup(self) -> None:
        pass
