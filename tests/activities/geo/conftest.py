"""Fixtures of the geocoding tests: the demo territory's geocoder and the activities over a small
synthetic territory."""

from __future__ import annotations

import pytest

from activities.geo.gazetteer import Gazetteer
from activities.geo.geocoder import Geocoder
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from domain.understanding import Territory
from tests.activities.geo.helpers import (
    DEMO_BAN,
    DEMO_SECTORS,
    MIN_SCORE,
    SEARCH_SECTORS,
    SEARCH_STREETS,
    search_activities,
    street_rows,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    cache = tmp_path_factory.mktemp("gazetteer-cache")
    gazetteer = Gazetteer.load(DEMO_BAN, cache)
    sectors = SectorIndex.load([DEMO_SECTORS])
    return Geocoder(gazetteer, sectors, MIN_SCORE)


@pytest.fixture(scope="module")
def acts(tmp_path_factory: pytest.TempPathFactory, territory: Territory) -> GeocodeActivities:
    """The activities over the small synthetic territory of helpers.py."""
    rows = street_rows(SEARCH_STREETS)
    return search_activities(tmp_path_factory.mktemp("search"), rows, SEARCH_SECTORS, territory)
