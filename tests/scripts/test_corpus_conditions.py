"""Audio conditions of the corpus on a synthetic tone (numpy; sox where installed; no TTS)."""

from __future__ import annotations

import random
import shutil

import pytest

from scripts.corpus import conditions

np = pytest.importorskip("numpy")
RATE = conditions.RATE


def tone(seconds: float = 1.0, peak: float = 0.3, hz: float = 440.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return (peak * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def band(audio, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(len(audio), 1 / RATE)
    return float(spectrum[np.abs(freqs - hz) < 20].max())


def test_params_are_seeded() -> None:
    for name in set(conditions.CONDITIONS):
        a = conditions.condition_params(name, random.Random(3), ["x", "y"])
        assert a == conditions.condition_params(name, random.Random(3), ["x", "y"])


@pytest.mark.parametrize("snr", [20, 10, 5])
def test_noise_at_the_snr_asked(snr: int) -> None:
    clean = tone()
    for color in ("pink", "brown"):
        params = {"snr_db": snr, "color": color, "noise_seed": 1}
        noisy = conditions.apply(clean, f"noise-snr{snr}", params)
        noise = noisy - clean
        measured = 20 * np.log10(np.sqrt(np.mean(clean**2)) / np.sqrt(np.mean(noise**2)))
        assert abs(measured - snr) < 0.5
        assert np.array_equal(noisy, conditions.apply(clean, f"noise-snr{snr}", params))


def test_clipping_padding_and_second_speaker() -> None:
    clean = tone()
    clipped = conditions.apply(clean, "clipped", {"gain_db": 12.0})
    assert np.abs(clipped).max() <= 1.0 and np.mean(np.abs(clipped) == 1.0) > 0.2
    padded = conditions.apply(
        clean, "silence-padded", {"lead_s": 2.0, "trail_s": 3.0, "noise_seed": 2}
    )
    assert len(padded) == len(clean) + 5 * RATE
    assert np.abs(padded[:RATE]).max() < 0.01
    other = tone(0.5, 0.5)
    mixed = conditions.apply(clean, "second-speaker", {"level_db": -15.0, "start": 0.2}, other)
    extra = mixed[: len(clean)] - clean
    level = 20 * np.log10(np.sqrt(np.mean(extra[extra != 0] ** 2)) / np.sqrt(np.mean(clean**2)))
    assert abs(level + 15.0) < 0.5


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
@pytest.mark.parametrize("codec", ["ulaw", "alaw", "gsm", "bandlimit"])
def test_telephone_line(codec: str) -> None:
    clean = tone() + tone(hz=6000.0)  # 300-3400 Hz keeps 440 Hz, removes 6 kHz
    out = conditions.apply(clean, codec, {})
    assert abs(len(out) - len(clean)) < RATE // 50
    assert np.isfinite(out).all()
    n = min(len(out), len(clean))
    assert band(out[:n], 440) > 0.5 * band(clean[:n], 440)
    assert band(out[:n], 6000) < 0.05 * band(clean[:n], 6000)


def test_pins_only_whole_words() -> None:
    from scripts.corpus.synth import ESPEAK_PINS, KOKORO_PINS, pin

    assert pin("dans le huitième.", KOKORO_PINS, True) == "dans le [huitième](/ɥitjˈɛm/)."
    assert pin("le zéro six", KOKORO_PINS, True) == "le [zéro](/zeɾˈo/) six"
    assert pin("le dix-huitième", KOKORO_PINS, True) == "le dix-huitième"
    assert pin("dans le huitième", ESPEAK_PINS, False) == "dans le [[yit'jEm]]"


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng or sox not installed",
)
def test_an_espeak_message_is_reproducible() -> None:
    """espeak-ng needs no model: one message end to end, twice, same samples."""
    from scripts.corpus.synth import Engines, render

    entry = {
        "text": "Bonjour, j'habite au douze rue Roubaud, dans le huitième.",
        "speaker": "ep-fr-m5-low",
        "speed": 1.0,
        "condition": "noise-snr10",
        "condition_params": {"snr_db": 10, "color": "pink", "noise_seed": 3},
    }
    first, second = render(entry, Engines()), render(entry, Engines())
    assert len(first) > RATE and np.array_equal(first, second)
