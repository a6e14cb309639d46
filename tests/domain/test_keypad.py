"""Keypad answers and the order of the field-by-field read-back (domain/keypad.py)."""

from __future__ import annotations

import pytest

from domain.keypad import (
    Field,
    keyed_housenumber,
    keyed_postcode,
    keyed_yes_no,
    next_field,
    spoken_housenumber,
)


@pytest.mark.parametrize(
    ("digits", "number"),
    [
        ("12#", "12"),
        ("12", "12"),
        ("1024#", "1024"),
        ("0#", None),
        ("012#", None),
        ("#", None),
        ("12345#", None),
        ("1*2#", None),
    ],
)
def test_keyed_housenumber(digits: str, number: str | None) -> None:
    assert keyed_housenumber(digits) == number


@pytest.mark.parametrize(
    ("digits", "code"), [("13005", "13005"), ("01000#", "01000"), ("1300#", None), ("130055", None)]
)
def test_keyed_postcode(digits: str, code: str | None) -> None:
    assert keyed_postcode(digits) == code


@pytest.mark.parametrize(
    ("digits", "answer"), [("1", True), ("2#", False), ("3", None), ("12", None)]
)
def test_keyed_yes_no(digits: str, answer: bool | None) -> None:
    assert keyed_yes_no(digits) is answer


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("douze", "12"),
        ("c'est le 14", "14"),
        ("cent quatre", "104"),
        ("euh", None),
        ("12 ou 14", None),
    ],
)
def test_spoken_housenumber(text: str, number: str | None) -> None:
    assert spoken_housenumber(text) == number


def test_fields_in_order() -> None:
    assert next_field(None) == Field.NUMBER
    assert next_field(Field.NUMBER) == Field.STREET
    assert next_field(Field.STREET) == Field.CITY
    assert next_field(Field.CITY) is None
