"""The live-call activity: runs the dialogue (domain/dialogue.py) over one call's media.

It runs in the telephony process that holds the call (workers/telephony/live.py), on that
process's own task queue: the media session cannot move. Long-running and async: the event
loop paces the bot's audio and reads the caller's, while the CPU work of a turn
(speech-to-text, geocoding, the FAQ, speech synthesis) goes to threads. It heartbeats the
dialogue's progress, so that if this process dies the workflow still knows what the caller
had said; it is cancellable (the bot hangs up).

Turn-taking: webrtcvad on each 20 ms frame. A turn starts after a few voiced frames (more
while the bot is speaking: then it is a barge-in, and the prompt is cut) and ends after a
pause that is longer while the caller gives an address. Keys (DTMF) end a turn at once, or
gather five digits when the dialogue asks for a postcode.

Speculative transcription: the end pause (700 ms, 1.2 s after an address) is mostly dead time,
and speech-to-text costs about as much again. So once the caller has been quiet for
`speculate_ms` (250 ms), the utterance so far goes to Whisper in a thread; if the pause is
then confirmed, its transcript is the turn's (the audio is the same: the trailing silence is
trimmed either way) and the reply can start as soon as the pause ends. If the caller speaks
again before, the guess is dropped and the turn goes on. A caller heard finishing is answered
no sooner: the pause rule is unchanged, only the waiting overlaps with the work.

The understanding, geocoding, slot and FAQ code is the voicemail's own (shared objects, see
workers/worker/composition.py `build_services`), called in-process: a turn cannot wait for a
round trip through the Temporal server per step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.booking import BookingRejected, BookingStore
from activities.tts import Tts, resample_s16
from corpus import TEMPLATES_DIR
from domain import names
from domain.address_models import (
    AddressCandidates,
    AddressScoringInput,
    AddressSearchInput,
    ResolveAddressInput,
)
from domain.catalogue import Catalogue
from domain.dialogue import Dialogue, Expect, Lookup, LookupKind, Prompt, Step
from domain.faq_models import FaqResult
from domain.live_call_models import LiveCallActivityInput, LiveCallProgress
from domain.media import FRAME_MS, AudioFrame, Dtmf, Hangup, MediaSession
from domain.models import GeocodeResult, GeocodeStatus, SpokenAddress, TranscribeInput

log = logging.getLogger(__name__)

VOICE_TEMPLATES_DIR = TEMPLATES_DIR / "voice"
# The call is not held by this process (it ended before the dialogue started, or the
# activity reached another process): nothing to retry.
CALL_NOT_HELD = "CallNotHeld"
INITIAL_PROMPTS: dict[str, str] = {Expect.YES_NO.value: "Oui. Non."}
# The dialogue itself failed (a bug); the error's details hold the progress.
LIVE_CALL_FAILED = "LiveCallFailed"
HEARTBEAT_EVERY_S = 2.0
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
# The last turn latencies kept for the bench and the logs (a deque: the process runs for days).
TURN_LATENCIES_KEPT = 1000
# Keys of a number (postcode, phone): the turn ends at the expected count, at "#", or after
# this pause.
DIGIT_PAUSE_S = 5.0
# Sample level (int16) under which the start of a synthesized prompt is silence.
LEAD_IN_LEVEL = 200
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
    # Quiet this long (but not yet the end pause): transcribe what was said meanwhile. 0: off.
    speculate_ms: int = 250

    def pause_frames(self, expect: str) -> int:
        pause = self.address_pause_ms if expect in (Expect.ADDRESS, Expect.DIGITS) else 0
        return max(1, (pause or self.end_pause_ms) // FRAME_MS)


@dataclass
class CallView:
    progress: LiveCallProgress
    listening: bool = False  # the prompt has played out, the caller's turn is awaited


@dataclass
class Utterance:
    pcm: bytes  # slin16 8 kHz, trailing silence trimmed
    ended_at: float  # time.monotonic() when the pause that ended it was complete
    # Its transcript, started during the pause (speculative transcription); None: not started.
    transcript: asyncio.Future[str] | None = None


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


def trim_leading_silence(pcm: bytes, keep_ms: int = 10) -> bytes:
    """The synthesizer's lead-in silence (up to 100 ms) is dead air after the caller's turn:
    the reply starts with its first sound, `keep_ms` before it."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= LEAD_IN_LEVEL)
    if not loud.size:
        return pcm
    start = max(0, int(loud[0]) - keep_ms * 8)
    return pcm[start * 2 :]


