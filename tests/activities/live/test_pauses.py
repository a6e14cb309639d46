"""The long pauses inside a turn, shortened before transcription (activities/live/pauses.py)."""

from __future__ import annotations

import numpy as np

from activities.live.pauses import LONGEST_PAUSE_S, close_pauses

RATE = 16000


def tone(seconds: float, level: float = 0.3, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def hush(seconds: float, level: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (level * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def test_a_long_inner_pause_is_cut_to_the_longest_kept():
    audio = np.concatenate([hush(0.5), tone(1.0), hush(1.5), tone(1.2), hush(0.8)])
    closed = close_pauses(audio)
    # 1.5 s of pause become LONGEST_PAUSE_S; the leading and trailing silence stay.
    expected = len(audio) - int((1.5 - LONGEST_PAUSE_S) * RATE)
    assert abs(len(closed) - expected) <= 2 * int(0.02 * RATE)
    # Both stretches of speech are kept whole.
    loud = np.abs(closed) > 0.01
    assert abs(int(loud.sum()) - int((np.abs(audio) > 0.01).sum())) <= 2 * int(0.02 * RATE)


def test_short_pauses_are_left_as_they_are():
    audio = np.concatenate([tone(0.8), hush(LONGEST_PAUSE_S - 0.1), tone(0.8)])
    assert np.array_equal(close_pauses(audio), audio)


def test_line_noise_counts_as_a_pause():
    # Speech at 0.3 with noise at an SNR of about 20 dB in the pause and around it.
    noise = 0.02
    audio = np.concatenate(
        [tone(1.0) + hush(1.0, noise), hush(2.0, noise), tone(1.0) + hush(1.0, noise)]
    )
    assert len(close_pauses(audio)) < len(audio) - int(1.0 * RATE)


def test_silence_and_tiny_clips_come_back_unchanged():
    silent = hush(2.0)
    assert close_pauses(silent) is silent
    tiny = tone(0.03)
    assert close_pauses(tiny) is tiny


def test_speech_said_softer_is_no_pause():
    # A caller turning from the phone: a stretch at a twentieth of the loud level, far above
    # the clean line's floor, is speech and stays whole.
    audio = np.concatenate([tone(1.0), tone(1.5, level=0.015), tone(1.0), hush(0.7)])
    assert np.array_equal(close_pauses(audio), audio)


def test_each_long_pause_is_cut():
    audio = np.concatenate([tone(0.8), hush(1.2), tone(0.8), hush(1.5), tone(0.8)])
    expected = len(audio) - int((1.2 + 1.5 - 2 * LONGEST_PAUSE_S) * RATE)
    assert abs(len(close_pauses(audio)) - expected) <= 4 * int(0.02 * RATE)
