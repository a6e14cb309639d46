"""A street name several communes share (« Jean Jaurès »): the commune the caller named
chooses among the namesakes, and only among them (activities/geo/resolver.py)."""

from __future__ import annotations

import pytest

from activities.geocode import GeocodeActivities
from domain.address_models import ResolveAddressInput
from domain.decision import DecisionKind, decide_address
from domain.models import GeocodeStatus, SpokenAddress
from domain.understanding import Territory
from tests.activities.geo.helpers import propose, search_activities

# name, postcode, citycode, commune, lon
STREETS = [
    ("Avenue Jean Jaurès", "13400", "13005", "Aubagne", 5.571),
    ("Avenue Jean Jaurès", "13700", "13054", "Marignane", 5.191),
    ("Boulevard Jean Jaurès", "13011", "13211", "Marseille", 5.454),
    ("Place Jean Jaurès", "13005", "13205", "Marseille", 5.386),
    ("Rue Jean Lorrain", "13400", "13005", "Aubagne", 5.572),
    ("Avenue Mistral", "13009", "13209", "Marseille", 5.30),
    ("Avenue Frédéric Mistral", "13600", "13028", "La Ciotat", 5.62),
]


def _square(code: str, x0: float) -> dict:  # type: ignore[type-arg]
    ring = [[x0, 43.2], [x0 + 0.02, 43.2], [x0 + 0.02, 43.4], [x0, 43.4], [x0, 43.2]]
    return {
        "type": "Feature",
        "properties": {"insee": code},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.fixture(scope="module")
def acts(tmp_path_factory: pytest.TempPathFactory, territory: Territory) -> GeocodeActivities:
    rows = (
        [f"{s}_{n}", n, "", name, postcode, code, city, lon + 0.005, 43.3 + n / 3e3]
        for s, (name, postcode, code, city, lon) in enumerate(STREETS)
        for n in range(1, 21)
    )
    features = [_square(code, lon) for _, _, code, _, lon in STREETS]
    sectors = {"type": "FeatureCollection", "features": features}
    return search_activities(tmp_path_factory.mktemp("communes"), rows, sectors, territory)


# What the parser makes of « au quatre Jean Jaurès … à Aubagne ».
SAID_IN_AUBAGNE = SpokenAddress(
    housenumber="4", street="Jean Jaurès", city="Aubagne", citycode="13005"
)


def _offered(geo) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(street, commune code) of the match and of every address offered beside it."""
    return {(m.street, m.citycode) for m in [geo.match, *geo.candidates] if m is not None}


def _resolve(acts: GeocodeActivities, text: str, said: SpokenAddress):  # type: ignore[no-untyped-def]
    cands = propose(acts, text, said)
    return acts.resolve_address(ResolveAddressInput(candidates=cands, address=said))


def test_the_commune_named_chooses_among_namesakes(acts: GeocodeActivities) -> None:
    # The street type lost by the transcription: five « Jean Jaurès » fit the words alike.
    text = "J'habite au quatre Jean Jaurès, à Aubagne. C'est pour une armoire."
    geo = _resolve(acts, text, SAID_IN_AUBAGNE)
    assert geo.status == GeocodeStatus.MATCHED, geo.reason
    assert geo.match is not None
    assert (geo.match.street, geo.match.citycode) == ("Avenue Jean Jaurès", "13005")
    # No namesake of another commune is offered beside it.
    assert all(m.citycode == "13005" for m in geo.candidates if "Jaurès" in m.street)
    assert not geo.doubt
    assert decide_address(geo).kind in (DecisionKind.BOOK, DecisionKind.CONFIRM_BY_SMS)


@pytest.mark.parametrize(
    "text",
    [
        "J'habite à Aubagne, au quatre Jean Jaurès. C'est pour une armoire.",
        # An answer in a call, no address cue: the parser's commune is the address's.
        "Au quatre Jean Jaurès à Aubagne.",
    ],
)
def test_the_commune_said_before_or_without_a_cue_chooses_too(
    acts: GeocodeActivities, text: str
) -> None:
    geo = _resolve(acts, text, SAID_IN_AUBAGNE)
    assert geo.match is not None
    assert (geo.match.street, geo.match.citycode) == ("Avenue Jean Jaurès", "13005")
    assert all(m.citycode == "13005" for m in geo.candidates if "Jaurès" in m.street)


def test_without_a_commune_the_namesakes_stay_ambiguous(acts: GeocodeActivities) -> None:
    text = "J'habite au quatre Jean Jaurès. C'est pour une armoire."
    geo = _resolve(acts, text, SpokenAddress(housenumber="4", street="Jean Jaurès"))
    assert geo.status != GeocodeStatus.MATCHED
    assert decide_address(geo).kind != DecisionKind.BOOK


def test_a_namesake_the_words_fit_better_keeps_its_place(acts: GeocodeActivities) -> None:
    # « boulevard » said: Marseille's boulevard fits the words better than Aubagne's avenue,
    # so it stays in the race, and the conflict with the commune said stops the booking.
    text = "J'habite au quatre boulevard Jean Jaurès, à Aubagne. C'est pour une armoire."
    said = SpokenAddress(
        housenumber="4", street="boulevard Jean Jaurès", city="Aubagne", citycode="13005"
    )
    geo = _resolve(acts, text, said)
    assert decide_address(geo).kind != DecisionKind.BOOK
    assert ("Boulevard Jean Jaurès", "13211") in _offered(geo)


@pytest.mark.parametrize(
    "text",
    [
        # The commune named is not the address's: another sentence, another clause.
        "J'habite au quatre Jean Jaurès, je travaille à Aubagne. C'est pour une armoire.",
        "J'habite au quatre Jean Jaurès. Ma fille habite à Aubagne. C'est pour une armoire.",
        # Two communes named: neither chooses.
        "J'habite au quatre Jean Jaurès, à Aubagne, enfin à Marignane. C'est pour une armoire.",
    ],
)
def test_a_commune_not_said_with_the_address_chooses_nothing(
    acts: GeocodeActivities, text: str
) -> None:
    geo = _resolve(acts, text, SAID_IN_AUBAGNE)
    # The namesakes of other communes stay in the race (and among the offers).
    assert ("Avenue Jean Jaurès", "13054") in _offered(geo)


def test_a_name_said_short_is_the_communes_longer_name(acts: GeocodeActivities) -> None:
    # Seeds 8808 and 1414 (dev): « au un avenue mistral … à la ciotat » found Marseille's
    # Avenue Mistral first, in conflict with the commune said: escalated, La Ciotat's Avenue
    # Frédéric Mistral never offered.
    text = "Je suis au un avenue Mistral, à La Ciotat. C'est pour une armoire."
    said = SpokenAddress(housenumber="1", street="Avenue Mistral", city="La Ciotat")
    geo = _resolve(acts, text, said)
    assert geo.match is not None, geo.reason
    assert (geo.match.street, geo.match.citycode) == ("Avenue Frédéric Mistral", "13028")
    # The words left out are a guess: offered, never booked.
    assert geo.doubt == "street_differs"
    assert decide_address(geo).kind == DecisionKind.CONFIRM_BY_SMS
    # Without the commune, the name said whole wins.
    text = "Je suis au un avenue Mistral. C'est pour une armoire."
    geo = _resolve(acts, text, SpokenAddress(housenumber="1", street="Avenue Mistral"))
    assert geo.match is not None and geo.match.street == "Avenue Mistral", geo.reason
