"""Spoken forms of the corpus generator agree with the project's own conventions."""

from __future__ import annotations

import pytest

from domain.geotext import spoken_number
from domain.numbers import extract_phone_numbers, extract_postcode
from scripts.corpus import spoken


def test_number_words_match_the_project() -> None:
    numbers = [*range(1, 1000), 13001, 13008, 13016, 13100, 13400, 84120]
    assert [spoken.number_words(n) for n in numbers] == [spoken_number(n) for n in numbers]


def test_postcodes_as_callers_say_them() -> None:
    assert spoken.postcode_digits("13008") == "treize zéro zéro huit"
    assert spoken.postcode_digits("13013") == "treize zéro treize"
    assert spoken.postcode_digits("13400") == "treize quatre cents"
    assert spoken.postcode_thousands("13008") == "treize mille huit"
    assert spoken.postcode_thousands("13100") == "treize mille cent"
    for postcode in ("13001", "13008", "13010", "13013", "13100", "13400"):
        assert extract_postcode(spoken.postcode_digits(postcode)) == postcode
        assert extract_postcode(spoken.postcode_thousands(postcode)) == postcode
    assert spoken.ordinal_words(1) == "premier"
    assert spoken.ordinal_words(8) == "huitième"


@pytest.mark.parametrize("number", ["+33639980512", "+33465710042", "+33199000700"])
def test_phone_numbers_are_read_back_by_the_project(number: str) -> None:
    national = "0" + number[3:]
    assert extract_phone_numbers(spoken.phone_pairs(number)) == [national]
    assert extract_phone_numbers(spoken.phone_digits(number)) == [national]
    assert spoken.phone_pairs(number).startswith("zéro ")


def test_spelling_and_house_numbers() -> None:
    assert spoken.spell("Roubaud") == "R O U B A U D"
    assert spoken.spell("Léon") == "L E O N"
    assert spoken.housenumber_words(12, "bis") == "douze bis"
    assert spoken.housenumber_words(71) == "soixante et onze"
