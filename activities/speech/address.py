"""How much the audio supports each candidate address (forced scoring, scoring.py): the clip of
the recording that holds the address, the hypotheses "… {numéro} {voie} …" said over it, and
the scores of the candidate streets, then of the house numbers of the best one."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from activities.speech.audio import SAMPLE_RATE, load_audio
from activities.speech.model import SpeechModel
from activities.speech.scoring import (
    ADDRESS_BATCH,
    CLIP_AFTER_S,
    CLIP_BEFORE_S,
    MAX_CLIP_S,
    SCORING_BATCH,
    Scorer,
    segment_spans,
)
from domain import geotext, trust
from domain.address_models import AddressCandidates, AddressScores, AddressScoringInput
from domain.models import Segment

log = logging.getLogger(__name__)

SCORING_MAX_STREETS = 16
# A cropped number score this far (nats) below the street's own score means a bad crop.
CROP_TOLERANCE = 20.0


def score_address_candidates(
    speech: SpeechModel,
    inp: AddressScoringInput,
    *,
    legacy: bool = False,
    prune: bool = True,
    audio: Callable[[], np.ndarray] | None = None,
) -> AddressScores:
    """How much the audio supports each candidate street, then each house number of the
    best street (log-likelihood ratio against silence, nats). Never fails on a missing
    segment or candidate: it says why nothing was scored, and the resolution then relies
    on the words alone. `prune=False`: every text scored, in batches of 16, as before the
    pruning (the baseline of bench/bench_scoring.py). `audio`: the decoded audio of `inp`
    (the worker's feature cache); None: decoded from `inp.audio_path`."""
    started = time.perf_counter()
    if audio is None:
        audio = partial(load_audio, Path(inp.audio_path), speech.settings.max_duration_s)
    result = _score_address(speech, inp, legacy, prune and not legacy, audio)
    result.processing_s = round(time.perf_counter() - started, 3)
    log.info(
        "score_address_candidates streets=%d numbers=%d in %.2f s",
        len(result.street_scores),
        len(result.number_scores),
        result.processing_s,
    )
    return result


@dataclass
class AddressClip:
    start_s: float
    end_s: float
    prefix: str  # transcript of the clip before the address
    suffix: str  # and after it
    determiner: str  # to say before the number when the transcript lost it


_CUE_BEFORE = re.compile(r"(?:habite|suis|r[ée]side|demeure)\W*$", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(r"\b(?:au|aux|le|du)\W*$", re.IGNORECASE)


def address_clip(
    text: str, segments: list[Segment], cands: AddressCandidates
) -> AddressClip | None:
    """The audio segment(s) holding the address and their transcript around it."""
    if cands.region_start < 0 or cands.region_end <= cands.region_start:
        return None
    spans = [
        s
        for s in segment_spans(text, segments)
        if s[1] > cands.region_start and s[0] < cands.region_end
    ]
    if not spans:
        return None
    c0, c1 = spans[0][0], spans[-1][1]
    start = max(0.0, spans[0][2].start - CLIP_BEFORE_S)
    end = spans[-1][2].end + CLIP_AFTER_S
    if end - start > MAX_CLIP_S:
        end = start + MAX_CLIP_S
    prefix = text[c0 : cands.region_start].rstrip()
    suffix = text[cands.region_end : c1]
    if suffix[:1].isalnum():
        suffix = " " + suffix
    determiner = ""
    if not _DETERMINER_BEFORE.search(prefix):
        determiner = "au" if _CUE_BEFORE.search(prefix) or cands.determiner == "au" else "le"
    return AddressClip(start, end, prefix, suffix, determiner)


def hypothesis(clip: AddressClip, number: str, street: str, *, suffix: bool = True) -> str:
    words = [clip.prefix, clip.determiner, geotext.spoken_housenumber(number) if number else ""]
    words.append(street)
    text = " ".join(w for w in words if w)
    return text + (clip.suffix if suffix else "")


def _score_address(
    speech: SpeechModel,
    inp: AddressScoringInput,
    legacy: bool,
    prune: bool,
    load: Callable[[], np.ndarray],
) -> AddressScores:
    cands = inp.candidates
    if not cands.candidates:
        return AddressScores(reason="aucune voie candidate")
    clip = address_clip(inp.text, inp.segments, cands)
    if clip is None:
        return AddressScores(reason="adresse non localisée dans la transcription")
    audio = load()
    piece = audio[int(clip.start_s * SAMPLE_RATE) : int(clip.end_s * SAMPLE_RATE)]
    if piece.size < SAMPLE_RATE // 5:
        return AddressScores(reason="segment d'adresse trop court")
    scorer = Scorer(speech, piece, legacy=legacy, batch=ADDRESS_BATCH if prune else SCORING_BATCH)
    limit = inp.max_streets or SCORING_MAX_STREETS
    streets = cands.candidates[:limit]
    heard_number = cands.housenumbers[0] if cands.housenumbers else ""
    # The whole segment is kept for the streets: where a garbled address ends in the audio
    # cannot be told reliably (a crop measured on this set cut street names short).
    texts = [hypothesis(clip, heard_number, c.street) for c in streets]
    # Last: the transcript itself, the reference for "none of these streets".
    texts.append(
        " ".join(w for w in [clip.prefix, inp.text[cands.region_start : cands.region_end]] if w)
        + clip.suffix
    )
    if prune:
        # The transcript is always scored; a street far behind the best on the evidence
        # (audio + words + locality) is not (scoring.staged_scores).
        bonus = [geotext.combined_street_score(0.0, c.text_score, c.locality) for c in streets]
        ratios, _ = scorer.ratio_pruned(texts, [*bonus, 0.0], apart=[len(streets)])
        *street_scores, heard_score = ratios
    else:
        *street_scores, heard_score = scorer.ratio(texts)
    best = max(
        range(len(streets)),
        key=lambda k: geotext.combined_street_score(
            street_scores[k], streets[k].text_score, streets[k].locality
        ),
    )
    # Every number of the street: restricting them to those near the number read would make
    # the audio's confirmation of that number look surer than it is.
    numbers = list(streets[best].numbers)
    number_scores: list[float] = []
    # The numbers the transcript suggests are always scored: the resolver adds evidence to
    # the one it parsed, so pruning them on the audio alone could drop the winner.
    heard_numbers = {
        geotext.parse_housenumber(h) for h in [*cands.housenumbers, cands.parsed_housenumber] if h
    }
    said = None
    if prune:
        said = [k for k, n in enumerate(numbers) if geotext.parse_housenumber(n) in heard_numbers]
    if numbers:
        # The house number is decided on the audio up to the end of the street name: the
        # locality after it says nothing about the number and would cost time per hypothesis.
        street = streets[best].street
        full = hypothesis(clip, heard_number, street)
        head = hypothesis(clip, heard_number, street, suffix=False)
        number_end = scorer.end_of(full, head)
        if number_end:
            number_scores = _number_scores(
                scorer,
                [hypothesis(clip, n, street, suffix=False) for n in numbers],
                said,
                number_end,
            )
        if not number_end or max(number_scores) < street_scores[best] - CROP_TOLERANCE:
            # The alignment put the end of the street too early (the audio then lacks part of
            # the street and no number fits well): score on the whole segment instead.
            number_scores = _number_scores(
                scorer, [hypothesis(clip, n, street) for n in numbers], said, 0
            )
    return AddressScores(
        street_scores=street_scores,
        heard_score=heard_score,
        number_street=best,
        numbers=numbers,
        number_scores=number_scores,
        # The decoder's own doubt (log-probabilities, no-speech) is known only here, where
        # the first pass's segments are: it caps the confidence like the text's quality.
        transcript_quality=trust.transcript_quality(inp.text, inp.segments),
    )


def _number_scores(
    scorer: Scorer, texts: list[str], said: list[int] | None, positions: int
) -> list[float]:
    """The ratios of the house-number hypotheses; pruned (scoring.staged_scores) unless
    `said` is None, the transcript's numbers always scored."""
    if said is None:
        return scorer.ratio(texts, positions=positions)
    scores, _ = scorer.ratio_pruned(texts, [0.0] * len(texts), keep=said, positions=positions)
    return scores
