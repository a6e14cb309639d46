"""Free-text gazetteer search over a garbled transcript (activities/geo/street_search.py), on
the small synthetic territory of helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.geo import street_search
from activities.geocode import GeocodeActivities
from domain.models import SpokenAddress
from domain.understanding import Territory
from tests.activities.geo.helpers import SEARCH_SECTORS, names, propose, search_activities

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


def test_a_name_spelled_without_its_type_is_searched_as_the_letters_spell_it(
    acts: GeocodeActivities,
) -> None:
    # The type lost, the name misheard twice then spelled: « Moolin Mouulin M O U L I N ».
    text = "J'habite au sept Moolin Mouulin M O U L I N, treize mille cinq. Une armoire."
    spoken = SpokenAddress(housenumber="7", street="Moulin", postcode="13005", citycode="13205")
    assert names(propose(acts, text, spoken))[0] == ("Traverse du Moulin", "13005")


def test_a_word_spelled_in_a_sentence_after_the_address_names_the_street(
    tmp_path: Path, territory: Territory
) -> None:
    # Seed 3030 (dev): « au quatre Aubert … Aubert, ça s'écrit A U B E R T » offered Rue Robert
    # first (« quatre Aubert » sounds « …trobert »): the street whose name has the word spelled
    # comes first.
    rows = (
        [f"{s}_{n}", n, "", name, "13005", "13205", "Marseille", 5.385 + s / 1000, 43.29]
        for s, name in enumerate(("Rue Robert", "Traverse Aubert"))
        for n in range(1, 11)
    )
    acts = search_activities(tmp_path, rows, SEARCH_SECTORS, territory)
    spoken = SpokenAddress(housenumber="4", street="Aubert", postcode="13005", citycode="13205")
    said = "J'habite au quatre Aubert, treize mille cinq."
    assert names(propose(acts, said, spoken))[0] == ("Rue Robert", "13005")
    spelled = f"{said} Aubert, ça s'écrit A U B E R T. Une armoire."
    assert names(propose(acts, spelled, spoken))[0] == ("Traverse Aubert", "13005")


@pytest.mark.parametrize(
    ("number", "heard", "timed"),
    [
        (10, "10h à passer mille", True),
        (10, "numéro 10h Paradis", True),
        (10, "10 h 30 rue Paradis", True),
        (10, "10 heures Paradis", True),
        # A house number, and a number inside another, are no time.
        (10, "10 rue Paradis", False),
        (10, "110h Paradis", False),
        (10, "10 bis rue Hoche", False),
    ],
)
def test_a_house_number_written_as_a_time_is_seen(number: int, heard: str, timed: bool) -> None:
    # Audio corpus 6868: « au dix-sept impasse … » heard « au 10h à passer mille », booked 10.
    assert street_search._as_time(number, heard) is timed
