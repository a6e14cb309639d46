"""Offline French text-to-speech for live calls: text in, slin16 8 kHz mono out.

Two engines, the same voice (eSpeak NG), configurable:
- "espeak-ng" (default): libespeak-ng and its data as bundled by the PyPI wheel
  `espeakng-loader`, called in-process through ctypes; nothing to install beside pip.
- "espeak-ng-cli": Debian's `espeak-ng` binary in a subprocess, for hosts that prefer the
  distribution's build (or another data set).
eSpeak speaks at 22.05 kHz; the telephone leg wants 8 kHz, so the output is resampled with
libswresample (PyAV, already a dependency for decoding voicemails).

Static prompts (greeting, menus) are cached on disk, keyed by engine + voice + rate + text, so a
restart does not re-synthesize them; dynamic text (an address read back) is never cached.
Not an activity itself: the live-call activity calls it in-process between turns.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np

log = logging.getLogger(__name__)

OUTPUT_RATE = 8000
ENGINES = ("espeak-ng", "espeak-ng-cli")
# The ctypes binding: see speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE = 1
_ESPEAK_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_SYNTH_TIMEOUT_S = 30.0


class TtsError(RuntimeError):
    """The speech engine is missing, refused the voice, or failed."""


def resample_s16(pcm: bytes, rate_in: int, rate_out: int = OUTPUT_RATE) -> bytes:
    """Mono slin16 from rate_in to rate_out (anti-aliased, libswresample)."""
    if rate_in == rate_out or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = rate_in
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_out)
    out = [f.to_ndarray() for f in resampler.resample(frame)]
    out += [f.to_ndarray() for f in resampler.resample(None)]
    if not out:
        return b""
    return np.concatenate(out, axis=1).astype("<i2").tobytes()


class _EspeakLibrary:
    """libespeak-ng from the espeakng-loader wheel. The library is one global state per process
    and not thread-safe: every use goes through one lock."""

    _lock = threading.Lock()
    _instance: _EspeakLibrary | None = None

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise TtsError(
                "TTS engine espeak-ng needs the PyPI package espeakng-loader "
                "(or use engine espeak-ng-cli with Debian's espeak-ng)"
            ) from exc
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise TtsError(f"cannot load libespeak-ng: {exc}") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if rate <= 0:
            raise TtsError(f"libespeak-ng failed to initialize (data at {data.decode()})")
        self.rate = int(rate)
        self._lib = lib
        self._chunks: list[bytes] = []
        callback_type = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
        )
        # Kept on self: ctypes callbacks die with their Python object.
        self._callback = callback_type(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    @classmethod
    def get(cls) -> _EspeakLibrary:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def synthesize(self, text: str, voice: str, rate_wpm: int) -> bytes:
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise TtsError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(_ESPEAK_RATE, rate_wpm, 0)
            self._chunks = []
            encoded = text.encode("utf-8")
            status = self._lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None
            )
            if status != 0:
                raise TtsError(f"espeak-ng synthesis failed (status {status})")
            self._lib.espeak_Synchronize()
            pcm, self._chunks = b"".join(self._chunks), []
        return pcm


def _parse_streamed_wav(data: bytes) -> tuple[bytes, int]:
    """PCM and rate of a WAV written to a pipe: espeak-ng cannot seek back to fill in the
    lengths, so the chunk sizes are bogus and the data runs to the end of the stream."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TtsError("espeak-ng did not write a WAV stream")
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            channels = int.from_bytes(data[pos + 10 : pos + 12], "little")
            rate = int.from_bytes(data[pos + 12 : pos + 16], "little")
            bits = int.from_bytes(data[pos + 22 : pos + 24], "little")
            if channels != 1 or bits != 16:
                raise TtsError(f"unexpected espeak-ng output: {channels} ch, {bits} bits")
        elif chunk == b"data":
            pcm = data[pos + 8 :]
            return pcm[: len(pcm) - len(pcm) % 2], rate
        pos += 8 + size
    raise TtsError("espeak-ng wrote no audio")


def _synthesize_cli(text: str, voice: str, rate_wpm: int) -> tuple[bytes, int]:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise TtsError(
            "TTS engine espeak-ng-cli needs the espeak-ng binary (apt install espeak-ng)"
        )
    try:
        done = subprocess.run(
            [binary, "-v", voice, "-s", str(rate_wpm), "--stdout", "-b", "1", "--stdin"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=_SYNTH_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TtsError(f"espeak-ng took over {_SYNTH_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        raise TtsError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
    return _parse_streamed_wav(done.stdout)


class Tts:
    """Text to slin16 8 kHz mono with eSpeak NG; see the module docstring for the engines."""

    def __init__(
        self,
        engine: str = "espeak-ng",
        voice: str = "fr",
        rate_wpm: int = 160,
        cache_dir: Path | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise TtsError(f"unknown TTS engine {engine!r} (known: {', '.join(ENGINES)})")
        if not 80 <= rate_wpm <= 450:
            raise TtsError(f"speech rate {rate_wpm} wpm out of range (80-450)")
        self.engine = engine
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.cache_dir = cache_dir
        self._memory: dict[str, bytes] = {}

    def cache_key(self, text: str) -> str:
        material = "\x1f".join((self.engine, self.voice, str(self.rate_wpm), text))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def synthesize(self, text: str, *, cache: bool = False) -> bytes:
        """Speak `text`. cache=True for static prompts: kept in memory and under cache_dir."""
        text = text.strip()
        if not text:
            return b""
        if not cache:
            return self._synthesize(text)
        key = self.cache_key(text)
        if key in self._memory:
            return self._memory[key]
        path = self.cache_dir / f"{key}.slin" if self.cache_dir is not None else None
        if path is not None and path.is_file():
            pcm = path.read_bytes()
        else:
            pcm = self._synthesize(text)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Written aside then renamed: another worker never reads half a prompt.
                tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_bytes(pcm)
                tmp.replace(path)
        self._memory[key] = pcm
        return pcm

    def _synthesize(self, text: str) -> bytes:
        if self.engine == "espeak-ng":
            library = _EspeakLibrary.get()
            pcm, rate = library.synthesize(text, self.voice, self.rate_wpm), library.rate
        else:
            pcm, rate = _synthesize_cli(text, self.voice, self.rate_wpm)
        if not pcm:
            # Not the text itself: a read-back carries the caller's address, and this error
            # ends up in the logs.
            raise TtsError(f"{self.engine} produced no audio for a text of {len(text)} chars")
        return resample_s16(pcm, rate)
