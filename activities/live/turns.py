"""The caller's turns on a live call.

Turn-taking: webrtcvad on each 20 ms frame. A turn starts after a few voiced frames (more
while the bot is speaking: then it is a barge-in, and the prompt is cut) and ends after a
pause that is longer while the caller gives an address. Keys (DTMF) end a turn at once, or
gather a number: the expected count (five for a postcode), or up to `#` (a house number, at
the address question too), or a pause.

Speculative transcription: the end pause (700 ms, 1.2 s after an address) is mostly dead time,
and speech-to-text costs about as much again. So once the caller has been quiet for
`speculate_ms` (250 ms), the utterance so far goes to Whisper in a thread; if the pause is
then confirmed, its transcript is the turn's (the audio is the same: the trailing silence is
trimmed either way) and the reply can start as soon as the pause ends. If the caller speaks
again before, the guess is dropped and the turn goes on. A caller heard finishing is answered
no sooner: the pause rule is unchanged, only the waiting overlaps with the work.

TurnRule.SMART: the start and end of the turn come from domain/turn_detector.py (webrtcvad
still says which frames are speech): 200 ms into a pause Smart Turn scores the turn so far
(activities/live/smart_turn.py, about 100 ms on one core, so in a thread); a complete turn
ends there, an incomplete one waits up to `incomplete_pause_ms`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from activities.live.session import CallView
from domain.dialogue import Expect
from domain.media import FRAME_MS, AudioFrame, Dtmf, Hangup, MediaSession
from domain.turn_detector import CompletionModel, Decision, TurnDetector, TurnParams
from domain.turn_end import TurnRule, Verdict, verdict

# Voiced frames in a row that start a turn while the bot is silent (60 ms).
START_FRAMES = 3
# Fewer voiced frames than this is a click, not a turn ("oui" alone is about 200 ms).
MIN_UTTERANCE_MS = 120
# Audio kept from before the turn was detected, so its first syllable is not lost.
PRE_ROLL_FRAMES = 15
# Silence kept at the end of an utterance (200 ms): Whisper hears the last word out.
TRAILING_SILENCE_FRAMES = 10
# Speculative transcriptions of one call running at once (the caller who pauses mid-sentence
# again and again must not queue up Whisper calls).
MAX_GUESSES = 2
# Keys of a number (postcode, phone): the turn ends at the expected count, at "#", or after
# this pause.
DIGIT_PAUSE_S = 5.0
# How long to wait for the next inbound event before checking the clock (a SIP peer may send
# no RTP during silence).
POLL_S = 0.2


@dataclass
class TurnTaking:
    """The timing rules of a turn (TelephonySettings)."""

    end_pause_ms: int = 700
    address_pause_ms: int = 1200
    barge_in_ms: int = 200
    vad_mode: int = 2
    no_input_s: float = 8.0
    max_utterance_s: float = 20.0
    stt_beam_size: int = 1
    # An answer to the items question whose words name no item is heard again with this beam.
    stt_items_beam_size: int = 5
    # Silence after the turn in its encoder window (activities/live/window.py); 0: 30 s.
    stt_window_pad_s: float = 0.0
    # Quiet this long (but not yet the end pause): transcribe what was said meanwhile. 0: off.
    speculate_ms: int = 250
    # TurnRule: "semantic" lets the speculative transcript end the pause early or stretch it.
    rule: str = TurnRule.FIXED.value
    incomplete_pause_ms: int = 2000
    # TurnRule.SMART: the silence after which the model is asked, the probability from which
    # the turn is complete, and the model (None: the fixed pauses decide).
    smart_ask_ms: int = 200
    smart_threshold: float = 0.85
    completion_probability: CompletionModel | None = None
    # The model decides the end of an address (or a number said) too; False: the address's
    # own pause does, as under the fixed rule.
    smart_at_address: bool = False
    # The caller went on this soon after the end of the turn: one turn (runner.py). 0: off.
    resume_ms: int = 1000
    # Nothing said this long after the end of a spoken turn: a short acknowledgement is
    # (runner.py). 0: off.
    ack_ms: int = 0

    def detector(self, expect: str) -> TurnDetector:
        fixed = self.pause_frames(expect) * FRAME_MS
        params = TurnParams(
            start_ms=START_FRAMES * FRAME_MS,
            barge_in_ms=self.barge_in_ms,
            min_speech_ms=MIN_UTTERANCE_MS,
            pre_roll_ms=PRE_ROLL_FRAMES * FRAME_MS,
            ask_after_ms=self.smart_ask_ms,
            threshold=self.smart_threshold,
            fixed_pause_ms=fixed,
            incomplete_pause_ms=max(fixed, self.incomplete_pause_ms),
            max_turn_ms=int(self.max_utterance_s * 1000),
        )
        return TurnDetector(params, self.completion_probability)

    def smart_decides(self, expect: str) -> bool:
        """Whether Smart Turn ends this answer. Not an address by default: a caller between
        the street and the postcode sounds finished to it (on the 36 scripted calls it ended
        26 of 37 address answers before their end, README "Scripted calls")."""
        if self.rule != TurnRule.SMART:
            return False
        return self.smart_at_address or expect not in (Expect.ADDRESS, Expect.DIGITS)

    def pause_frames(self, expect: str) -> int:
        pause = self.address_pause_ms if expect in (Expect.ADDRESS, Expect.DIGITS) else 0
        return max(1, (pause or self.end_pause_ms) // FRAME_MS)


@dataclass
class Utterance:
    pcm: bytes  # slin16 8 kHz, trailing silence trimmed
    ended_at: float  # time.monotonic() when the pause that ended it was complete
    # Its transcript, started during the pause (speculative transcription); None: not started.
    transcript: asyncio.Future[str] | None = None
    # The line's clock (AudioFrame.at; 0: not known): when the caller began it (its first
    # voiced frames arrived) and when the frame that ended it arrived. Not `ended_at`, the
    # reader's clock: frames wait in the queue while the bot works, read seconds late.
    started_at: float = 0.0
    ended_on_line: float = 0.0


@dataclass
class Speculation:
    frames: int  # how many frames of the utterance it transcribes
    transcript: asyncio.Future[str]


@dataclass
class Keys:
    digits: str


@dataclass
class NoInput:
    pass


Turn = Utterance | Keys | NoInput | Hangup


@dataclass
class _Listening:
    """One wait for the caller's turn: the frame counts of its rules, and what was heard."""

    expect: str
    keys: int  # digits expected on the keypad (0: one key ends the turn)
    barge_frames: int
    pause_frames: int
    max_frames: int
    min_frames: int
    speculate_frames: int
    pre: deque[bytes] = field(default_factory=lambda: deque(maxlen=PRE_ROLL_FRAMES))
    utterance: list[bytes] = field(default_factory=list)
    voiced_run: int = 0
    silent_run: int = 0
    voiced_total: int = 0
    in_turn: bool = False
    digits: str = ""
    last_key: float = 0.0
    started_at: float = 0.0  # Utterance.started_at of the turn under way
    line_at: float = 0.0  # the arrival of the last frame read (AudioFrame.at)
    quiet_since: float | None = None
    guess: Speculation | None = None
    # TurnRule.SEMANTIC: the end pause of the fixed rule, and the one it stretches to.
    semantic: bool = False
    fixed_pause_frames: int = 0
    incomplete_pause_frames: int = 0
    judged: bool = False  # the current guess's transcript has set the pause
    # TurnRule.SMART: the detector that decides the turn's start and end.
    detector: TurnDetector | None = None

    @classmethod
    def of(cls, turns: TurnTaking, expect: str, keys: int) -> _Listening:
        # Not before the trailing silence kept is complete: the guess must be of the same audio
        # as the turn's.
        speculate_frames = turns.speculate_ms // FRAME_MS
        if speculate_frames:
            speculate_frames = max(TRAILING_SILENCE_FRAMES, speculate_frames)
        return cls(
            expect,
            keys,
            barge_frames=max(1, turns.barge_in_ms // FRAME_MS),
            pause_frames=turns.pause_frames(expect),
            max_frames=int(turns.max_utterance_s * 1000 / FRAME_MS),
            min_frames=MIN_UTTERANCE_MS // FRAME_MS,
            speculate_frames=speculate_frames,
            semantic=turns.rule == TurnRule.SEMANTIC and speculate_frames > 0,
            fixed_pause_frames=turns.pause_frames(expect),
            incomplete_pause_frames=max(1, turns.incomplete_pause_ms // FRAME_MS),
            detector=turns.detector(expect) if turns.smart_decides(expect) else None,
        )

    def awaiting_verdict(self) -> bool:
        """The semantic rule waits for the transcript of the pause past the fixed pause (up to
        the longest one): the reply needs that transcript anyway, so waiting costs nothing,
        and a caller in the middle of an address is not cut off by a slow transcription."""
        return (
            self.semantic
            and not self.judged
            and self.guess is not None
            and self.silent_run < self.incomplete_pause_frames
        )

    def judge(self) -> None:
        """The semantic rule: once the transcript of the pause is in, what it says sets the
        rest of the pause (a finished answer ends the turn now)."""
        guess = self.guess
        if not self.semantic or self.judged or guess is None or not guess.transcript.done():
            return
        self.judged = True
        if guess.transcript.cancelled() or guess.transcript.exception() is not None:
            return
        heard = verdict(guess.transcript.result(), self.expect)
        if heard == Verdict.COMPLETE:
            self.pause_frames = min(self.silent_run, self.fixed_pause_frames)
        elif heard == Verdict.INCOMPLETE:
            self.pause_frames = max(self.fixed_pause_frames, self.incomplete_pause_frames)

    def key(self, digit: str, now: float) -> Keys | None:
        """A key pressed: the turn it ends, or None while a number is being keyed in.

        At the address question keys are a house number (`#` ends it); no house number
        starts with 0, so a first 0 is still the transfer key, at once."""
        keyed = self.expect == Expect.DIGITS or (
            self.expect == Expect.ADDRESS and (self.digits or digit not in "0#*")
        )
        if not keyed:
            return Keys(digit)
        if digit == "#":
            return Keys(self.digits + "#")
        self.digits += digit
        self.last_key = now
        if self.keys and len(self.digits) >= self.keys:
            return Keys(self.digits)
        return None


class TurnListener:
    """The caller's side of one call: waits for each turn (see the module docstring) and starts
    its transcription during the end pause."""

    def __init__(
        self,
        session: MediaSession,
        turns: TurnTaking,
        transcribe: Callable[[bytes, str], str],
        view: CallView,
    ) -> None:
        self.session = session
        self.turns = turns
        self._transcribe = transcribe
        self._view = view
        self.cut_off = b""  # speech the caller's hang-up cut short, for the agent
        self._guessing = 0  # speculative transcriptions running (kept or dropped)
        import webrtcvad

        self._vad = webrtcvad.Vad(turns.vad_mode)

    async def next_event(self) -> AudioFrame | Dtmf | Hangup | None:
        try:
            return await asyncio.wait_for(self.session.receive(), POLL_S)
        except TimeoutError:
            return None

    async def listen(self, expect: str, keys: int = 0) -> Turn:
        try:
            return await self._listen(_Listening.of(self.turns, expect, keys))
        finally:
            self._view.listening = False

    async def _listen(self, st: _Listening) -> Turn:
        session = self.session
        while True:
            event = await self.next_event()
            now = time.monotonic()
            if isinstance(event, Hangup):
                session.stop_playing()
                if st.in_turn and st.voiced_total >= st.min_frames:
                    self.cut_off = b"".join(st.utterance)
                return event
            if isinstance(event, Dtmf):
                session.stop_playing()
                keyed = st.key(event.digit, now)
                if keyed is not None:
                    return keyed
                continue
            if st.digits and now - st.last_key > DIGIT_PAUSE_S:
                return Keys(st.digits)
            playing = session.playing
            self._view.listening = not playing and not st.in_turn
            if not playing and not st.in_turn and not st.digits:
                st.quiet_since = st.quiet_since or now
                if now - st.quiet_since > self.turns.no_input_s:
                    return NoInput()
            if event is None:
                continue
            st.line_at = event.at
            if st.detector is not None:
                utterance = await self._smart(st, st.detector, event, now, playing)
                if utterance is not None:
                    return utterance
                continue
            if not st.in_turn:
                self._before_turn(st, event, playing)
                continue
            utterance = self._in_turn(st, event.pcm, now)
            if utterance is not None:
                return utterance

    def _before_turn(self, st: _Listening, frame: AudioFrame, playing: bool) -> None:
        st.pre.append(frame.pcm)
        st.voiced_run = st.voiced_run + 1 if self._voiced(frame.pcm) else 0
        if st.voiced_run >= (st.barge_frames if playing else START_FRAMES):
            if playing:
                self.session.stop_playing()  # barge-in
            st.started_at = _began(frame, st.voiced_run)
            st.in_turn = True
            st.utterance = list(st.pre)
            st.voiced_total = st.voiced_run
            st.silent_run = 0

    def _in_turn(self, st: _Listening, pcm: bytes, now: float) -> Utterance | None:
        """The utterance once its end pause is complete; None while the turn goes on."""
        voiced = self._voiced(pcm)
        st.utterance.append(pcm)
        if voiced:
            st.voiced_total += 1
            st.silent_run = 0
            st.guess = None  # the caller went on: a transcript so far is of half a turn
            st.judged = False
            st.pause_frames = st.fixed_pause_frames or st.pause_frames
        else:
            st.silent_run += 1
            st.judge()
        keep = len(st.utterance) - max(0, st.silent_run - TRAILING_SILENCE_FRAMES)
        ended = st.silent_run >= st.pause_frames and not st.awaiting_verdict()
        if ended or len(st.utterance) >= st.max_frames:
            if st.voiced_total < st.min_frames:
                # A click, not a turn: keep listening.
                st.in_turn, st.utterance, st.voiced_run, st.quiet_since = False, [], 0, now
                st.guess = None
                st.pre.clear()
                return None
            guess = st.guess
            ready = guess.transcript if guess is not None and guess.frames == keep else None
            said = b"".join(st.utterance[:keep])
            return Utterance(said, now, ready, st.started_at, st.line_at)
        if (
            st.speculate_frames
            and st.guess is None
            and st.silent_run == st.speculate_frames
            and st.silent_run < st.pause_frames
            and st.voiced_total >= st.min_frames
        ):
            st.guess = self._speculate(b"".join(st.utterance[:keep]), keep, st.expect)
        return None

    async def _smart(
        self, st: _Listening, det: TurnDetector, frame: AudioFrame, now: float, playing: bool
    ) -> Utterance | None:
        """TurnRule.SMART: the detector's decision on one frame; the utterance once it ends."""
        pcm = frame.pcm
        voiced = self._voiced(pcm)
        if det.asks_model(voiced):
            if st.speculate_frames and st.guess is None:
                # Whisper starts with the model, not after it: a turn found complete is
                # answered as soon as its transcript is in.
                heard = [*det.utterance, pcm]
                keep = len(heard) - max(0, det.silent_run + 1 - TRAILING_SILENCE_FRAMES)
                st.guess = self._speculate(b"".join(heard[:keep]), keep, st.expect)
            # ~100 ms of inference: off the event loop (other calls' audio goes on); this
            # call's next frames wait in the session's queue.
            decision = await asyncio.to_thread(det.feed, pcm, voiced, now, playing)
        else:
            decision = det.feed(pcm, voiced, now, playing)
        if det.in_turn and not st.in_turn:
            st.started_at = _began(frame, det.voiced_total)
        st.in_turn, st.utterance, st.voiced_total = det.in_turn, det.utterance, det.voiced_total
        if decision == Decision.BARGE_IN:
            self.session.stop_playing()
        elif decision == Decision.DISCARD:
            st.guess, st.quiet_since = None, now
        if not det.in_turn:
            return None
        keep = len(det.utterance) - max(0, det.silent_run - TRAILING_SILENCE_FRAMES)
        if decision == Decision.END:
            guess = st.guess
            ready = guess.transcript if guess is not None and guess.frames == keep else None
            said = b"".join(det.utterance[:keep])
            return Utterance(said, now, ready, st.started_at, st.line_at)
        if voiced:
            st.guess = None  # the caller went on: a transcript so far is of half a turn
        elif (
            st.speculate_frames
            and st.guess is None
            and det.silent_run == st.speculate_frames
            and det.voiced_total >= st.min_frames
        ):
            st.guess = self._speculate(b"".join(det.utterance[:keep]), keep, st.expect)
        return None

    def _speculate(self, pcm: bytes, frames: int, expect: str) -> Speculation | None:
        """Transcribe the utterance so far, in a thread, while the end pause runs out."""
        if self._guessing >= MAX_GUESSES:
            # Dropped guesses still hold the CPU (a Whisper call cannot be interrupted): one
            # more would only slow them all down.
            return None
        self._guessing += 1
        future = asyncio.ensure_future(asyncio.to_thread(self._transcribe, pcm, expect))
        future.add_done_callback(self._guess_done)
        return Speculation(frames, future)

    def _guess_done(self, future: asyncio.Future[str]) -> None:
        self._guessing -= 1
        # Marks a dropped guess's error as seen (asyncio would log it); a kept guess's error
        # is still raised where its transcript is awaited.
        if not future.cancelled():
            future.exception()

    def _voiced(self, pcm: bytes) -> bool:
        try:
            return bool(self._vad.is_speech(pcm, 8000))
        except Exception:  # a frame of the wrong size: not speech
            return False


def _began(frame: AudioFrame, voiced: int) -> float:
    """When a turn whose `voiced`-th voiced frame is `frame` began (0: the frame's arrival is
    not known)."""
    return max(0.0, frame.at - (voiced - 1) * FRAME_MS / 1000) if frame.at else 0.0
