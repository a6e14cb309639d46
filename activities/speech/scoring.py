"""Forced scoring: Whisper's decoder gives the probability of a given text under the audio.

For each candidate address the address segment's transcript is rewritten with
"… {numéro} {voie} …" in place of what was heard, and scored (CTranslate2 `align`, which
returns the probability of every text token). The score compared is the log-likelihood ratio
against silence: log P(text | audio) - log P(text | silence). The second term removes what
the language model alone prefers (short names, common spellings, frequent numbers), which
otherwise outweighs the acoustic evidence. The items of a request are scored the same way
(items.py).
"""

from __future__ import annotations

import numpy as np

from activities.speech.model import SpeechModel
from domain.models import Segment

SCORING_BATCH = 16
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

    def __init__(self, speech: SpeechModel, audio: np.ndarray) -> None:
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
        features = model.feature_extractor(audio)
        frames = int(features.shape[-1])
        self.positions = min(1500, frames // 2 + 10)
        encoded = np.asarray(model.encode(pad_or_trim(features)))
        self.audio = np.ascontiguousarray(encoded[:, : self.positions])
        self.silence = speech.silence_encoding()

    def _run(
        self, encoded: np.ndarray, texts: list[str], keep: int = -1
    ) -> tuple[list[float], list[tuple[int, int]]]:
        """Sum of token log-probabilities per text; and the token → encoder position
        alignment of text number `keep` (-1: none)."""
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
