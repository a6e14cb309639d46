"""The work of a live call's turns, run in threads (CPU: speech-to-text, geocoding, the FAQ,
speech synthesis), and what it measures (turn latencies).

The understanding, geocoding, slot and FAQ code is the voicemail's own (shared objects, see
workers/worker/composition.py `build_services`), called in-process: a turn cannot wait for a
round trip through the Temporal server per step.
"""

from __future__ import annotations

import logging
import tempfile
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import jinja2
import numpy as np

from activities.bookings.store import BookingRejected, BookingStore
from activities.live.pauses import close_pauses, with_margins
from activities.live.turns import TurnTaking
from activities.live.window import SAMPLE_RATE, WINDOW_S, WindowedTurns
from activities.metrics import StepMetrics
from activities.speech.engine import SpeechEngine
from activities.speech.tts import Tts, resample_s16
from corpus import TEMPLATES_DIR
from domain.address_models import (
    AddressCandidates,
    AddressScoringInput,
    AddressSearchInput,
    ItemRefineInput,
    ResolveAddressInput,
)
from domain.dialogue import Expect, Lookup, Prompt
from domain.faq_models import FaqResult
from domain.models import (
    GeocodeResult,
    GeocodeStatus,
    Intent,
    Segment,
    SpokenAddress,
    TranscribeInput,
    Understanding,
)
from domain.spelling import match_keyed, match_spelled
from domain.understanding import Territory, find_item_slots, understand

log = logging.getLogger(__name__)

VOICE_TEMPLATES_DIR = TEMPLATES_DIR / "voice"
# Whisper drops a lone short « oui » altogether; announcing the kind of answer brings it back
# (neutral words only: a sample address would be echoed). « Oui. Non. » alone also made a yes
# of short sounds; with hesitations and other short replies to choose from, fewer (`make
# bench-yes-no`: 35 → 21 of 200 speech fragments of 0.15-0.6 s cut from other words, 3 → 1 of
# 60 noise bursts; 84 → 83 of 84 synthetic yes/no answers right, the other asked again, none
# wrong; chosen on another 160 fragments). A « oui » to a read-back books the address.
INITIAL_PROMPTS: dict[str, str] = {
    Expect.YES_NO.value: "Euh. Oui. Non. Bon. Merci. Attendez. Pardon."
}
# The answers heard over a short window when STT_WINDOW_PAD_S is set: a « oui » or « non »
# of a second, padded short, comes out distorted, « Non, c'est pas ça » as « L'Op C'est
# ça. », a yes (`make bench-turn-window`: 83 → 79-80 of 84 yes/no answers right, 0 → 1
# heard as the opposite); they keep Whisper's 30 s, and so does a number said on the
# keypad's question, as short (not measured apart).
WINDOWED = frozenset({Expect.ADDRESS.value, Expect.SPEECH.value})
# Whisper fills a near-silent clip with stock phrases; a segment it gives this probability of
# no speech or more is dropped.
NO_SPEECH = 0.8
# The last turn latencies kept for the bench and the logs (a deque: the process runs for days).
TURN_LATENCIES_KEPT = 1000
# Sample level (int16) under which the start of a synthesized prompt is silence.
LEAD_IN_LEVEL = 200


def turn_words(
    model: Any,
    audio: np.ndarray,
    *,
    beam_size: int,
    prompt: str | None,
    margins: bool = True,
    window: WindowedTurns | None = None,
) -> str:
    """What Whisper hears in one turn's audio (16 kHz float), its long pauses closed, over
    `window` (None: faster-whisper's 30 s).

    `margins` False only for the bench that measures the retry (`make bench-yes-no`)."""

    def segments(clip: np.ndarray) -> list[Any]:
        if window is not None and len(clip) < WINDOW_S * SAMPLE_RATE:
            return list(window.segments(clip, beam_size=beam_size, prompt=prompt))
        found, _info = model.transcribe(
            clip,
            language="fr",
            beam_size=beam_size,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
            initial_prompt=prompt,
        )
        return list(found)

    audio = close_pauses(audio)
    found = segments(audio)
    if not found and margins:
        # No segment at all: faster-whisper skipped the window as no speech (its
        # no_speech_prob over 0.6 with avg_logprob under -1), which a lone short word cut
        # tight gets too (pauses.with_margins); heard once more with silence around it.
        # `make bench-yes-no`: 2 more of 200 short fragments of other words became a yes
        # so (23, with the prompt above), 1 more of 60 noise bursts (2). A segment kept
        # and filtered below is not heard again.
        found = segments(with_margins(audio))
    return " ".join(s.text.strip() for s in found if s.no_speech_prob < NO_SPEECH).strip()


