"""Item refinement: the audio's vote (forced scoring, scoring.py) among the catalogue forms
for the items a request's words do not name."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from activities.speech.audio import SAMPLE_RATE, load_audio
from activities.speech.model import SpeechModel
from activities.speech.scoring import (
    CLIP_AFTER_S,
    CLIP_BEFORE_S,
    MAX_CLIP_S,
    Scorer,
    segment_spans,
)
from domain.address_models import ItemRefineInput
from domain.catalogue import Catalogue, plural_form
from domain.models import Intent, Understanding
from domain.understanding import Territory, apply_item_scores, find_item_slots

log = logging.getLogger(__name__)


def refine_items(
    speech: SpeechModel,
    load_catalogue: Callable[[], Catalogue],
    load_territory: Callable[[], Territory],
    inp: ItemRefineInput,
    *,
    legacy: bool = False,
    audio: Callable[[], np.ndarray] | None = None,
) -> Understanding:
    """The understanding completed with the items the audio supports where the words of
    the request name none ("un biffet" → buffet): each such slot is scored with the
    catalogue forms that sound closest (log-likelihood ratio against silence), and the
    form that clearly wins is added. Bookings only; anything else comes back unchanged.
    `audio`: the decoded audio of `inp` (the worker's feature cache); None: decoded from
    `inp.audio_path`."""
    started = time.perf_counter()
    u = inp.understanding
    if u.intent != Intent.BOOKING.value:
        return u
    catalogue = load_catalogue()
    slots = find_item_slots(inp.text, catalogue, load_territory(), answer=inp.answer)
    if not slots:
        return u
    samples = (
        audio()
        if audio is not None
        else load_audio(Path(inp.audio_path), speech.settings.max_duration_s)
    )
    scorers: dict[tuple[int, int], tuple[Scorer, int, int]] = {}
    spans = segment_spans(inp.text, inp.segments)
    scores: list[list[float]] = []
    for slot in slots:
        covering = [sp for sp in spans if sp[1] > slot.start and sp[0] < slot.end]
        if not covering:
            scores.append([])
            continue
        c0, c1 = covering[0][0], covering[-1][1]
        if (c0, c1) not in scorers:
            t0 = max(0.0, covering[0][2].start - CLIP_BEFORE_S)
            t1 = min(t0 + MAX_CLIP_S, covering[-1][2].end + CLIP_AFTER_S)
            piece = samples[int(t0 * SAMPLE_RATE) : int(t1 * SAMPLE_RATE)]
            # The items' vote is a margin against a fixed threshold: their clip keeps the
            # 30-s padding, so their scores are exactly the former ones.
            scorers[(c0, c1)] = (
                Scorer(speech, piece, legacy=legacy, pad_frames=None),
                c0,
                c1,
            )
        scorer, c0, c1 = scorers[(c0, c1)]
        head, tail = inp.text[c0 : slot.start], inp.text[slot.end : c1]
        quantity = "un" if slot.quantity.lower() == "en" else slot.quantity
        texts = [
            f"{head}{quantity} {plural_form(f) if slot.count > 1 else f}{tail}" for f in slot.forms
        ]
        scores.append(scorer.ratio(texts))
    refined = apply_item_scores(u, slots, scores, catalogue)
    log.info(
        "refine_items slots=%d added=%d in %.2f s",
        len(slots),
        len(refined.items) + len(refined.refused_items) - len(u.items) - len(u.refused_items),
        time.perf_counter() - started,
    )
    return refined
