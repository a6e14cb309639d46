"""Free-text gazetteer search over a garbled transcript, locality hints and the resolution of
candidates + audio scores into one address and a confidence (activities/geocode.py).

A small synthetic territory: two sectors, a handful of streets whose names exercise the
general rules (street types heard as other words, numbers glued to the type, the same name in
two arrondissements)."""

from __future__ import annotations

import csv
import json

import pytest

from activities.geocode import (
    Gazetteer,
    GeocodeActivities,
    SectorIndex,
    postcode_hints,
)
from domain.address_models import (
    AddressCandidates,
    AddressScores,
    AddressSearchInput,
    ResolveAddressInput,
)
from domain.decision import DecisionKind, decide_address
from domain.models import GeocodeStatus, SpokenAddress

HEADER = ["id", "numero", "rep", "nom_voie", "code_postal", "code_insee", "nom_commune"]
HEADER += ["lon", "lat"]

# Two square sectors side by side (WGS84), 13205 west of 13206.
SECTORS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"insee": code},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[x0, 43.28], [x0 + 0.02, 43.28], [x0 + 0.02, 43.30], [x0, 43.30], [x0, 43.28]]
                ],
            },
        }
        for code, x0 in (("13205", 5.38), ("13206", 5.40))
    ],
}

STREETS = [
    # name, postcode, citycode, lon of the street
    ("Impasse des Lilas", "13005", "13205", 5.385),
    ("Impasse des Lilas", "13006", "13206", 5.405),
    ("Rue des Lilas", "13005", "13205", 5.386),
    ("Traverse du Moulin", "13005", "13205", 5.387),
    ("Boulevard Chave", "13005", "13205", 5.388),
    ("Avenue du Prado", "13006", "13206", 5.41),
    ("Rue Paradis", "13006", "13206", 5.411),
    ("Place Castellane", "13006", "13206", 5.412),
    ("Rue Breteuil", "13006", "13206", 5.413),
    ("Chemin de la Madrague", "13006", "13206", 5.414),
]


@pytest.fixture(scope="module")
def acts(tmp_path_factory: pytest.TempPathFactory) -> GeocodeActivities:
    tmp = tmp_path_factory.mktemp("search")
    ban = tmp / "adresses-test.csv"
    with ban.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for s, (name, postcode, citycode, lon) in enumerate(STREETS):
            for n in range(1, 31):
                lat = 43.285 + 0.0003 * n
                writer.writerow(
                    [f"{s}_{n}", n, "", name, postcode, citycode, "Marseille", lon, lat]
                )
    sectors = tmp / "sectors.geojson"
    sectors.write_text(json.dumps(SECTORS), encoding="utf-8")
    gz = Gazetteer.load(ban, tmp / "cache")
    return GeocodeActivities(gz, SectorIndex.load(sectors), min_score=0.82)


def names(cands: AddressCandidates) -> list[tuple[str, str]]:
    return [(c.street, c.postcode) for c in cands.candidates]


def propose(acts: GeocodeActivities, text: str, spoken: SpokenAddress | None = None):
    return acts.propose_addresses(AddressSearchInput(text=text, address=spoken))


# --------------------------------------------------------------------------- search


def test_street_type_heard_as_other_words(acts: GeocodeActivities) -> None:
    text = "Bonjour, j'habite au trois en passe des lilas, treize mille six. Un canapé."
    cands = propose(
        acts,
        text,
        SpokenAddress(
            housenumber="3", street="en passe des lilas", postcode="13006", citycode="13206"
        ),
    )
    assert names(cands)[0] == ("Impasse des Lilas", "13006")
    assert text[cands.region_start : cands.region_end] == "trois en passe des lilas"
    assert cands.determiner == "au"
    assert cands.housenumbers[0] == "3"