class AddressLookup(Protocol):
    """The address steps of the voicemail (activities.geocode.GeocodeActivities), with the
    territory and the deployment's decision thresholds they were built with."""

    territory: Territory
    book_threshold: float
    confirm_threshold: float

    def propose_addresses(self, inp: AddressSearchInput) -> AddressCandidates: ...

    def resolve_address(self, inp: ResolveAddressInput) -> GeocodeResult: ...

    def streets_of(self, address: SpokenAddress) -> list[str]: ...


class FaqAnswers(Protocol):
    """The FAQ of the voicemail (activities.faq.FaqActivities)."""

    def answer(self, question: str) -> FaqResult: ...


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


def located(
    candidates: AddressCandidates, text: str, where: AddressCandidates
) -> AddressCandidates:
    """The candidates with the address located in `text`, the words the vote's audio is cut
    by: the lookup located it in other words (the turn's greedy decoding) or in none (the
    fields of a lookup after keys). `where`: the gazetteer search of `text` itself, which
    locates the address as for a voicemail (after its cue, else the street the words parse
    as, its locality left out). Where it finds none (the street alone, asked for, as an
    unparsed name), the answer is the address as a whole."""
    if 0 <= where.region_start < where.region_end:
        return replace(
            candidates,
            region_start=where.region_start,
            region_end=where.region_end,
            determiner=where.determiner,
        )
    words = text.rstrip(" .,;!?")
    start = len(words) - len(words.lstrip())
    return replace(candidates, region_start=start, region_end=len(words), determiner="")


