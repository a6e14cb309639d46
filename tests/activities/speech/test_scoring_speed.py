"""The cheaper audio vote (activities/speech/scoring.py) against the former computation
(`legacy=True`: clip encoded padded to 30 s, texts aligned one chunk at a time as given), on
the committed demo voicemails: the same candidates win, and the batched scorer gives each
text the score the one-by-one scorer gives it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from activities.geocode import GeocodeActivities
from activities.speech import address, items, scoring
from activities.speech.audio import SAMPLE_RATE, load_audio
from activities.speech.engine import SpeechEngine
from activities.speech.scoring import Scorer
from corpus import DEMO_DIR
from domain import geotext
from domain.address_models import AddressScores, AddressScoringInput, ItemRefineInput
from domain.models import Intent, Segment, TranscribeResult, Understanding, UnderstandInput
from domain.understanding import Territory

AUDIO = DEMO_DIR / "audio"


def _best_street(inp: AddressScoringInput, s: AddressScores) -> int:
    streets = inp.candidates.candidates
    return max(
        range(len(s.street_scores)),
        key=lambda k: geotext.combined_street_score(
            s.street_scores[k], streets[k].text_score, streets[k].locality
        ),
    )


def _best_number(s: AddressScores) -> str:
    return s.numbers[int(np.argmax(s.number_scores))] if s.number_scores else ""


def _scoring_input(
    stt: SpeechEngine, geocode: GeocodeActivities, territory: Territory, name: str, t: Any
) -> AddressScoringInput:
    from activities.understand import UnderstandActivities

    u = UnderstandActivities(stt.catalogue(), territory).understand(
        UnderstandInput(text=t.text, caller_number="")
    )
    assert u.address is not None
    from domain.address_models import AddressSearchInput

    cands = geocode.propose_addresses(AddressSearchInput(text=t.text, address=u.address))
    assert len(cands.candidates) > 1
    return AddressScoringInput(
        audio_path=str(AUDIO / name), text=t.text, segments=t.segments, candidates=cands
    )


def test_the_short_encoding_picks_the_street_and_number_the_padded_one_picks(
    stt: SpeechEngine, geocode: GeocodeActivities, territory: Territory, demo01: TranscribeResult
) -> None:
    # The whole development set: bench/bench_scoring.py (README, Benchmarks).
    inp = _scoring_input(stt, geocode, territory, "demo01.wav", demo01)
    old = address.score_address_candidates(stt, inp, legacy=True)
    new = address.score_address_candidates(stt, inp)
    assert _best_street(inp, new) == _best_street(inp, old)
    assert new.number_street == old.number_street
    assert new.numbers == old.numbers
    assert _best_number(new) == _best_number(old)
    # The transcript itself stays on the same side of the winning street.
    best = _best_street(inp, old)
    assert ((new.heard_score or 0) > new.street_scores[best]) == (
        (old.heard_score or 0) > old.street_scores[best]
    )


def test_the_address_clip_is_encoded_at_its_own_length(
    stt: SpeechEngine, demo01: TranscribeResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = stt.model()
    widths: list[int] = []
    encode = model.encode

    def spy(features: Any) -> Any:
        widths.append(int(features.shape[-1]))
        return encode(features)

    monkeypatch.setattr(model, "encode", spy)
    audio = load_audio(AUDIO / "demo01.wav", 60)
    piece = audio[: 4 * SAMPLE_RATE]
    Scorer(stt, piece)
    Scorer(stt, piece, legacy=True)
    assert widths[0] < 1000 and widths[0] % 2 == 0
    assert widths[1] == 3000


def test_batched_scores_equal_the_one_by_one_scores(
    stt: SpeechEngine, demo01: TranscribeResult
) -> None:
    audio = load_audio(Path(AUDIO / "demo01.wav"), 60)
    piece = audio[: 6 * SAMPLE_RATE]
    scorer = Scorer(stt, piece)
    head = demo01.text[:40]
    texts = [
        f"{head} douze boulevard Chave",
        f"{head} douze boulevard Chave",  # the same text twice: aligned once, scored twice
        f"{head} deux boulevard Chave",
        f"{head} douze rue Paradis, treize mille six",
        f"{head} douze",
    ]
    batched = scorer._run_batched(scorer.audio, texts)
    one_by_one = [scorer._run(scorer.audio, [t], keep=0)[0][0] for t in texts]
    assert batched == pytest.approx(one_by_one, abs=1e-2)
    assert batched[0] == batched[1]
    assert np.argsort(batched).tolist() == np.argsort(one_by_one).tolist()


def test_items_keep_their_former_scores(
    stt: SpeechEngine, demo01: TranscribeResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in test_items.py: "un canapé" garbled into a non-word, so the audio has a slot to vote on.
    found = re.search(r"\b(un|en)\s+(canap\w*)", demo01.text, re.IGNORECASE)
    assert found is not None
    said = found.group(0)
    segments = [
        Segment(s.start, s.end, s.text.replace(said, "un tanapé"), s.avg_logprob)
        for s in demo01.segments
    ]
    inp = ItemRefineInput(
        str(AUDIO / "demo01.wav"),
        demo01.text.replace(said, "un tanapé"),
        segments,
        Understanding(intent=Intent.BOOKING.value),
    )
    seen: list[list[list[float]]] = []
    apply = items.apply_item_scores

    def spy(u: Any, slots: Any, scores: list[list[float]], catalogue: Any) -> Any:
        seen.append(scores)
        return apply(u, slots, scores, catalogue)

    monkeypatch.setattr(items, "apply_item_scores", spy)
    old = items.refine_items(stt, stt.catalogue, stt.territory, inp, legacy=True)
    new = items.refine_items(stt, stt.catalogue, stt.territory, inp)
    assert new == old
    assert seen[0] and seen[0][0]
    for o, n in zip(seen[0], seen[1], strict=True):
        assert n == pytest.approx(o, abs=1e-2)


def test_the_pruned_vote_makes_the_decision_of_the_full_one(
    stt: SpeechEngine, geocode: GeocodeActivities, territory: Territory, demo01: TranscribeResult
) -> None:
    # The development set: bench/bench_scoring.py (README, "The audio vote, side by side").
    inp = _scoring_input(stt, geocode, territory, "demo01.wav", demo01)
    full = address.score_address_candidates(stt, inp, prune=False)
    pruned = address.score_address_candidates(stt, inp)
    best = _best_street(inp, full)
    assert _best_street(inp, pruned) == best
    assert pruned.number_street == full.number_street
    assert pruned.numbers == full.numbers
    assert _best_number(pruned) == _best_number(full)
    assert pruned.heard_score == pytest.approx(full.heard_score, abs=0.05)
    streets = inp.candidates.candidates

    def combined(s: AddressScores, k: int) -> float:
        return geotext.combined_street_score(
            s.street_scores[k], streets[k].text_score, streets[k].locality
        )

    top = combined(full, best)
    for k in range(len(full.street_scores)):
        if abs(pruned.street_scores[k] - full.street_scores[k]) > 0.05:
            # Not scored on the audio: an upper bound of its score, far behind the best.
            assert pruned.street_scores[k] >= full.street_scores[k]
            assert combined(pruned, k) < top - scoring.PRUNE_MARGIN_NATS
    for p, f in zip(pruned.number_scores, full.number_scores, strict=True):
        assert p == pytest.approx(f, abs=0.05) or (
            p >= f and p < max(full.number_scores) - scoring.PRUNE_MARGIN_NATS
        )
