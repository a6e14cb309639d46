"""A live turn decoded over a window of its own length plus silence (activities/live/window.py)."""

from __future__ import annotations

import pytest

from activities.live.turns import TurnTaking
from activities.live.window import FULL_FRAMES, WINDOW_S, WindowedTurns, window_frames
from activities.live.work import INITIAL_PROMPTS, CallWork, pcm_to_float16k, turn_words
from activities.speech.engine import SpeechEngine
from corpus import DEMO_DIR
from domain.dialogue import Expect
from tests.fakes.audiosocket_client import load_slin8k


def test_the_window_is_the_turn_and_its_silence_even_and_never_past_30_s() -> None:
    assert window_frames(300, 6.0) == 900
    assert window_frames(301, 6.0) == 902  # the encoder halves it
    assert window_frames(2900, 6.0) == FULL_FRAMES
    assert window_frames(FULL_FRAMES, 0.0) == FULL_FRAMES


def _clip(name: str, start: float, end: float) -> bytes:
    pcm = load_slin8k(DEMO_DIR / "audio" / name)
    return pcm[int(start * 8000) * 2 : int(end * 8000) * 2]


@pytest.mark.parametrize(("beam", "expect"), [(1, ""), (5, ""), (1, Expect.YES_NO.value)])
def test_the_full_window_decodes_as_faster_whisper_does(
    stt: SpeechEngine, beam: int, expect: str
) -> None:
    # Same prompt, same suppressed tokens, same no-speech rule: over Whisper's own 30 s the
    # windowed decoding is faster-whisper's transcription, token for token.
    model = stt.model()
    audio = pcm_to_float16k(_clip("demo01.wav", 2.70, 6.45))
    prompt = INITIAL_PROMPTS.get(expect)
    full = WindowedTurns(model, float(WINDOW_S))
    mine = turn_words(model, audio, beam_size=beam, prompt=prompt, window=full)
    theirs = turn_words(model, audio, beam_size=beam, prompt=prompt)
    assert mine == theirs and theirs.startswith("J")


def test_a_short_window_hears_the_turn_and_does_not_loop(stt: SpeechEngine) -> None:
    # « je voudrais faire enlever un canapé et deux chaises » at 8 kHz, with the turns' pad:
    # padded by 1 s instead, Whisper base repeats short turns to its token limit.
    model = stt.model()
    audio = pcm_to_float16k(_clip("demo01.wav", 6.55, 9.60))
    heard = turn_words(model, audio, beam_size=1, prompt=None, window=WindowedTurns(model, 10.0))
    assert "canapé" in heard.lower() and len(heard) < 100


def test_silence_is_heard_as_nothing_in_a_short_window(stt: SpeechEngine) -> None:
    model = stt.model()
    audio = pcm_to_float16k(b"\x00\x00" * 8000)
    window = WindowedTurns(model, 10.0)
    assert turn_words(model, audio, beam_size=1, prompt=None, window=window) == ""


def test_a_call_encodes_its_longer_answers_short_and_its_yes_no_over_30_s(
    stt: SpeechEngine,
) -> None:
    # A « non » of a second, padded short, can come out a yes: the read-back keeps Whisper's
    # window whatever STT_WINDOW_PAD_S says.
    model = stt.model()
    work = CallWork(None, stt, None, None, None, turns=TurnTaking(stt_window_pad_s=10.0))  # type: ignore[arg-type]
    items = _clip("demo01.wav", 6.55, 9.60)
    windowed = turn_words(
        model, pcm_to_float16k(items), beam_size=1, prompt=None, window=WindowedTurns(model, 10.0)
    )
    assert work.transcribe(items, Expect.SPEECH) == windowed
    assert work.transcribe(items, Expect.ADDRESS) == windowed
    prompt = INITIAL_PROMPTS[Expect.YES_NO.value]
    full = turn_words(model, pcm_to_float16k(items), beam_size=1, prompt=prompt)
    assert work.transcribe(items, Expect.YES_NO) == full
    assert work.transcribe(items, Expect.DIGITS) == turn_words(
        model, pcm_to_float16k(items), beam_size=1, prompt=None
    )