class CallWork:
    """What the dialogue of a call asks between turns: prompts rendered and synthesized,
    the caller's speech transcribed, the address looked up and voted on by the audio, the
    first free day, the FAQ's answer."""

    def __init__(
        self,
        tts: Tts,
        stt: SpeechEngine,
        geocode: AddressLookup,
        store: BookingStore,
        faq: FaqAnswers,
        *,
        turns: TurnTaking | None = None,
        templates_dir: Path = VOICE_TEMPLATES_DIR,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tts = tts
        self.stt = stt
        self.geocode = geocode
        self.store = store
        self.faq = faq
        self.turns = turns or TurnTaking()
        self.clock = clock
        # Built on the first turn (the model loads then); two turns racing build two alike.
        self._window: WindowedTurns | None = None
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        # End of a caller's turn to the reply queued for playout, per turn (the bench and
        # the logs read it).
        self.turn_latencies: deque[float] = deque(maxlen=TURN_LATENCIES_KEPT)
        # The process's Prometheus metrics (`encombot telephony` sets it; None counts nothing).
        self.metrics: StepMetrics | None = None
        # Spoken turns whose transcript was ready from the pause ("during") or started after it.
        self.transcribed: dict[str, int] = {"during": 0, "after": 0}
        # Turns the caller went on with after they were taken as ended (runner.py).
        self.went_on = 0
        # Turns acknowledged while their answer was not ready (TurnTaking.ack_ms), and the
        # end of each spoken turn to its answer's first prompt (« un instant » and the
        # acknowledgement are not answers; turn_latencies counts them).
        self.acknowledged = 0
        self.answer_latencies: deque[float] = deque(maxlen=TURN_LATENCIES_KEPT)

    def render(self, prompt: Prompt) -> str:
        text = self._templates.get_template(f"{prompt.template}.j2").render(**prompt.context)
        return " ".join(text.split())

    def synthesize(self, prompts: list[Prompt]) -> bytes:
        pcm = b"".join(self.tts.synthesize(self.render(p), cache=p.static) for p in prompts)
        return trim_leading_silence(pcm)

    def transcribe(self, pcm: bytes, expect: str = "", beam_size: int = 0) -> str:
        """The turn's words (`beam_size` 0: the turns' beam)."""
        model = self.stt.model()
        if self.turns.stt_window_pad_s and self._window is None:
            self._window = WindowedTurns(model, self.turns.stt_window_pad_s)
        return turn_words(
            model,
            pcm_to_float16k(pcm),
            beam_size=beam_size or self.turns.stt_beam_size,
            prompt=INITIAL_PROMPTS.get(expect),
            window=self._window if expect in WINDOWED else None,
        )

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
        return candidates, self._for_the_call(result)

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
            said = understand(heard.text, "", self.stt.catalogue(), self.geocode.territory)
            where = self.geocode.propose_addresses(
                AddressSearchInput(text=heard.text, address=said.address)
            )
            scores = self.stt.score_address_candidates(
                AddressScoringInput(
                    audio_path=str(path),
                    text=heard.text,
                    segments=heard.segments,
                    candidates=located(candidates, heard.text, where),
                )
            )
        if lookup.typed_number:
            # Typed, the number cannot be misheard: the audio chooses the street only.
            scores = replace(scores, numbers=[], number_scores=[], number_street=-1)
        result: GeocodeResult = self.geocode.resolve_address(
            ResolveAddressInput(candidates=candidates, scores=scores, address=lookup.address)
        )
        return self._for_the_call(result)

    def _for_the_call(self, result: GeocodeResult) -> GeocodeResult:
        """The lookup with the deployment's own threshold (0: the dialogue's), not the
        voicemail's the address steps add (domain.decision.book_threshold_for): the
        caller hears every address read back before it is booked."""
        return replace(result, book_threshold=self.geocode.book_threshold)

    def hear_items(self, lookup: Lookup, pcm: bytes) -> Understanding:
        """The items of an answer to the items question whose words (`lookup.text`) name none:
        heard again with the items' wider beam (`stt_items_beam_size`: the turn's greedy
        decoding garbles short item names on the phone), then each unknown noun phrase ("un
        effigier hâteau") scored by the audio against the catalogue names that sound
        closest, as for a voicemail (speech/items.py). A name is taken only when it clearly
        beats the others: nothing is forced."""
        asked = Understanding(intent=Intent.BOOKING.value)
        if not pcm or not lookup.text:
            return asked
        audio = pcm_to_float16k(pcm)
        try:
            again, understood = self._hear_again(pcm)
            if understood.items:
                return replace(
                    asked,
                    items=understood.items,
                    refused_items=understood.refused_items,
                    refusal_advice=understood.refusal_advice,
                )
            text = lookup.text
            if again and find_item_slots(
                again, self.stt.catalogue(), self.stt.territory(), answer=True
            ):
                text = again
            # The turn is one short utterance: one segment, the whole of it.
            whole = Segment(start=0.0, end=len(audio) / 16000, text=text, avg_logprob=0.0)
            heard: Understanding = self.stt.refine_items(
                ItemRefineInput(
                    audio_path="", text=text, segments=[whole], understanding=asked, answer=True
                ),
                audio=lambda: audio,
            )
        except Exception as exc:
            # Hearing again and the vote only add to the words: without them the caller is
            # asked again and the call goes on. The exception's class only (its message
            # could quote the words).
            log.error("live call: item vote failed (%s)", exc.__class__.__name__)
            return asked
        return heard

    def _hear_again(self, pcm: bytes) -> tuple[str, Understanding]:
        """(the answer heard with the items' beam, what it says); ("", nothing) when that beam
        is the turn's. Callers take only its accepted items: a refused item the wider beam
        made up would have the bot refuse what the caller never said."""
        if self.turns.stt_items_beam_size == self.turns.stt_beam_size:
            return "", Understanding(intent=Intent.OTHER.value)
        text = self.transcribe(pcm, Expect.SPEECH, self.turns.stt_items_beam_size)
        return text, understand(text, "", self.stt.catalogue(), self.stt.territory())

    def spelled_street(self, lookup: Lookup) -> str:
        """The street of the place already understood that the spelled letters name; "" when
        none stands clear of the others (domain/spelling.py refuses to guess)."""
        streets = self.geocode.streets_of(lookup.address or SpokenAddress())
        match = match_keyed if lookup.keyed else match_spelled
        found = match(lookup.text, streets)
        # Scores only: the letters and the street are personal data.
        log.info(
            "live call: %s street %s among %d (%d letter(s) off, next street %d)",
            "typed" if lookup.keyed else "spelled",
            "found" if found.found else "not found",
            len(streets),
            found.errors,
            found.runner_up,
        )
        return found.street

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
