"""The geocoding activities (activities/geocode.py): what they answer and the names the worker
registers them under."""

from __future__ import annotations

import pytest
from temporalio import activity

from activities.geo.gazetteer import Gazetteer
from activities.geo.geocoder import Geocoder
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from activities.understand import load_catalogue
from domain import names
from domain.models import GeocodeInput, GeocodeStatus, SpokenAddress, TerritoryReferenceInput
from domain.spelling import match_spelled
from domain.understanding import Territory
from tests.activities.geo.helpers import DEMO_BAN, DEMO_SECTORS, MIN_SCORE, spoken


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    gazetteer = Gazetteer.load(DEMO_BAN, tmp_path_factory.mktemp("gazetteer-cache"))
    return Geocoder(gazetteer, SectorIndex.load([DEMO_SECTORS]), MIN_SCORE)


def test_activities(demo: Geocoder, territory: Territory) -> None:
    acts = GeocodeActivities(demo.gz, demo.sectors, MIN_SCORE, territory)
    result = acts.geocode(GeocodeInput(address=spoken("rue paradis", "8")))
    assert result.status == GeocodeStatus.MATCHED
    assert result.match is not None and result.match.sector == "13206"
    assert isinstance(result.status, str)

    invalid = acts.geocode(GeocodeInput(address=SpokenAddress(housenumber="8")))
    assert invalid.status == GeocodeStatus.NOT_FOUND and invalid.reason

    ref = acts.territory_reference(TerritoryReferenceInput())
    assert ref.postcodes == ["13001", "13005", "13006", "13008"]
    assert {"13201", "13205", "13206", "13208", "13055"} <= set(ref.citycodes)
    assert ref.items == [] and ref.refused_items == []


def test_the_territory_reference_holds_the_catalogue(demo: Geocoder, territory: Territory) -> None:
    catalogue = load_catalogue()
    acts = GeocodeActivities(demo.gz, demo.sectors, MIN_SCORE, territory, catalogue=catalogue)
    ref = acts.territory_reference(TerritoryReferenceInput())
    assert ref.postcodes == ["13001", "13005", "13006", "13008"]
    assert ref.items == sorted(catalogue.accepted_names()) and ref.items
    assert ref.refused_items == sorted(catalogue.refused_names()) and ref.refused_items
    assert ref.item_aliases and set(ref.item_aliases.values()) <= {*ref.items, *ref.refused_items}


def test_activity_names(demo: Geocoder, territory: Territory) -> None:
    acts = GeocodeActivities(demo.gz, demo.sectors, MIN_SCORE, territory)
    declared = [
        activity._Definition.must_from_callable(a).name
        for a in (acts.geocode, acts.propose_addresses, acts.resolve_address)
    ]
    declared.append(activity._Definition.must_from_callable(acts.territory_reference).name)
    assert declared == [
        names.GEOCODE,
        names.PROPOSE_ADDRESSES,
        names.RESOLVE_ADDRESS,
        names.TERRITORY_REFERENCE,
    ]


def test_streets_of_a_place_for_a_spelled_street(demo: Geocoder, territory: Territory) -> None:
    """A street spelled on a live call is looked up among the streets of the place already
    understood (domain/spelling.py), by postcode or commune."""
    acts = GeocodeActivities(demo.gz, demo.sectors, MIN_SCORE, territory)
    in_13005 = acts.streets_of(SpokenAddress(postcode="13005"))
    assert "Boulevard Chave" in in_13005 and "Rue Paradis" not in in_13005
    assert match_spelled("chave", in_13005).street == "Boulevard Chave"
    assert "Rue Paradis" in acts.streets_of(SpokenAddress(postcode="13006"))
    assert acts.streets_of(SpokenAddress(city="Marseille")) == sorted(demo.gz.street_names())
    assert acts.streets_of(SpokenAddress()) == []  # no place, no street to spell against
