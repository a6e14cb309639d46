"""The decoded audio of a message, kept on the worker between its speech-to-text activities
(issue 15): the transcription decodes it, and the address and item votes that follow on the
same worker (the workflow routes them to that worker's own task queue) read it from here
instead of fetching, decrypting and decoding the recording again.

What is kept is the 16 kHz mono float32 audio only. The encoder outputs are not: the votes
encode clips of their own (the address clip padded by 200 frames, the items' clip padded to
30 s) and the transcription encodes the voice-activity chunks of the whole message; none of
them is another's input, so none could be reused without changing a score (README, "The audio
vote, side by side"). A miss (another worker, an entry evicted, a restarted worker) decodes
again: the cache saves time, never decides anything.

Bounded in entries, bytes and age; the address vote, the last STT activity of a message,
drops its entry. The voice stays in memory only, never on disk, and for minutes at most."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from activities.audio_store import AudioStore, is_remote
from activities.speech.audio import load_audio

__all__ = ["FeatureCache", "MessageAudio"]


@dataclass
class _Entry:
    audio: np.ndarray
    stored_at: float


class FeatureCache:
    """LRU of decoded audio by (call id, audio reference), bounded in entries and bytes, each
    entry kept `ttl_s` at most. Thread-safe: the activities run in a thread pool."""

    def __init__(
        self,
        *,
        max_entries: int = 32,
        max_bytes: int = 64 * 1024 * 1024,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes

    def get(self, call_id: str, ref: str) -> np.ndarray | None:
        with self._lock:
            key = (call_id, ref)
            # Every expired entry goes, not only this one: a message no vote followed leaves
            # at the next use of the cache after its TTL.
            self._sweep(self._clock())
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.audio

    def _sweep(self, now: float) -> None:
        for old in [k for k, e in self._entries.items() if now - e.stored_at > self.ttl_s]:
            self._remove(old)

    def put(self, call_id: str, ref: str, audio: np.ndarray) -> None:
        """Keeps `audio` (made read-only: every reader gets the same array); an audio larger
        than the whole budget is not kept."""
        if not call_id or audio.nbytes > self.max_bytes or self.max_entries <= 0:
            return
        audio.setflags(write=False)
        with self._lock:
            key = (call_id, ref)
            if key in self._entries:
                self._remove(key)
            self._entries[key] = _Entry(audio, self._clock())
            self._bytes += audio.nbytes
            self._sweep(self._clock())
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def drop(self, call_id: str) -> None:
        """Forget every entry of a message (its last STT activity is done)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == call_id]:
                self._remove(key)

    def _remove(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.audio.nbytes


class MessageAudio:
    """How the STT activities get a message's decoded audio: from the worker's cache, else
    fetched from the audio store (a private local file for an object-store reference) and
    decoded, then kept for the message's next activity."""

    def __init__(
        self,
        max_duration_s: float,
        *,
        store: AudioStore | None = None,
        cache: FeatureCache | None = None,
    ) -> None:
        self._max_duration_s = max_duration_s
        self._store = store
        self.cache = cache

    def loader(self, call_id: str, ref: str) -> Callable[[], np.ndarray]:
        """The audio of `ref`, loaded when first called (a vote that finds nothing to score
        never pays for it), at most once per call of this loader."""
        loaded: list[np.ndarray] = []

        def load() -> np.ndarray:
            if not loaded:
                loaded.append(self._load(call_id, ref))
            return loaded[0]

        return load

    def drop(self, call_id: str) -> None:
        if self.cache is not None and call_id:
            self.cache.drop(call_id)

    def _load(self, call_id: str, ref: str) -> np.ndarray:
        if self.cache is not None and call_id:
            cached = self.cache.get(call_id, ref)
            if cached is not None:
                return cached
        with self._local(ref) as path:
            audio = load_audio(path, self._max_duration_s)
        if self.cache is not None and call_id:
            self.cache.put(call_id, ref, audio)
        return audio

    def _local(self, ref: str) -> AbstractContextManager[Path]:
        if self._store is not None and is_remote(ref):
            # The object store's audio, in a private file for the time of the decoding only.
            return self._store.local(ref)
        return nullcontext(Path(ref))
