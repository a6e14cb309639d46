"""A street the gazetteer lists twice, written two ways (« Traverse Camp Long » and « Traverse
Camp-Long »), with the house numbers split between them: the number said is looked for under
both names (activities/geo/resolver.py)."""

from __future__ import annotations

import pytest

from activities.geocode import GeocodeActivities
from domain.address_models import ResolveAddressInput
from domain.models import GeocodeStatus, SpokenAddress
from domain.understanding import Territory
from tests.activities.geo.helpers import SEARCH_SECTORS, propose, search_activities

# name, citycode, numbers, lon
STREETS = [
    ("Traverse Camp Long", "13205", range(1, 6), 5.385),
    ("Traverse Camp-Long", "13205", range(6, 11), 5.386),
    ("Traverse Camp-Long", "13206", range(11, 21), 5.405),
    ("Rue des Lilas", "13205", range(1, 31), 5.387),
    # Seed 1616 (dev): the BAN's two spellings of one street, with and without its article.
    ("Chemin Huveaune", "13205", range(1, 10), 5.388),
    ("Chemin de l'Huveaune", "13205", range(1, 30), 5.389),
]


@pytest.fixture(scope="module")
def acts(tmp_path_factory: pytest.TempPathFactory, territory: Territory) -> GeocodeActivities:
    rows = (
        [f"{s}_{n}", n, "", name, "130" + code[-2:], code, "Marseille", lon, 43.285 + n / 3e3]
        for s, (name, code, numbers, lon) in enumerate(STREETS)
        for n in numbers
    )
    return search_activities(tmp_path_factory.mktemp("twins"), rows, SEARCH_SECTORS, territory)


def _resolve(acts: GeocodeActivities, number: str, postcode: str = "13005"):  # type: ignore[no-untyped-def]
    said = SpokenAddress(
        housenumber=number,
        street="Traverse Camp-long",
        postcode=postcode,
        citycode="132" + postcode[-2:],
        city="Marseille",
    )
    text = f"J'habite au {number} traverse camp-long, {postcode} Marseille."
    cands = propose(acts, text, said)
    return acts.resolve_address(ResolveAddressInput(candidates=cands, address=said))


@pytest.mark.parametrize("number", ["3", "8"])
def test_the_number_is_found_under_either_spelling(acts: GeocodeActivities, number: str) -> None:
    geo = _resolve(acts, number)
    assert geo.status == GeocodeStatus.MATCHED, geo.reason
    assert geo.match is not None
    assert geo.match.housenumber == number
    assert geo.match.street in ("Traverse Camp Long", "Traverse Camp-Long")
    assert geo.match.citycode == "13205"


def test_a_number_neither_spelling_has_is_never_replaced(acts: GeocodeActivities) -> None:
    # 15 exists only in the namesake of the other arrondissement: not this street's number.
    geo = _resolve(acts, "15")
    assert geo.status == GeocodeStatus.NUMBER_NOT_FOUND
    assert geo.match is None


def test_the_other_spelling_adds_to_the_confidence(acts: GeocodeActivities) -> None:
    geo = _resolve(acts, "8")
    assert geo.match is not None
    assert geo.match.score > 0.5
    assert all(c.street != "Traverse Camp Long" or c.citycode != "13205" for c in geo.candidates)


@pytest.mark.parametrize("said", ["chemin de l'Huveaune", "chemin Huveaune"])
def test_a_spelling_without_its_article_is_the_same_street(
    acts: GeocodeActivities, said: str
) -> None:
    # « au vingt-six chemin de l'huveaune »: 26 only in the spelling with the article.
    spoken = SpokenAddress(housenumber="26", street=said, postcode="13005", city="Marseille")
    text = f"J'habite au vingt-six {said}, 13005 Marseille."
    cands = propose(acts, text, spoken)
    geo = acts.resolve_address(ResolveAddressInput(candidates=cands, address=spoken))
    assert geo.match is not None, geo.reason
    assert (geo.match.street, geo.match.housenumber) == ("Chemin de l'Huveaune", "26")
