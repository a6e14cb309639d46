"""The one small media interface a live call talks to, whatever carries the audio.

Two adapters implement it (workers/telephony/): Asterisk AudioSocket (production) and a minimal
SIP UAS with G.711 RTP (tests with real SIP clients, small deployments). The dialogue
(activities/live_call.py) only sees this interface, so it runs the same over either.

Audio on this interface is always signed linear 16-bit little-endian PCM, 8 kHz, mono, in
frames of 20 ms (160 samples, 320 bytes): AudioSocket's own format; the SIP adapter converts
from and to G.711. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160
FRAME_BYTES = FRAME_SAMPLES * 2  # 320: slin16


@dataclass(frozen=True)
class AudioFrame:
    """20 ms of caller audio (slin16, 8 kHz, mono)."""

    pcm: bytes
    # When the adapter took it off the wire (time.monotonic()); 0: not known. Frames wait in
    # the session's queue while the bot works, so the order of reading says nothing of when
    # the caller spoke (activities/live/runner.py: a turn the caller went on with).
    at: float = 0.0


@dataclass(frozen=True)
class Dtmf:
    """One key pressed by the caller: 0-9, *, #, A-D."""

    digit: str


@dataclass(frozen=True)
class Hangup:
    """The caller (or the PBX) ended the call; no event follows."""

    reason: str = "hangup"


MediaEvent = AudioFrame | Dtmf | Hangup


class MediaSession(Protocol):
    """One call's media, as the dialogue sees it."""

    @property
    def call_id(self) -> str:
        """The call's business key (AudioSocket call UUID, SIP Call-ID)."""
        ...

    @property
    def caller(self) -> str | None:
        """The calling number when the carrier gives it (SIP From); None otherwise."""
        ...

    async def receive(self) -> MediaEvent:
        """Next inbound event. After a Hangup, every call returns that Hangup again."""
        ...

    async def play(self, pcm: bytes) -> None:
        """Queue audio (slin16 8 kHz, any length) for playout. Returns at once; the adapter
        paces it out itself, one 20 ms frame every 20 ms, so that stop_playing() can cut it."""
        ...

    def stop_playing(self) -> None:
        """Drop whatever is queued and not yet sent (barge-in)."""
        ...

    @property
    def playing(self) -> bool:
        """True while queued audio remains to be sent."""
        ...

    async def wait_played(self) -> None:
        """Return once everything queued has been sent (or was dropped by stop_playing)."""
        ...

    async def hangup(self) -> None:
        """End the call from the bot's side (AudioSocket: hangup frame, the dialplan goes on;
        SIP: BYE). Idempotent."""
        ...
