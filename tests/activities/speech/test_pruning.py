"""The staged scoring of the audio vote (scoring.staged_scores): a text that cannot come within
the margin of the best is not scored on the audio, one that can is, and the decision is the one
every text scored gives. Synthetic log-probabilities: no model needed."""

from __future__ import annotations

import numpy as np
import pytest

from activities.speech.scoring import staged_scores

SHARED = [7, 8, 9]  # the transcript before the address: the same tokens in every hypothesis


def _case() -> tuple[list[list[int]], dict[int, np.ndarray], list[float]]:
    """Four hypotheses: 0 the best, 1 close behind, 2 and 3 far behind (short, common words:
    likely under silence, so that even the best the audio could give them stays far behind)."""
    tokens = [[*SHARED, 10 + k, 20 + k] for k in range(4)]
    shared = [-1.0, -0.5, -0.5]  # log P of the shared tokens under the audio
    audio = {
        0: np.array([*shared, -0.2, -0.3]),
        1: np.array([*shared, -1.5, -0.8]),
        2: np.array([*shared, -30.0, -12.0]),
        3: np.array([*shared, -25.0, -20.0]),
    }
    prior = [-12.0, -11.0, -3.0, -2.0]  # log P(text | silence)
    return tokens, audio, prior


def _full(audio: dict[int, np.ndarray], prior: list[float]) -> list[float]:
    return [float(audio[k].sum()) - prior[k] for k in range(len(prior))]


def test_a_text_far_behind_is_not_scored_and_a_close_one_is() -> None:
    tokens, audio, prior = _case()
    asked: list[int] = []

    def heard(indexes: list[int]) -> list[np.ndarray]:
        asked.extend(indexes)
        return [audio[k] for k in indexes]

    scores, scored = staged_scores(tokens, prior, [0.0] * 4, heard, margin=5.0, batch=1)
    full = _full(audio, prior)
    # Bounds (shared tokens' audio log-probability minus the prior): 10, 9, 1, 0; 0 is
    # scored first (9.5), 1 can still come within 5 nats of it, 2 and 3 cannot.
    assert asked == [0, 1]
    assert scored[0] and scored[1]
    assert not scored[2] and not scored[3]
    assert 2 not in asked and 3 not in asked
    assert scores[0] == pytest.approx(full[0]) and scores[1] == pytest.approx(full[1])
    # What an unscored text gets is an upper bound of its ratio, more than the margin behind.
    for k in (2, 3):
        assert full[k] <= scores[k] < max(full) - 5.0
    assert int(np.argmax(scores)) == int(np.argmax(full))


def test_the_decision_equals_the_unpruned_one_with_the_evidence_added() -> None:
    tokens, audio, prior = _case()
    # Words heard and locality favour hypothesis 1 by 3 nats: it wins once they are added.
    bonus = [0.0, 3.0, 0.0, 0.0]
    full = [v + b for v, b in zip(_full(audio, prior), bonus, strict=True)]
    scores, scored = staged_scores(
        tokens, prior, bonus, lambda ks: [audio[k] for k in ks], margin=5.0, batch=1
    )
    with_bonus = [v + b for v, b in zip(scores, bonus, strict=True)]
    assert int(np.argmax(with_bonus)) == int(np.argmax(full)) == 1
    assert scored[0] and scored[1]
    assert not any(scored[2:])


def test_a_kept_text_is_scored_however_far_behind() -> None:
    tokens, audio, prior = _case()
    scores, scored = staged_scores(
        tokens, prior, [0.0] * 4, lambda ks: [audio[k] for k in ks], keep=[3], margin=5.0, batch=1
    )
    assert scored[3]
    assert scores[3] == pytest.approx(_full(audio, prior)[3])


def test_a_wide_margin_scores_everything_as_before() -> None:
    tokens, audio, prior = _case()
    scores, scored = staged_scores(
        tokens, prior, [0.0] * 4, lambda ks: [audio[k] for k in ks], margin=1e6
    )
    assert all(scored)
    assert scores == pytest.approx(_full(audio, prior))


def test_a_text_starting_like_one_far_behind_is_bounded_by_it() -> None:
    # 1 and 2 share their first address token (a street type, a number's first word), which
    # the audio rules out on 1: 2, however unlikely its words under silence, cannot catch up.
    tokens = [[*SHARED, 10, 20], [*SHARED, 11, 21], [*SHARED, 11, 22]]
    audio = {
        0: np.array([-1.0, -0.5, -0.5, -0.2, -0.3]),
        1: np.array([-1.0, -0.5, -0.5, -20.0, -1.0]),
        2: np.array([-1.0, -0.5, -0.5, -20.0, -0.1]),
    }
    prior = [-12.0, -12.0, -15.0]
    asked: list[int] = []

    def heard(indexes: list[int]) -> list[np.ndarray]:
        asked.extend(indexes)
        return [audio[k] for k in indexes]

    scores, scored = staged_scores(tokens, prior, [0.0] * 3, heard, keep=[1], margin=5.0, batch=1)
    # The shared tokens alone would bound 2 at -2 + 15 = 13, above the best (9.5): scored.
    # With 1's first address token, -22 + 15 = -7: more than 5 nats behind, dropped.
    assert asked == [1, 0]
    assert scored == [True, True, False]
    full = float(audio[2].sum()) - prior[2]
    assert full <= scores[2] == pytest.approx(-22.0 + 15.0)


def test_a_text_apart_from_the_decision_does_not_set_the_best() -> None:
    # The transcript itself (scored for "none of these streets") explains the audio far
    # better than any street: the streets are still ranked among themselves (vm008).
    tokens, audio, prior = _case()
    tokens.append([*SHARED, 30, 31])
    audio[4] = np.array([-1.0, -0.5, -0.5, -0.1, -0.1])
    prior.append(-60.0)
    scores, scored = staged_scores(
        tokens, prior, [0.0] * 5, lambda ks: [audio[k] for k in ks], apart=[4], margin=5.0, batch=1
    )
    assert scored == [True, True, False, False, True]
    assert scores[4] == pytest.approx(float(audio[4].sum()) + 60.0)
