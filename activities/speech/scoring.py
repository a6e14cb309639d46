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

Pruning (`ratio_pruned`, staged_scores): a hypothesis whose ratio provably cannot come within
PRUNE_MARGIN_NATS of the best is not aligned on the audio. The proof needs its prior
log P(text | silence), so every text is still scored against silence (60 encoder positions,
about half the cost of an audio-side text): without it there is no bound, as the ratio of a
text unlikely under silence can be large whatever its audio log-probability. The bound prunes
few texts (README, "The audio vote, side by side"); a looser, measured margin would prune
more but could change decisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from activities.speech.model import SpeechModel
from domain.models import Segment

SCORING_BATCH = 16
# Texts per `align` call for the address vote: on 2 cores, 4 costs ~25 % less CPU per text
# than 16 (the decoder's cross-attention keys and values of a batch of 16 over ~300 encoder
# positions do not fit in cache; measured 24-26 vs 30-36 ms per audio-side text, 13-17 vs
# 19-23 ms on silence). The items keep 16: their margin threshold sits on one development
# voicemail's score, and another batch moves scores by float noise.
ADDRESS_BATCH = 4
# Frames of silence (10 ms each) appended after the clip before encoding: the encoder's
# attention then sees the clip followed by padding as in training, at a fraction of the
# 3,000-frame cost.
ENCODE_PAD_FRAMES = 200
# Audio kept around the segments that hold what is scored.
CLIP_BEFORE_S = 0.15
CLIP_AFTER_S = 0.25
MAX_CLIP_S = 28.0
AFTER_STREET_POSITIONS = 25  # audio kept after the street name when scoring numbers
# A text whose ratio cannot come within this many nats of the best one's is not scored on the
# audio (staged_scores). In the resolver's softmax (temperature 1.1 nats) such a text weighs
# at most e^-13.6 ≈ 1e-6 of the best: the decision and its confidence stay those of the
# texts all scored.
PRUNE_MARGIN_NATS = 15.0
PRUNE_BATCH = 8  # texts aligned on the audio per stage

Token = tuple[int, ...]


def staged_scores(
    tokens: Sequence[Sequence[int]],
    prior: Sequence[float],
    bonus: Sequence[float],
    heard: Callable[[list[int]], list[np.ndarray]],
    keep: Collection[int] = (),
    margin: float = PRUNE_MARGIN_NATS,
    batch: int = PRUNE_BATCH,
    apart: Collection[int] = (),
) -> tuple[list[float], list[bool]]:
    """Ratios log P(text | audio) - log P(text | silence) of the texts, the audio side
    computed in stages and only for texts that can still come within `margin` of the best.

    `prior` is log P(text | silence) of every text (cheap: 60 encoder positions); `bonus` the
    evidence the decision adds to each ratio (words heard, locality); `heard(indexes)` the
    audio log-probability of every token of those texts; `keep` the texts always scored;
    `apart` texts always scored that take no part in the decision (the transcript itself,
    compared with the best street afterwards: it must not set the best).
    The bound: every token's log-probability is ≤ 0, and the decoder is causal, so a text's
    audio log-probability is at most that of its first tokens, which a text already scored
    gives when it starts with the same tokens (the transcript before the address, the street
    type, the first words of a number). Its ratio is then at most that minus its prior. The
    texts are scored in decreasing order of that bound, and the scoring stops when the best
    bound left is more than `margin` below the best ratio found: no text left can win, or
    weigh in the softmax. Returns the ratios (the bound for texts not scored) and which
    were scored."""
    n = len(tokens)
    kept = set(keep) | set(apart)
    # Per text: the most tokens it shares at its start with a scored text, and their audio
    # log-probability (0 while no scored text shares any).
    shared = [0] * n
    head = [0.0] * n
    scores = [0.0] * n
    scored = [False] * n
    best = -math.inf

    def bound(k: int) -> float:
        return head[k] - prior[k] + bonus[k]

    first = (
        sorted(kept)
        + sorted((k for k in range(n) if k not in kept), key=lambda k: prior[k] - bonus[k])[
            : max(0, batch - len(kept))
        ]
    )
    stage = first
    while stage:
        for j, logps in zip(stage, heard(stage), strict=True):
            scores[j] = float(logps.sum()) - prior[j]
            scored[j] = True
            if j not in apart:
                best = max(best, scores[j] + bonus[j])
            cumulative = np.concatenate([[0.0], np.cumsum(logps)])
            for k in range(n):
                if scored[k]:
                    continue
                m = _shared_start(tokens[j], tokens[k])
                if m > shared[k]:
                    shared[k] = m
                    head[k] = float(cumulative[m])
        left = [k for k in range(n) if not scored[k] and bound(k) >= best - margin]
        stage = sorted(left, key=lambda k: -bound(k))[:batch]
    for k in range(n):
        if not scored[k]:
            scores[k] = bound(k) - bonus[k]
    return scores, scored


