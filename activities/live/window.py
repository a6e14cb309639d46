"""A live turn transcribed over a shorter encoder window than Whisper's 30 s.

faster-whisper pads every clip to 30 s before Whisper's encoder (1.0 CPU-s on 2 cores
whatever the clip), and a caller's turn is 1-5 s: the encoder is most of the turn's
transcription, which the caller waits for. CTranslate2's encoder takes shorter features (the
address vote already encodes its clip at its own length, activities/speech/scoring.py), so
here the turn is padded to its own length plus `pad_s` of silence and decoded greedily or
with the turn's beam as faster-whisper would (same prompt, same suppressed tokens, same
no-speech rule; tests/activities/live/test_window.py checks the 30-s window gives
faster-whisper's own text).

Whisper was trained on 30-s windows: with too little silence after the speech it does not
end, « Oui. Oui. Oui. … » to the token limit for a lone « oui » padded by 1-2 s (the 112
spoken turns of `make replay-calls`); from 6 s of silence runaway transcripts are about as
rare as at 30 s (`make bench-turn-window`: 6, 5 and 3 of 147 answers at +6, +10 and +15 s,
4 at 30 s). The window is not the default: README "The shorter window again".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
# Whisper's full window, in seconds and in feature frames (10 ms each).
WINDOW_S = 30
FULL_FRAMES = WINDOW_S * 100
# faster-whisper's defaults for transcribe(): a window is skipped as silence when Whisper
# gives it this probability of no speech and its tokens this average log-probability or less.
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
# Whisper's own bound on a window's tokens, prompt included.
MAX_LENGTH = 448


@dataclass(frozen=True)
class Heard:
    """One window's text (a faster-whisper segment's two fields the turn reads)."""

    text: str
    no_speech_prob: float


def window_frames(frames: int, pad_s: float) -> int:
    """The encoder's input length for a clip of `frames` feature frames: even (the encoder
    halves it), at most Whisper's 30 s."""
    n = min(FULL_FRAMES, frames + round(pad_s * 100))
    return n + n % 2


class WindowedTurns:
    """Decodes turns for one loaded faster-whisper model (its tokenizer built once)."""

    def __init__(self, model: Any, pad_s: float, language: str = "fr") -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.pad_s = pad_s
        self.tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        self.suppress = list(get_suppressed_tokens(self.tokenizer, [-1]))

    def segments(self, clip: np.ndarray, *, beam_size: int, prompt: str | None) -> list[Heard]:
        """What Whisper writes for `clip` (16 kHz float, under 30 s) padded by `pad_s`;
        nothing when the window is taken as silence."""
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(clip)
        # The extractor adds one frame of padding, which faster-whisper leaves out too.
        frames = min(FULL_FRAMES, int(features.shape[-1]) - 1)
        encoded = self.model.encode(
            pad_or_trim(features[:, :frames], window_frames(frames, self.pad_s))
        )
        tokenizer = self.tokenizer
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
        start = self.model.get_prompt(tokenizer, previous, without_timestamps=True)
        result = self.model.model.generate(
            encoded,
            [start],
            beam_size=beam_size,
            patience=1,
            length_penalty=1,
            repetition_penalty=1,
            no_repeat_ngram_size=0,
            max_length=MAX_LENGTH,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
        )[0]
        tokens = result.sequences_ids[0]
        # As faster-whisper recovers it from the length-normalised score (penalty 1).
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD:
            return []
        text = tokenizer.decode([t for t in tokens if t < tokenizer.eot]).strip()
        return [Heard(text, float(result.no_speech_prob))]
