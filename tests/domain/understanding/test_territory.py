"""The territory as a value (domain/understanding/territory.py): communes named in a
transcript, postcodes of the territory, the main city's arrondissements."""

from __future__ import annotations

import pytest

from domain.numbers import tokenize
from domain.understanding import Territory


def test_marseille_codes(territory: Territory) -> None:
    assert territory.arrondissement_codes(1) == ("13001", "13201")
    assert territory.arrondissement_codes(16) == ("13016", "13216")
    with pytest.raises(ValueError):
        territory.arrondissement_codes(17)


@pytest.mark.parametrize(
    ("text", "name", "words"),
    [
        ("Aubagne", "Aubagne", 1),
        ("Berre l'Étang", "Berre-l'Étang", 3),
        ("les pennes", "Les Pennes-Mirabeau", 2),
        ("Port Saint Louis du Rhône", "Port-Saint-Louis-du-Rhône", 5),
        ("Marseilles", "Marseille", 1),
        ("marsaille", "Marseille", 1),
    ],
)
def test_find_commune(territory: Territory, text: str, name: str, words: int) -> None:
    found = territory.find_commune(tokenize(text), 0)
    assert found is not None
    assert (found[0].name, found[1]) == (name, words)


def test_no_commune(territory: Territory) -> None:
    assert territory.find_commune(tokenize("Toulon"), 0) is None
    assert territory.find_commune(tokenize("mars"), 0) is None


def test_postcodes_of_the_territory(territory: Territory) -> None:
    assert territory.in_territory("13000")
    assert territory.in_territory("13008")
    assert territory.in_territory("13400")
    assert territory.in_territory("84120")
    assert not territory.in_territory("13017")
    assert not territory.in_territory("83000")
    assert [c.name for c in territory.communes_for_postcode("13790")] == [
        "Châteauneuf-le-Rouge",
        "Peynier",
        "Rousset",
    ]
    assert territory.arrondissement_of_postcode("13015") == 15
    assert territory.arrondissement_of_postcode("13400") is None
