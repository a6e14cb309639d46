"""The calls whose media this process holds, and where each one's dialogue stands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from domain.live_call_models import LiveCallProgress
from domain.media import MediaSession


@dataclass
class CallView:
    progress: LiveCallProgress
    listening: bool = False  # the prompt has played out, the caller's turn is awaited


class SessionRegistry:
    """The calls whose media this process holds, by call id. The telephony process adds a
    session when the media starts; the activity takes it and releases it when the dialogue
    ends, which the telephony process waits for before letting the call go."""

    def __init__(self) -> None:
        self._sessions: dict[str, MediaSession] = {}
        self._taken: dict[str, asyncio.Event] = {}
        self._released: dict[str, asyncio.Event] = {}

    def add(self, session: MediaSession) -> None:
        if session.call_id in self._sessions:
            raise ValueError(f"call {session.call_id} is already held")
        self._sessions[session.call_id] = session
        self._taken[session.call_id] = asyncio.Event()
        self._released[session.call_id] = asyncio.Event()

    def take(self, call_id: str) -> MediaSession | None:
        """The session, for the dialogue; None when this process does not hold the call or
        a dialogue already runs on it (a call has one dialogue, never two)."""
        taken = self._taken.get(call_id)
        if taken is None or taken.is_set():
            return None
        taken.set()
        return self._sessions.get(call_id)

    async def wait_taken(self, call_id: str) -> None:
        event = self._taken.get(call_id)
        if event is not None:
            await event.wait()

    def release(self, call_id: str) -> None:
        event = self._released.get(call_id)
        if event is not None:
            event.set()

    async def wait_released(self, call_id: str) -> None:
        event = self._released.get(call_id)
        if event is not None:
            await event.wait()

    def remove(self, call_id: str) -> None:
        self._sessions.pop(call_id, None)
        self._taken.pop(call_id, None)
        self._released.pop(call_id, None)

    def __len__(self) -> int:
        return len(self._sessions)
