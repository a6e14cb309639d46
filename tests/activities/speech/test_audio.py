"""Audio decoding of `transcribe_voicemail` on malformed and unusual inputs (the fast part of
the bad-input proof; the full 1,000 inputs through the workflow are tests/workers/
test_bad_input.py, slow): every file is either decoded or refused as AUDIO_UNUSABLE,
non-retryable, quickly — an hours-long file included, which is refused without decoding it
whole."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from temporalio.exceptions import ApplicationError

from activities.speech.audio import SAMPLE_RATE, decode_bounded, load_audio
from corpus import DEMO_DIR
from domain.errors import AUDIO_UNUSABLE
from tests.fakes.bad_audio import SPEECH, UNUSABLE, encode, generate, wav_bytes

MAX_S = 300.0


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list:
    return generate(tmp_path_factory.mktemp("bad"), [DEMO_DIR / "audio" / "demo01.wav"], count=150)


def classify(path: Path) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        load_audio(path, MAX_S)
        outcome = "decoded"
    except ApplicationError as err:
        assert err.type == AUDIO_UNUSABLE and err.non_retryable, err
        outcome = "unusable"
    return outcome, time.perf_counter() - started


def test_every_input_is_decoded_or_refused_quickly(inputs: list) -> None:
    assert len(inputs) >= 150
    slowest = 0.0
    for item in inputs:
        outcome, seconds = classify(item.path)
        slowest = max(slowest, seconds)
        if item.expect == UNUSABLE:
            assert outcome == "unusable", item.path.name
        elif item.expect == SPEECH:
            assert outcome == "decoded", item.path.name
    # The slowest is the hour of audio, stopped after max_duration_s of it.
    assert slowest < 10.0


def test_valid_forms_decode_to_the_same_duration(inputs: list) -> None:
    reference = decode_bounded(DEMO_DIR / "audio" / "demo01.wav", MAX_S)
    for item in inputs:
        if item.expect != SPEECH:
            continue
        audio = decode_bounded(item.path, MAX_S)
        # Codecs pad (mp3 frames, opus pre-skip): a few tens of milliseconds at most.
        assert abs(len(audio) - len(reference)) / SAMPLE_RATE < 0.2, item.path.name


def test_hours_long_compressed_file_is_refused_without_decoding_it_all(tmp_path: Path) -> None:
    tone = (np.sin(np.arange(8000 * 60 * 20) * 0.05) * 3000).astype(np.int16)
    path = tmp_path / "twenty-minutes.mp3"
    path.write_bytes(encode(tone, 8000, "mp3", "libmp3lame"))
    started = time.perf_counter()
    with pytest.raises(ApplicationError, match="trop long") as err:
        load_audio(path, 60.0)
    assert err.value.type == AUDIO_UNUSABLE
    # Stopping after ~61 s of 20 minutes: a fraction of a full decode.
    assert time.perf_counter() - started < 3.0


def test_header_claiming_hours_over_a_short_body_is_judged_by_its_content(tmp_path: Path) -> None:
    speech = (DEMO_DIR / "audio" / "demo01.wav").read_bytes()[44:]
    path = tmp_path / "lies.wav"
    path.write_bytes(wav_bytes(speech, rate=16000, data_size=0xFFFFFFF0))
    audio = load_audio(path, MAX_S)
    assert 5.0 < len(audio) / SAMPLE_RATE < 20.0


def test_a_corrupt_packet_mid_message_costs_only_itself(tmp_path: Path) -> None:
    from tests.fakes.bad_audio import read_wav

    pcm, rate = read_wav(DEMO_DIR / "audio" / "demo01.wav")
    blob = encode(pcm, rate, "mp3", "libmp3lame")
    cut = len(blob) // 3
    damaged = tmp_path / "glitch.mp3"
    damaged.write_bytes(blob[:cut] + bytes(range(256)) * 8 + blob[cut + 2048 :])
    whole = len(pcm) / rate
    heard = len(load_audio(damaged, MAX_S)) / SAMPLE_RATE
    # About 2 KiB of a 64 kbit/s stream lost (~0.3 s), not everything after it.
    assert whole - 1.0 < heard <= whole + 0.2