def test_the_heard_arrondissement_separates_homonyms(acts: GeocodeActivities) -> None:
    text = "Mon adresse, c'est le cinq impasse des lilas, Marseille cinquième."
    cands = propose(
        acts,
        text,
        SpokenAddress(
            housenumber="5", street="Impasse des lilas", postcode="13005", citycode="13205"
        ),
    )
    assert names(cands)[0] == ("Impasse des Lilas", "13005")
    assert cands.candidates[0].locality > cands.candidates[1].locality


def test_number_glued_to_the_type(acts: GeocodeActivities) -> None:
    # "cinq traverse du moulin" heard as "Saint-Tavers du moulin": no type, no number left.
    text = "J'habite au Saint-Tavers du moulin dans le cinquième. Un matelas."
    cands = propose(acts, text)
    assert names(cands)[0] == ("Traverse du Moulin", "13005")
    assert "5" in cands.housenumbers


def test_numbers_heard_come_first(acts: GeocodeActivities) -> None:
    cands = propose(
        acts,
        "J'habite au 12 rue Paradis, 13006.",
        SpokenAddress(housenumber="12", street="Rue Paradis", postcode="13006"),
    )
    best = cands.candidates[0]
    assert best.street == "Rue Paradis"
    assert best.numbers[0] == "12"
    assert len(best.numbers) == 30


def test_nothing_located(acts: GeocodeActivities) -> None:
    cands = propose(acts, "Bonjour, rappelez-moi s'il vous plaît.")
    assert cands.candidates == []
    assert cands.reason


@pytest.mark.parametrize(
    ("tail", "postcode", "weight"),
    [
        (", Marseille 8e.", "13008", 1.0),
        (", treize zéro zéro huit.", "13008", 1.0),
        (", 13.4 Marsais.", "13004", 0.7),
        (", 2014 Marseille.", "13014", 0.4),
    ],
)
def test_postcode_hints(tail: str, postcode: str, weight: float) -> None:
    hints = dict(postcode_hints(tail))
    assert hints[postcode] >= weight


def test_misheard_ordinal_gives_a_weak_hint() -> None:
    hints = dict(postcode_hints(" à Marseille-Uitième."))  # "huitième"
    assert 0 < hints["13008"] < 1


# --------------------------------------------------------------------------- resolution


def _candidates(acts: GeocodeActivities) -> AddressCandidates:
    return propose(
        acts,
        "J'habite au sept rue des lilas, treize mille cinq.",
        SpokenAddress(housenumber="7", street="Rue des lilas", postcode="13005", citycode="13205"),
    )


def resolve(acts, cands, scores=None, spoken=None):
    return acts.resolve_address(
        ResolveAddressInput(candidates=cands, scores=scores, address=spoken)
    )