def _shared_start(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


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
        batch: int = SCORING_BATCH,
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
        self.batch = batch
        self.replicas = max(1, int(model.model.num_workers))
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
        logps = self._align(encoded, list(tokens.values()))
        return [float(logps[tuple(tokens[t])].sum()) for t in texts]

    def _align(self, encoded: np.ndarray, sequences: list[list[int]]) -> dict[Token, np.ndarray]:
        """Log-probability of every token of each distinct sequence under `encoded`."""
        distinct = sorted({tuple(s) for s in sequences}, key=len)
        chunks = [distinct[i : i + self.batch] for i in range(0, len(distinct), self.batch)]
        start = self.tokenizer.sot_sequence

        def run(chunk: list[Token]) -> list[Any]:
            batch = np.ascontiguousarray(np.repeat(encoded, len(chunk), axis=0))
            return list(
                self.model.model.align(
                    self._ct2.StorageView.from_array(batch),
                    start,
                    [list(c) for c in chunk],
                    2 * encoded.shape[1],
                )
            )

        # The batches go to the model's replicas at once (CTranslate2 queues them, one per
        # replica, without the GIL): alone on a worker, a message's vote uses every replica
        # instead of one; under load they queue behind the other messages' work as before.
        # The batches and so the scores are the same as one after the other.
        workers = min(len(chunks), self.replicas)
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(run, chunks))
        else:
            results = [run(chunk) for chunk in chunks]
        out: dict[Token, np.ndarray] = {}
        for chunk, rows in zip(chunks, results, strict=True):
            for seq, r in zip(chunk, rows, strict=True):
                probs = np.maximum(np.asarray(r.text_token_probs, dtype=np.float64), 1e-12)
                out[seq] = np.log(probs)
        return out

    def ratio_pruned(
        self,
        texts: list[str],
        bonus: Sequence[float],
        keep: Collection[int] = (),
        positions: int = 0,
        margin: float = PRUNE_MARGIN_NATS,
        apart: Collection[int] = (),
    ) -> tuple[list[float], list[bool]]:
        """As ratio, with the texts far behind left unscored on the audio (staged_scores):
        the score of such a text is an upper bound of its ratio, `margin` below the best."""
        audio = self.audio if not positions else np.ascontiguousarray(self.audio[:, :positions])
        tokens = [self.tokenizer.encode(" " + t.strip()) for t in texts]
        prior_logps = self._align(self.silence, tokens)
        prior = [float(prior_logps[tuple(t)].sum()) for t in tokens]

        def heard(indexes: list[int]) -> list[np.ndarray]:
            logps = self._align(audio, [tokens[k] for k in indexes])
            return [logps[tuple(tokens[k])] for k in indexes]

        scores, scored = staged_scores(tokens, prior, bonus, heard, keep, margin, apart=apart)
        return [round(v, 3) for v in scores], scored

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
        # Aligned alone: the alignment of the same text in a batch of the street pass differs
        # (47 of 128 street texts of 4 development voicemails), and so would the numbers.
        _, alignment = self._run(self.audio, [text], keep=0)
        times = [t for k, t in alignment if k == n_head - 1]
        if not times:
            return 0
        return min(self.positions, max(times) + AFTER_STREET_POSITIONS)
