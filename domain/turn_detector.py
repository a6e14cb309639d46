"""When the caller's turn starts and ends, decided frame by frame: the "smart" end-of-turn rule.

Fed one 20 ms frame at a time with whether it holds speech (a VAD's flag or probability), the
detector says when a turn starts (a barge-in when the bot is speaking), and when it ends. The
end is decided by what the audio says, not only by how long the silence lasts: after a short
silence (`ask_after_ms`, 200 ms) a turn-completion model (Smart Turn v3, injected as a callable
so this module stays pure) scores the turn so far. A finished turn ("oui", an address with its
commune) is answered at once; an unfinished one ("au… douze…", pitch and rhythm that call for
more) keeps listening until `incomplete_pause_ms` of silence, the hard cap. Without a model, or
when it gives no verdict, the fixed pause decides, as the fixed rule would.

The model is asked once per pause: a second look at the same pause with more silence only
adds chances of a wrong "complete" (the caller looking for the street name), never fewer.
No I/O, no clock: `now` only stamps the decisions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

FRAME_MS = 20

# The turn so far (slin16 8 kHz, its silence included) -> the probability that it is complete;
# None: no verdict (the model failed), the fixed pause decides.
CompletionModel = Callable[[bytes], float | None]


class Decision(StrEnum):
    LISTEN = "listen"  # nothing to do: no turn yet, or the turn goes on
    START = "start"  # the caller started speaking while the bot was silent
    BARGE_IN = "barge_in"  # the caller started speaking over the bot: stop the prompt
    END = "end"  # the turn is over: answer now
    DISCARD = "discard"  # what started a turn was a click or a cough: forget it


@dataclass(frozen=True)
class TurnParams:
    """The detector's timings (TurnTaking, TelephonySettings)."""

    start_ms: int = 60  # speech this long starts a turn while the bot is silent
    barge_in_ms: int = 200  # speech this long over the bot interrupts it
    min_speech_ms: int = 120  # less speech than this in a turn is a click
    pre_roll_ms: int = 300  # audio kept from before the start, so the first syllable is heard
    ask_after_ms: int = 200  # silence after which the model scores the turn
    threshold: float = 0.85  # probability of "complete" from which the turn ends
    fixed_pause_ms: int = 700  # the fallback: no model, or no verdict
    incomplete_pause_ms: int = 2000  # the hard cap after an "incomplete" verdict
    max_turn_ms: int = 20000  # a turn this long ends whatever is said
    vad_threshold: float = 0.5  # a frame's speech probability from which it is speech

    def frames(self, ms: int) -> int:
        return max(1, ms // FRAME_MS)


@dataclass
class TurnDetector:
    """One wait for the caller's turn (a new detector per question)."""

    params: TurnParams = field(default_factory=TurnParams)
    completion_probability: CompletionModel | None = None
    in_turn: bool = False
    utterance: list[bytes] = field(default_factory=list)  # the turn's audio, pre-roll included
    voiced_run: int = 0
    voiced_total: int = 0
    silent_run: int = 0
    # The model's score of the current pause (None: not asked yet, or no verdict).
    probability: float | None = None
    asked: bool = False
    ended_at: float | None = None
    _pre: deque[bytes] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._pre = deque(maxlen=self.params.frames(self.params.pre_roll_ms))

    def asks_model(self, speech: float | bool) -> bool:
        """Whether feeding a frame with this speech value would run the model (the live path
        runs that one feed off the event loop)."""
        return (
            self.in_turn
            and self.completion_probability is not None
            and not self.asked
            and float(speech) < self.params.vad_threshold
            and self.silent_run + 1 == self.params.frames(self.params.ask_after_ms)
            and self.voiced_total >= self.params.frames(self.params.min_speech_ms)
        )

    def feed(self, pcm: bytes, speech: float | bool, now: float, bot_speaking: bool) -> Decision:
        voiced = float(speech) >= self.params.vad_threshold
        if not self.in_turn:
            return self._before_turn(pcm, voiced, bot_speaking)
        return self._in_turn(pcm, voiced, now)

    def _before_turn(self, pcm: bytes, voiced: bool, bot_speaking: bool) -> Decision:
        p = self.params
        self._pre.append(pcm)
        self.voiced_run = self.voiced_run + 1 if voiced else 0
        if self.voiced_run < p.frames(p.barge_in_ms if bot_speaking else p.start_ms):
            return Decision.LISTEN
        self.in_turn = True
        self.utterance = list(self._pre)
        self.voiced_total = self.voiced_run
        self.silent_run = 0
        self.asked, self.probability = False, None
        return Decision.BARGE_IN if bot_speaking else Decision.START

    def _in_turn(self, pcm: bytes, voiced: bool, now: float) -> Decision:
        p = self.params
        self.utterance.append(pcm)
        if voiced:
            self.voiced_total += 1
            self.silent_run = 0
            self.asked, self.probability = False, None  # the caller went on: a new pause
            if len(self.utterance) >= p.frames(p.max_turn_ms):
                return self._end(now)
            return Decision.LISTEN
        self.silent_run += 1
        if self.voiced_total < p.frames(p.min_speech_ms):
            if self.silent_run >= p.frames(p.fixed_pause_ms):
                self._reset()
                return Decision.DISCARD
            return Decision.LISTEN
        if self.silent_run == p.frames(p.ask_after_ms) and not self.asked:
            self.asked = True
            if self.completion_probability is not None:
                self.probability = self.completion_probability(b"".join(self.utterance))
        if self.silent_run >= self._pause_frames() or len(self.utterance) >= p.frames(
            p.max_turn_ms
        ):
            return self._end(now)
        return Decision.LISTEN

    def _pause_frames(self) -> int:
        """The silence that ends the turn, given what the model said of this pause."""
        p = self.params
        if self.probability is None:
            return p.frames(p.fixed_pause_ms)
        if self.probability >= p.threshold:
            return p.frames(p.ask_after_ms)
        return max(p.frames(p.fixed_pause_ms), p.frames(p.incomplete_pause_ms))

    def _end(self, now: float) -> Decision:
        self.ended_at = now
        return Decision.END

    def _reset(self) -> None:
        self.in_turn = False
        self.utterance = []
        self.voiced_run = self.voiced_total = self.silent_run = 0
        self.asked, self.probability = False, None
        self._pre.clear()