def test_a_clear_audio_winner_is_booked(acts: GeocodeActivities) -> None:
    cands = _candidates(acts)
    k = [c.street for c in cands.candidates].index("Rue des Lilas")
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0
    numbers = cands.candidates[k].numbers
    number_scores = [20.0 + (15 if n == "7" else 0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=k,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    assert geo.status == GeocodeStatus.MATCHED
    assert geo.match is not None
    assert (geo.match.housenumber, geo.match.street, geo.match.sector) == (
        "7",
        "Rue des Lilas",
        "13205",
    )
    assert geo.match.score > 0.99
    assert decide_address(geo).kind == DecisionKind.BOOK


def test_a_near_tie_on_the_number_is_confirmed_by_sms(acts: GeocodeActivities) -> None:
    cands = _candidates(acts)
    cands.parsed_housenumber = ""  # the number was only guessed from the words
    k = [c.street for c in cands.candidates].index("Rue des Lilas")
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0
    numbers = cands.candidates[k].numbers
    number_scores = [20.0 + {"7": 10.0, "17": 9.5}.get(n, 0.0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=k,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS
    offered = [(c.housenumber, c.street) for c in decision.candidates]
    assert offered[:2] == [("7", "Rue des Lilas"), ("17", "Rue des Lilas")]


def test_two_streets_the_audio_cannot_separate_are_offered(acts: GeocodeActivities) -> None:
    cands = propose(acts, "J'habite au sept lilas.", SpokenAddress(housenumber="7", street="lilas"))
    lilas = [k for k, c in enumerate(cands.candidates) if "Lilas" in c.street]
    street_scores = [0.0] * len(cands.candidates)
    for k in lilas:
        street_scores[k] = 30.0
    best = lilas[0]
    numbers = cands.candidates[best].numbers
    number_scores = [10.0 + (20 if n == "7" else 0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=best,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    assert geo.match is not None
    assert geo.match.score < 0.8
    decision = decide_address(geo)
    assert decision.kind in (DecisionKind.CONFIRM_BY_SMS, DecisionKind.ESCALATE)
    assert decision.kind != DecisionKind.BOOK


def test_text_only_exact_street_and_parsed_number(acts: GeocodeActivities) -> None:
    spoken = SpokenAddress(
        housenumber="12", street="Rue Breteuil", postcode="13006", citycode="13206"
    )
    cands = propose(acts, "J'habite au 12 rue Breteuil, 13006.", spoken)
    geo = resolve(acts, cands, None, spoken)
    assert geo.match is not None
    assert (geo.match.housenumber, geo.match.street) == ("12", "Rue Breteuil")


def test_no_number_heard(acts: GeocodeActivities) -> None:
    spoken = SpokenAddress(street="Chemin de la Madrague", postcode="13006")
    cands = propose(acts, "Mon adresse, c'est chemin de la Madrague, 13006.", spoken)
    cands.housenumbers = []
    geo = resolve(acts, cands, None, spoken)
    assert geo.status == GeocodeStatus.NUMBER_NOT_FOUND
    assert geo.candidates[0].street == "Chemin de la Madrague"
    assert decide_address(geo).kind == DecisionKind.ESCALATE


def test_a_city_outside_the_territory(acts: GeocodeActivities) -> None:
    spoken = SpokenAddress(housenumber="3", street="rue des lilas", city="Toulon")
    cands = propose(acts, "J'habite au 3 rue des lilas à Toulon.", spoken)
    cands.candidates = [c for c in cands.candidates if c.text_score < 0.9] or cands.candidates
    for c in cands.candidates:
        c.text_score = min(c.text_score, 0.8)
    geo = resolve(acts, cands, None, spoken)
    assert geo.status == GeocodeStatus.OUT_OF_TERRITORY


def test_a_postcode_alone_does_not_send_the_call_away(acts: GeocodeActivities) -> None:
    # "treize mille dix" transcribed "10 000": a postcode of another department.
    spoken = SpokenAddress(housenumber="5", street="avenue du prado", postcode="10000")
    cands = propose(acts, "J'habite au cinq avenue du prado 10 000 Marseille.", spoken)
    geo = resolve(acts, cands, None, spoken)
    assert geo.status != GeocodeStatus.OUT_OF_TERRITORY
    assert geo.match is not None and geo.match.street == "Avenue du Prado"


def test_no_candidate(acts: GeocodeActivities) -> None:
    geo = resolve(acts, AddressCandidates(reason="rien"))
    assert geo.status == GeocodeStatus.NOT_FOUND
    assert geo.reason == "rien"


def test_a_number_read_in_the_transcript_breaks_an_audio_near_tie(
    acts: GeocodeActivities,
) -> None:
    cands = _candidates(acts)
    assert cands.parsed_housenumber == "7"
    k = [c.street for c in cands.candidates].index("Rue des Lilas")
    street_scores = [10.0] * len(cands.candidates)
    street_scores[k] = 40.0
    numbers = cands.candidates[k].numbers
    # The audio slightly prefers 17; the transcript said "sept".
    number_scores = [20.0 + {"7": 9.5, "17": 10.0}.get(n, 0.0) for n in numbers]
    geo = resolve(
        acts,
        cands,
        AddressScores(
            street_scores=street_scores,
            number_street=k,
            numbers=numbers,
            number_scores=number_scores,
        ),
    )
    assert geo.match is not None and geo.match.housenumber == "7"
