"""Audio of a planned message: the speaker's voice (Kokoro or espeak-ng), its pitch shift,
then the condition; 16 kHz mono 16-bit WAV.

Kokoro goes through scripts/make_demo_voicemails.py (its phonemizer with the French fixes,
its ONNX runner, resampling and WAV writer are imported, not copied); blends are added to its
table of style vectors. espeak-ng is the Debian binary.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
import wave
from pathlib import Path

from . import conditions
from .voices import BY_ID, ESPEAK_WPM, Speaker

RATE = 16_000
# Words whose espeak phonemes are wrong or badly understood (see make_demo_voicemails.py).
KOKORO_PINS = {"huitième": "ɥitjˈɛm", "zéro": "zeɾˈo"}
ESPEAK_PINS = {"huitième": "[[yit'jEm]]"}


def demo_module():
    from scripts import make_demo_voicemails

    return make_demo_voicemails


def pin(text: str, pins: dict[str, str], kokoro: bool) -> str:
    for word, phonemes in pins.items():
        repl = f"[{word}](/{phonemes}/)" if kokoro else phonemes
        text = re.sub(rf"(?<![\w-]){word}(?![\w-])", repl, text)
    return text


class Engines:
    """Loaded once per process (Kokoro: ~2 s and ~300 MB)."""

    def __init__(self) -> None:
        self.demo = demo_module()
        self._g2p = None
        self._tts = None
        self.seconds = {"kokoro": 0.0, "espeak": 0.0}

    def _kokoro(self):
        if self._tts is None:
            self._g2p, self._tts = self.demo.Phonemizer(), self.demo.Kokoro()
        return self._g2p, self._tts

    def kokoro(self, text: str, speaker: Speaker, speed: float):
        g2p, tts = self._kokoro()
        if speaker.blend and speaker.voice not in tts.voices:
            tts.voices[speaker.voice] = sum(w * tts.voices[v] for v, w in speaker.blend)
        say = pin(text, KOKORO_PINS, kokoro=True)
        spec = {"id": "", "say": say, "voice": speaker.voice, "speed": speed}
        audio, _ = self.demo.synthesize(spec, g2p, tts)
        return audio

    def espeak(self, text: str, speaker: Speaker, speed: float):
        import numpy as np

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "e.wav"
            cmd = [
                "espeak-ng",
                "-v",
                speaker.voice,
                "-s",
                str(round(ESPEAK_WPM * speed)),
                "-p",
                str(speaker.espeak_pitch),
                "-w",
                str(path),
                pin(text, ESPEAK_PINS, kokoro=False),
            ]
            subprocess.run(cmd, check=True, capture_output=True)
            with wave.open(str(path)) as w:
                rate = w.getframerate()
                pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        audio = self.demo.resample(pcm.astype(np.float32) / 32768.0, rate, RATE)
        audio = np.concatenate([np.zeros(int(0.25 * RATE)), audio, np.zeros(int(0.15 * RATE))])
        return conditions.peak_normalise(audio.astype(np.float32))

    def voice(self, text: str, speaker: Speaker, speed: float):
        started = time.perf_counter()
        if speaker.engine == "kokoro":
            audio = self.kokoro(text, speaker, speed)
        else:
            audio = self.espeak(text, speaker, speed)
        if speaker.pitch_cents:
            audio = conditions.peak_normalise(
                conditions.sox(audio, ["pitch", str(speaker.pitch_cents)])
            )
        self.seconds[speaker.engine] += time.perf_counter() - started
        return audio


def render(entry: dict, engines: Engines):
    """The message's audio (float32, 16 kHz), condition applied."""
    speaker = BY_ID[entry["speaker"]]
    audio = conditions.peak_normalise(engines.voice(entry["text"], speaker, entry["speed"]))
    params = entry["condition_params"]
    background = None
    if entry["condition"] == "second-speaker":
        background = engines.voice(params["text"], BY_ID[params["speaker"]], 1.0)
    return conditions.apply(audio, entry["condition"], params, background)


_ENGINES: Engines | None = None


def synthesise_one(entry: dict, out: Path) -> dict:
    """Render and write one message; returns its timing (for the manifest)."""
    global _ENGINES
    if _ENGINES is None:
        _ENGINES = Engines()
    before = dict(_ENGINES.seconds)
    started = time.perf_counter()
    audio = render(entry, _ENGINES)
    path = out / entry["audio"]
    _ENGINES.demo.write_wav(path, audio)  # 16 kHz mono 16-bit PCM
    engine = BY_ID[entry["speaker"]].engine
    return {
        "id": entry["id"],
        "engine": engine,
        "audio_s": round(len(audio) / RATE, 2),
        "tts_s": round(sum(_ENGINES.seconds.values()) - sum(before.values()), 3),
        "total_s": round(time.perf_counter() - started, 3),
    }
