"""Forced scoring: Whisper's decoder gives the probability of a given text under the audio.

For each candidate address the address segment's transcript is rewritten with
"… {numéro} {voie} …" in place of what was heard, and scored (CTranslate2 `align`, which
returns the probability of every text token). The score compared is the log-likelihood ratio
against silence: log P(text | audio) - log P(text | silence). The second term removes what
the language model alone prefers (short names, common spellings, frequent numbers), which
otherwise outweighs the acoustic evidence. The items of a request are scored the same way
(items.py).

Cost (bench/profile_speech.py, 8 development voicemails, 2 cores): the encoder dominated, as
Whisper's encoder was run on the clip padded to 30 s (1.0 CPU-s per clip, whatever its length);
the clip is now encoded at its own length plus a margin of padding (~0.1 CPU-s for 6 s), which
ranks the candidate addresses as before on the development set (bench/bench_scoring.py).
The items keep the 30-s padding (`pad_frames=None`): their vote is a margin against a fixed
threshold (domain.understanding), and one development voicemail sits on it. The texts are
deduplicated and sent to `align` in length-sorted batches (less padding in the decoder).
`legacy=True` keeps the former computation for the side-by-side benchmark and the tests.
"""

from __future__ import annotations

import numpy as np

from activities.speech.model import SpeechModel
from domain.models import Segment

SCORING_BATCH = 16
# Frames of silence (10 ms each) appended after the clip before encoding: the encoder's
# attention then sees the clip followed by padding as in training, at a fraction of the
# 3,000-frame cost.
ENCODE_PAD_FRAMES = 200
# Audio kept around the segments that hold what is scored.
CLIP_BEFORE_S = 0.15
CLIP_AFTER_S = 0.25
MAX_CLIP_S = 28.0
AFTER_STREET_POSITIONS = 25  # audio kept after the street name when scoring numbers


def segment_spans(text: str, segments: list[Segment]) -> list[tuple[int, int, Segment]]:
    """Character span of each segment's text inside the transcript."""
    spans = []
    pos = 0
    for seg in segments:
        if not seg.text:
            continue
        at = text.find(seg.text, pos)
        if at < 0:
            continue
        spans.append((at, at + len(seg.text), seg))
        pos = at + len(seg.text)
    return spans


class Scorer:
    """Batched forced scoring of texts against one encoded clip."""

    def __init__(
        self,
        speech: SpeechModel,
        audio: np.ndarray,
        *,
        legacy: bool = False,
        pad_frames: int | None = ENCODE_PAD_FRAMES,
    ) -> None:
        import ctranslate2
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        model = speech.model()
        self._ct2 = ctranslate2
        self.model = model
        self.tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=speech.settings.language,
        )
        self.legacy = legacy
        features = model.feature_extractor(audio)
        frames = int(features.shape[-1])
        self.positions = min(1500, frames // 2 + 10)
        if legacy or pad_frames is None:
            padded = pad_or_trim(features)
        else:
            # Even length: the encoder halves the frames.
            n = min(3000, frames + pad_frames)
            padded = pad_or_trim(features, n + n % 2)
        encoded = np.asarray(model.encode(padded))
        self.audio = np.ascontiguousarray(encoded[:, : self.positions])
        self.silence = speech.silence_encoding()

    def _run(
        self, encoded: np.ndarray, texts: list[str], keep: int = -1
    ) -> tuple[list[float], list[tuple[int, int]]]:
        """Sum of token log-probabilities per text; and the token → encoder position
        alignment of text number `keep` (-1: none)."""
        if not self.legacy and keep < 0:
            return self._run_batched(encoded, texts), []
        out: list[float] = []
        kept: list[tuple[int, int]] = []
        for i in range(0, len(texts), SCORING_BATCH):
            chunk = texts[i : i + SCORING_BATCH]
            tokens = [self.tokenizer.encode(" " + t.strip()) for t in chunk]
            batch = np.ascontiguousarray(np.repeat(encoded, len(chunk), axis=0))
            results = self.model.model.align(
                self._ct2.StorageView.from_array(batch),
                self.tokenizer.sot_sequence,
                tokens,
                2 * encoded.shape[1],
            )
            for j, r in enumerate(results):
                probs = np.maximum(np.asarray(r.text_token_probs, dtype=np.float64), 1e-12)
                out.append(float(np.log(probs).sum()))
                if i + j == keep:
                    kept = [(int(a), int(b)) for a, b in r.alignments]
        return out, kept

    def _run_batched(self, encoded: np.ndarray, texts: list[str]) -> list[float]:
        """As _run, each distinct token sequence aligned once, in batches of similar length
        (the decoder pads a batch to its longest text)."""
        tokens = {t: self.tokenizer.encode(" " + t.strip()) for t in texts}
        distinct = sorted(tokens, key=lambda t: len(tokens[t]))
        scores: dict[str, float] = {}
        for i in range(0, len(distinct), SCORING_BATCH):
            chunk = distinct[i : i + SCORING_BATCH]
            batch = np.ascontiguousarray(np.repeat(encoded, len(chunk), axis=0))
            results = self.model.model.align(
                self._ct2.StorageView.from_array(batch),
                self.tokenizer.sot_sequence,
                [tokens[t] for t in chunk],
                2 * encoded.shape[1],
            )
            for t, r in zip(chunk, results, strict=True):
                probs = np.maximum(np.asarray(r.text_token_probs, dtype=np.float64), 1e-12)
                scores[t] = float(np.log(probs).sum())
        return [scores[t] for t in texts]

    def ratio(self, texts: list[str], positions: int = 0) -> list[float]:
        """log P(text | audio) - log P(text | silence), per text; `positions` limits the
        audio to its first encoder positions (20 ms each)."""
        audio = self.audio if not positions else self.audio[:, :positions]
        heard, _ = self._run(np.ascontiguousarray(audio), texts)
        prior, _ = self._run(self.silence, texts)
        return [round(h - p, 3) for h, p in zip(heard, prior, strict=True)]

    def end_of(self, text: str, head: str) -> int:
        """Encoder position (exclusive) where `head`, the beginning of `text`, ends in the
        audio, from the forced alignment of `text`; 0 when it cannot be told."""
        n_head = len(self.tokenizer.encode(" " + head.strip()))
        _, alignment = self._run(self.audio, [text], keep=0)
        times = [t for k, t in alignment if k == n_head - 1]
        if not times:
            return 0
        return min(self.positions, max(times) + AFTER_STREET_POSITIONS)
