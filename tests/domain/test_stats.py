"""domain/stats.py: the percentile the eval and the benchmarks report."""

from __future__ import annotations

import math

import pytest

from domain.stats import percentile


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.95) == pytest.approx(3.85)
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0
    assert percentile([5.0], 0.95) == 5.0
    assert (percentile([1.0, 9.0], 0.0), percentile([1.0, 9.0], 1.0)) == (1.0, 9.0)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 0.5))
