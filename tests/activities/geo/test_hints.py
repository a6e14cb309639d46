"""Arrondissement postcodes hinted by the words after the street (activities/geo/hints.py)."""

from __future__ import annotations

import pytest

from activities.geo.hints import postcode_hints
from domain.understanding import Territory


@pytest.mark.parametrize(
    ("tail", "postcode", "weight"),
    [
        (", Marseille 8e.", "13008", 1.0),
        (", treize zéro zéro huit.", "13008", 1.0),
        (", 13.4 Marsais.", "13004", 0.7),
        (", 2014 Marseille.", "13014", 0.4),
    ],
)
def test_postcode_hints(tail: str, postcode: str, weight: float, territory: Territory) -> None:
    hints = dict(postcode_hints(tail, territory))
    assert hints[postcode] >= weight


def test_misheard_ordinal_gives_a_weak_hint(territory: Territory) -> None:
    hints = dict(postcode_hints(" à Marseille-Uitième.", territory))  # "huitième"
    assert 0 < hints["13008"] < 1
