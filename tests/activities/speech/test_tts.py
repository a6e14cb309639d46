"""Offline TTS: both eSpeak NG engines, 8 kHz output, the prompt cache, clear errors."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from activities.speech import tts as tts_module
from activities.speech.tts import Tts, TtsError, resample_s16

TEXT = "Bonjour, vous êtes bien au service des encombrants. Quelle est votre adresse ?"

needs_cli = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="Debian's espeak-ng binary is not installed"
)


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def peak_hz(pcm: bytes, rate: int = 8000) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize("engine", ["espeak-ng", pytest.param("espeak-ng-cli", marks=needs_cli)])
def test_speaks_french_at_8khz(engine: str) -> None:
    pcm = Tts(engine=engine).synthesize(TEXT)
    assert len(pcm) % 2 == 0
    seconds = len(pcm) / 2 / 8000
    # ~13 words at 160 wpm: a few seconds, not a blip and not a stalled stream
    assert 3.0 < seconds < 9.0
    x = samples(pcm)
    assert np.sqrt(np.mean(x**2)) > 500  # audible speech, not silence
    # telephone band: nearly all the energy below 3.4 kHz, nothing folded back above 4 kHz
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / 8000)
    assert spectrum[freqs < 3400].sum() / spectrum.sum() > 0.95


def test_rate_changes_the_duration() -> None:
    slow = Tts(rate_wpm=120).synthesize(TEXT)
    fast = Tts(rate_wpm=260).synthesize(TEXT)
    assert len(fast) < 0.7 * len(slow)


def test_static_prompts_are_cached_on_disk_by_engine_voice_rate_and_text(tmp_path: Path) -> None:
    first = Tts(cache_dir=tmp_path)
    pcm = first.synthesize(TEXT, cache=True)
    files = list(tmp_path.glob("*.slin"))
    assert [f.name for f in files] == [f"{first.cache_key(TEXT)}.slin"]
    assert files[0].read_bytes() == pcm
    # a fresh instance (another worker, a restart) reads the file instead of synthesizing
    files[0].write_bytes(b"\x01\x00" * 10)
    assert Tts(cache_dir=tmp_path).synthesize(TEXT, cache=True) == b"\x01\x00" * 10
    # dynamic text is never cached
    Tts(cache_dir=tmp_path).synthesize("Le 12 rue de la République.")
    assert len(list(tmp_path.glob("*.slin"))) == 1
    keys = {
        Tts().cache_key(TEXT),
        Tts(voice="fr-be").cache_key(TEXT),
        Tts(rate_wpm=170).cache_key(TEXT),
        Tts(engine="espeak-ng-cli").cache_key(TEXT),
        Tts().cache_key(TEXT + "!"),
    }
    assert len(keys) == 5
    assert not list(tmp_path.glob("*.tmp"))


def test_errors_are_named() -> None:
    with pytest.raises(TtsError, match="unknown TTS engine"):
        Tts(engine="festival")
    with pytest.raises(TtsError, match="rate"):
        Tts(rate_wpm=5)
    with pytest.raises(TtsError, match="no voice"):
        Tts(voice="xx-nothing").synthesize("bonjour")
    assert Tts().synthesize("   ") == b""


@needs_cli
def test_cli_engine_reports_a_bad_voice() -> None:
    with pytest.raises(TtsError, match="espeak-ng failed"):
        Tts(engine="espeak-ng-cli", voice="xx-nothing").synthesize("bonjour")


def test_cli_engine_without_the_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts_module.shutil, "which", lambda _name: None)
    with pytest.raises(TtsError, match="apt install espeak-ng"):
        Tts(engine="espeak-ng-cli").synthesize("bonjour")


def test_resampling_keeps_pitch_and_duration() -> None:
    t = np.arange(22050) / 22050
    pcm = (10000 * np.sin(2 * math.pi * 1000 * t)).astype("<i2").tobytes()
    out = resample_s16(pcm, 22050)
    assert abs(len(out) / 2 - 8000) <= 40
    assert peak_hz(out) == pytest.approx(1000, abs=5)
    # a 6 kHz tone cannot exist at 8 kHz: filtered out, not aliased to 2 kHz
    high = (10000 * np.sin(2 * math.pi * 6000 * t)).astype("<i2").tobytes()
    assert np.sqrt(np.mean(samples(resample_s16(high, 22050)) ** 2)) < 200


def test_no_audio_error_does_not_carry_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # A read-back holds the caller's address and this error is logged: its length only.
    # eSpeak speaks even punctuation, so the empty result is forced here.
    monkeypatch.setattr(tts_module._EspeakLibrary, "synthesize", lambda *_args: b"")
    address = "Le 12 rue de la République, 13001 Marseille."
    with pytest.raises(TtsError, match="no audio") as raised:
        Tts().synthesize(address)
    assert "République" not in str(raised.value) and str(len(address)) in str(raised.value)