def pcm_to_float16k(pcm: bytes) -> np.ndarray:
    """slin16 8 kHz → float32 16 kHz, what Whisper takes."""
    wide = resample_s16(pcm, 8000, 16000)
    return np.frombuffer(wide, dtype="<i2").astype(np.float32) / 32768.0


class LiveCallActivities:
    def __init__(
        self,
        registry: SessionRegistry,
        tts: Tts,
        stt: Any,  # activities.transcribe.TranscribeActivities (its loaded Whisper model)
        catalogue: Catalogue,
        geocode: Any,  # activities.geocode.GeocodeActivities
        store: BookingStore,
        faq: Any,  # activities.faq.FaqActivities
        *,
        service_name: str,
        agent_phone: str,
        turns: TurnTaking | None = None,
        templates_dir: Path = VOICE_TEMPLATES_DIR,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = registry
        self.tts = tts
        self.stt = stt
        self.catalogue = catalogue
        self.geocode = geocode
        self.store = store
        self.faq = faq
        self.service_name = service_name
        self.agent_phone = agent_phone
        self.turns = turns or TurnTaking()
        self.clock = clock
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        # End of a caller's turn to the reply queued for playout, per turn (the bench and
        # the logs read it).
        self.turn_latencies: deque[float] = deque(maxlen=TURN_LATENCIES_KEPT)
        # Spoken turns whose transcript was ready from the pause ("during") or started after it.
        self.transcribed: dict[str, int] = {"during": 0, "after": 0}
        # The dialogues running in this process, by call id: where each stands and whether it
        # is listening (ops, tests).
        self.dialogues: dict[str, CallView] = {}

    # ------------------------------------------------------------------ activity

    @activity.defn(name=names.RUN_LIVE_CALL)
    async def run_live_call(self, inp: LiveCallActivityInput) -> LiveCallProgress:
        session = self.registry.take(inp.call_id)
        if session is None:
            raise ApplicationError(
                "L'appel n'est pas (ou plus) tenu par ce processus.",
                type=CALL_NOT_HELD,
                non_retryable=True,
            )
        dialogue = Dialogue(
            self.catalogue,
            inp.caller_number or (session.caller or ""),
            service_name=self.service_name,
            agent_phone=self.agent_phone,
            territory=self.geocode.territory,
            book_threshold=getattr(self.geocode, "book_threshold", 0.0) or 0.0,
            confirm_threshold=getattr(self.geocode, "confirm_threshold", 0.0) or 0.0,
        )
        call = _Call(self, session, dialogue, inp.max_call_s)
        self.dialogues[inp.call_id] = call.view
        try:
            return await call.run()
        except asyncio.CancelledError:
            # The workflow gave up on the call (or the worker is shutting down): the caller
            # must not be left on a silent line.
            with contextlib.suppress(Exception):
                await asyncio.shield(session.hangup())
            raise
        except Exception as exc:
            # A bug must not leave the caller on a dead line, nor lose what they said: the
            # progress travels with the error to the workflow, which hands it to a person.
            log.exception("live call %s: dialogue failed", inp.call_id)
            with contextlib.suppress(Exception):
                await session.hangup()
            raise ApplicationError(
                f"Dialogue interrompu : {type(exc).__name__}",
                dialogue.progress,
                type=LIVE_CALL_FAILED,
                non_retryable=True,
            ) from exc
        finally:
            self.dialogues.pop(inp.call_id, None)
            self.registry.release(inp.call_id)

    # ------------------------------------------------------------------ in-thread work

    def render(self, prompt: Prompt) -> str:
        text = self._templates.get_template(f"{prompt.template}.j2").render(**prompt.context)
        return " ".join(text.split())

    def synthesize(self, prompts: list[Prompt]) -> bytes:
        pcm = b"".join(self.tts.synthesize(self.render(p), cache=p.static) for p in prompts)
        return trim_leading_silence(pcm)

    def transcribe(self, pcm: bytes, expect: str = "") -> str:
        audio = pcm_to_float16k(pcm)
        segments, _info = self.stt.model().transcribe(
            audio,
            language="fr",
            beam_size=self.turns.stt_beam_size,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
            # Whisper drops a lone short "oui" altogether; announcing the kind of answer
            # brings it back (neutral words only: a sample address would be echoed).
            initial_prompt=INITIAL_PROMPTS.get(expect),
        )
        # Whisper fills a near-silent clip with stock phrases; its own no-speech estimate
        # filters them out.
        return " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.8).strip()

    def lookup_address(self, lookup: Lookup) -> tuple[AddressCandidates, GeocodeResult]:
        """Gazetteer candidates for what was heard, and the address the words alone give."""
        address = lookup.address or SpokenAddress()
        text = lookup.text or " ".join(
            p for p in (address.housenumber, address.street, address.postcode, address.city) if p
        )
        candidates = self.geocode.propose_addresses(AddressSearchInput(text=text, address=address))
        if not candidates.candidates:
            return candidates, GeocodeResult(
                status=GeocodeStatus.NOT_FOUND, reason=candidates.reason
            )
        result: GeocodeResult = self.geocode.resolve_address(
            ResolveAddressInput(candidates=candidates, scores=None, address=address)
        )
        return candidates, result

    def vote_address(
        self, lookup: Lookup, candidates: AddressCandidates, pcm: bytes
    ) -> GeocodeResult:
        """The audio's vote among the candidates, as for a voicemail (a misheard number,
        "dos" for "douze"): the utterance goes through the same scoring activity code."""
        with tempfile.TemporaryDirectory(prefix="encombot-live-") as tmp:
            path = Path(tmp) / "address.wav"
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(16000)
                out.writeframes(resample_s16(pcm, 8000, 16000))
            heard = self.stt.transcribe_file(TranscribeInput(audio_path=str(path)))
            scores = self.stt.score_address_candidates(
                AddressScoringInput(
                    audio_path=str(path),
                    text=heard.text,
                    segments=heard.segments,
                    candidates=candidates,
                )
            )
        result: GeocodeResult = self.geocode.resolve_address(
            ResolveAddressInput(candidates=candidates, scores=scores, address=lookup.address)
        )
        return result

    def first_free_day(self, sector: str) -> str:
        try:
            day = self.store.first_free_date(sector, self.clock())
        except BookingRejected as exc:
            log.warning("live call: no slot lookup for sector %s: %s", sector, exc)
            return ""
        return day.isoformat() if day is not None else ""

    def answer(self, question: str) -> FaqResult:
        result: FaqResult = self.faq.answer(question)
        return result


class _Call:
    """One call's dialogue loop."""

    def __init__(
        self, acts: LiveCallActivities, session: MediaSession, dialogue: Dialogue, max_call_s: int
    ) -> None:
        self.acts = acts
        self.session = session
        self.dialogue = dialogue
        self.turns = acts.turns
        self.max_call_s = max_call_s
        self._last_turn_end: float | None = None
        self._last_pcm = b""  # the last utterance, for the address vote
        self._cut_off = b""  # speech the caller's hang-up cut short, for the agent
        self.view = CallView(dialogue.progress)
        self._expect = ""
        self._guessing = 0  # speculative transcriptions running (kept or dropped)
        import webrtcvad

        self._vad = webrtcvad.Vad(self.turns.vad_mode)

    async def run(self) -> LiveCallProgress:
        heartbeat = asyncio.create_task(self._heartbeat())
        deadline = time.monotonic() + self.max_call_s
        try:
            step = self.dialogue.start()
            while True:
                self._beat()
                if step.lookup is not None:
                    step = await self._lookup(step.lookup)
                    continue
                turn = await self._speak_and_listen(step)
                if step.hang_up:
                    if not isinstance(turn, Hangup):
                        await self.session.hangup()
                    break
                if isinstance(turn, Hangup):
                    await self._keep_cut_off()
                    self.dialogue.on_hangup()
                    break
                if time.monotonic() > deadline:
                    step = self.dialogue.on_timeout()
                elif isinstance(turn, Utterance):
                    self._last_turn_end = turn.ended_at
                    self._last_pcm = turn.pcm
                    text = await (
                        turn.transcript
                        or asyncio.to_thread(self.acts.transcribe, turn.pcm, self._expect)
                    )
                    when = "during" if turn.transcript is not None else "after"
                    self.acts.transcribed[when] += 1
                    log.info(
                        "live call %s: heard %d chars, %.2f s after the pause (transcribed %s it)",
                        self.session.call_id,
                        len(text),
                        time.monotonic() - turn.ended_at,
                        when,
                    )
                    step = self.dialogue.on_utterance(text)
                    self.view.progress = self.dialogue.progress
                elif isinstance(turn, Keys):
                    self._last_turn_end = time.monotonic()
                    step = self.dialogue.on_dtmf(turn.digits)
                else:
                    step = self.dialogue.on_silence()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        self._beat()
        return self.dialogue.progress

    async def _lookup(self, lookup: Lookup) -> Step:
        if lookup.kind == LookupKind.ADDRESS:
            candidates, geo = await asyncio.to_thread(self.acts.lookup_address, lookup)
            if candidates.candidates and self._last_pcm and not self.dialogue.address_usable(geo):
                # Seconds of CPU: the caller hears that the bot is on it.
                await self._say([Prompt("one_moment")])
                pcm, self._last_pcm = self._last_pcm, b""
                geo = await asyncio.to_thread(self.acts.vote_address, lookup, candidates, pcm)
            return self.dialogue.on_address(geo)
        if lookup.kind == LookupKind.SLOT:
            day = await asyncio.to_thread(self.acts.first_free_day, lookup.sector)
            return self.dialogue.on_slot(day)
        faq = await asyncio.to_thread(self.acts.answer, lookup.text)
        return self.dialogue.on_faq(faq)

    async def _say(self, prompts: list[Prompt]) -> None:
        pcm = await asyncio.to_thread(self.acts.synthesize, prompts)
        await self.session.play(pcm)
        if self._last_turn_end is not None:
            # Turn latency: end of the caller's turn to the reply queued for playout (the
            # first frame goes out on the next 20 ms tick).
            self.acts.turn_latencies.append(time.monotonic() - self._last_turn_end)
            self._last_turn_end = None

    async def _speak_and_listen(self, step: Step) -> Turn:
        if step.say:
            await self._say(step.say)
        if step.hang_up:
            return await self._finish_playout()
        self._expect = step.expect
        return await self._listen(step.expect, step.keys)

    async def _finish_playout(self) -> Turn:
        """Let the last prompt play out; a caller hanging up meanwhile is fine."""
        played = asyncio.ensure_future(self.session.wait_played())
        try:
            while not played.done():
                event = await self._next_event()
                if isinstance(event, Hangup):
                    return event
        finally:
            played.cancel()
        return NoInput()

    async def _next_event(self) -> AudioFrame | Dtmf | Hangup | None:
        try:
            return await asyncio.wait_for(self.session.receive(), POLL_S)
        except TimeoutError:
            return None

    async def _keep_cut_off(self) -> None:
        """The caller hung up mid-sentence (the line dropped while giving the address, say):
        what they said so far is transcribed for the agent who calls back, marked as cut."""
        pcm, self._cut_off = self._cut_off, b""
        if not pcm:
            return
        try:
            text = await asyncio.to_thread(self.acts.transcribe, pcm, self._expect)
        except Exception:  # the call is over: a failed transcription must not lose the rest
            log.exception("live call %s: cut-off speech not transcribed", self.session.call_id)
            return
        if text.strip():
            self.dialogue.progress.heard.append(f"{text.strip()} […]")

    async def _listen(self, expect: str, keys: int = 0) -> Turn:
        self.view.progress = self.dialogue.progress
        try:
            return await self._listen_turn(expect, keys)
        finally:
            self.view.listening = False

    async def _listen_turn(self, expect: str, keys: int) -> Turn:
        turns = self.turns
        session = self.session
        barge_frames = max(1, turns.barge_in_ms // FRAME_MS)
        pause_frames = turns.pause_frames(expect)
        max_frames = int(turns.max_utterance_s * 1000 / FRAME_MS)
        min_frames = MIN_UTTERANCE_MS // FRAME_MS
        # Not before the trailing silence kept is complete: the guess must be of the same audio
        # as the turn's.
        speculate_frames = turns.speculate_ms // FRAME_MS
        if speculate_frames:
            speculate_frames = max(TRAILING_SILENCE_FRAMES, speculate_frames)
        guess: Speculation | None = None
        pre: deque[bytes] = deque(maxlen=PRE_ROLL_FRAMES)
        utterance: list[bytes] = []
        voiced_run = 0
        silent_run = 0
        voiced_total = 0
        in_turn = False
        digits = ""
        last_key = 0.0
        quiet_since: float | None = None
        while True:
            event = await self._next_event()
            now = time.monotonic()
            if isinstance(event, Hangup):
                session.stop_playing()
                if in_turn and voiced_total >= min_frames:
                    self._cut_off = b"".join(utterance)
                return event
            if isinstance(event, Dtmf):
                session.stop_playing()
                if expect != Expect.DIGITS:
                    return Keys(event.digit)
                if event.digit == "#":
                    return Keys(digits + "#")
                digits += event.digit
                last_key = now
                if len(digits) >= max(1, keys):
                    return Keys(digits)
                continue
            if digits and now - last_key > DIGIT_PAUSE_S:
                return Keys(digits)
            playing = session.playing
            self.view.listening = not playing and not in_turn
            if not playing and not in_turn and not digits:
                quiet_since = quiet_since or now
                if now - quiet_since > turns.no_input_s:
                    return NoInput()
            if event is None:
                continue
            pcm = event.pcm
            voiced = self._voiced(pcm)
            if not in_turn:
                pre.append(pcm)
                voiced_run = voiced_run + 1 if voiced else 0
                if voiced_run >= (barge_frames if playing else START_FRAMES):
                    if playing:
                        session.stop_playing()  # barge-in
                    in_turn = True
                    utterance = list(pre)
                    voiced_total = voiced_run
                    silent_run = 0
                continue
            utterance.append(pcm)
            if voiced:
                voiced_total += 1
                silent_run = 0
                guess = None  # the caller went on: a transcript so far is of half a turn
            else:
                silent_run += 1
            keep = len(utterance) - max(0, silent_run - TRAILING_SILENCE_FRAMES)
            if silent_run >= pause_frames or len(utterance) >= max_frames:
                if voiced_total < min_frames:
                    # A click, not a turn: keep listening.
                    in_turn, utterance, voiced_run, quiet_since = False, [], 0, now
                    guess = None
                    pre.clear()
                    continue
                ready = guess.transcript if guess is not None and guess.frames == keep else None
                return Utterance(b"".join(utterance[:keep]), now, ready)
            if (
                speculate_frames
                and guess is None
                and silent_run == speculate_frames
                and silent_run < pause_frames
                and voiced_total >= min_frames
            ):
                guess = self._speculate(b"".join(utterance[:keep]), keep, expect)

    def _speculate(self, pcm: bytes, frames: int, expect: str) -> Speculation | None:
        """Transcribe the utterance so far, in a thread, while the end pause runs out."""
        if self._guessing >= MAX_GUESSES:
            # Dropped guesses still hold the CPU (a Whisper call cannot be interrupted): one
            # more would only slow them all down.
            return None
        self._guessing += 1
        future = asyncio.ensure_future(asyncio.to_thread(self.acts.transcribe, pcm, expect))
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

    def _beat(self) -> None:
        with contextlib.suppress(RuntimeError):  # outside an activity (bench, unit use)
            activity.heartbeat(self.dialogue.progress)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            self._beat()
