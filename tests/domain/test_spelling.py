"""A street name spelled on the phone (domain/spelling.py): the letters read from the
transcript, and the street of the place they name, never a guess between two."""

from __future__ import annotations

import pytest

from domain.spelling import (
    SpelledStreet,
    keyed_letters,
    keypad_code,
    match_keyed,
    match_spelled,
    parse_spelling,
    street_variants,
)

# Streets of one postcode, as the gazetteer names them (13005 Marseille and a few made-up
# neighbours that make the matches hard).
STREETS = [
    "Boulevard Chave",
    "Rue Chape",
    "La Canebière",
    "Rue Edmond Rostand",
    "Place Rostand",
    "Rue Saint-Pierre",
    "Rue de l'Église",
    "Avenue du Maréchal de Lattre de Tassigny",
    "Rue Ferrari",
    "Rue Ferrer",
]


@pytest.mark.parametrize(
    ("text", "letters"),
    [
        # Plain letters, as Whisper writes them, accents ignored.
        ("c a n e b i è r e", "canebiere"),
        ("C, A, N, E, B, I, È, R, E.", "canebiere"),
        ("C-H-A-V-E", "chave"),
        # The letters' names.
        ("Cé, A, enne, E, bé, I, E, erre, E", "canebiere"),
        ("ixe, i grec, zède", "xyz"),
        # The radio alphabet: the word after "comme" gives the letter, over a misheard one.
        ("R comme Robert, O, S comme Suzanne, T, A, N, D", "rostand"),
        (
            "C comme Célestin, H comme Henri, A comme Anatole, V comme Victor, E comme Eugène",
            "chave",
        ),
        ("B comme Berthe, air comme Raoul, E", "bre"),
        ("D comme dans Désiré, E, dé, O", "dedo"),
        ("i grec comme Yvonne, S, E, R", "yser"),
        # Radio words alone, French or international.
        ("Célestin, Henri, Anatole, Victor, Eugène", "chave"),
        ("Charlie Hotel Alpha Victor Echo", "chave"),
        # Doubles: "deux L", "double L"; "double V" is a W.
        ("F, E, deux R, A, R, I", "ferrari"),
        ("F, E, double R, E, R", "ferrer"),
        ("double V, A, G, 2 N, E, R", "wagnner"),
        # Separators; accents and what is said around the letters are no letters.
        ("S, A, I, N, T, tiret, P, I, E, deux R, E", "saint-pierre"),
        ("euh alors ça s'écrit C, H, A, V, E", "chave"),
        ("E accent aigu, G, L, I, S, E", "eglise"),
        ("c'est M, A, R, espace, E, L", "mar el"),
    ],
)
def test_parse_spelling(text: str, letters: str) -> None:
    assert parse_spelling(text) == letters


@pytest.mark.parametrize(
    "text",
    ["", "oui", "je sais pas", "boulevard Chave", "C, A", "deux L", "euh… attendez", "tiret"],
)
def test_not_a_spelling(text: str) -> None:
    assert parse_spelling(text) is None


def test_variants_with_and_without_type_and_articles() -> None:
    assert street_variants("Rue Edmond Rostand") >= {"rueedmondrostand", "edmondrostand", "rostand"}
    assert "eglise" in street_variants("Rue de l'Église")
    assert "canebiere" in street_variants("La Canebière")


@pytest.mark.parametrize(
    ("letters", "street"),
    [
        ("chave", "Boulevard Chave"),
        ("canebiere", "La Canebière"),
        ("cannebiere", "La Canebière"),  # one letter too many: still the only close one
        ("saint-pierre", "Rue Saint-Pierre"),
        ("edmondrostand", "Rue Edmond Rostand"),
        ("eglise", "Rue de l'Église"),
        ("tassigny", "Avenue du Maréchal de Lattre de Tassigny"),
        ("ferrari", "Rue Ferrari"),
    ],
)
def test_match_spelled(letters: str, street: str) -> None:
    found = match_spelled(letters, STREETS)
    assert found.street == street, found


@pytest.mark.parametrize(
    "letters",
    [
        "rostand",  # Rue Edmond Rostand and Place Rostand: two streets, no guess
        "ferrar",  # as close to Ferrari as to Ferrer
        "chae",  # Chave or Chape: one letter from each
        "zzzzzz",  # nothing like it in the place
        "ab",  # too short to say anything
    ],
)
def test_ambiguous_or_unknown_is_no_answer(letters: str) -> None:
    found = match_spelled(letters, STREETS)
    assert not found.found, found


def test_a_street_found_only_among_the_streets_given() -> None:
    # The place decides which streets are candidates: elsewhere, "Chave" is not there.
    assert not match_spelled("chave", ["Rue Paradis", "Rue de Rome"]).found
    assert not match_spelled("chave", []).found


def test_keypad_code_is_one_key_per_letter_of_the_name() -> None:
    assert keypad_code("Chave") == "24283"
    # Accents, spaces and signs type nothing of their own.
    assert keypad_code("Saint-Ferréol") == keypad_code("saintferreol") == "724683377365"


@pytest.mark.parametrize(
    ("digits", "keys"),
    [("24283#", "24283"), ("24283", "24283"), ("242#", None), ("2428#3", None), ("24103#", None)],
)
def test_keyed_letters(digits: str, keys: str | None) -> None:
    # Too few keys, a `#` inside, or a key with no letter (0, 1) is no name typed.
    assert keyed_letters(digits) == keys


@pytest.mark.parametrize(
    ("typed", "street"),
    [
        ("chave", "Boulevard Chave"),
        ("edmondrostand", "Rue Edmond Rostand"),
        ("ferrari", "Rue Ferrari"),
        ("eglise", "Rue de l'Église"),  # the name without its type and article
        ("placerostand", "Place Rostand"),  # with its type, one street again
    ],
)
def test_match_keyed(typed: str, street: str) -> None:
    found = match_keyed(keypad_code(typed), STREETS)
    assert found.street == street and found.errors == 0, found


def test_keys_two_streets_type_alike_are_no_answer() -> None:
    # Rue Edmond Rostand and Place Rostand both type ROSTAND; Chave and Chape share no keys
    # (V on 8, P on 7) and each is found; a key pressed wrong finds nothing, never the next street.
    assert match_keyed(keypad_code("rostand"), STREETS) == SpelledStreet(errors=0, runner_up=0)
    assert match_keyed(keypad_code("chape"), STREETS).street == "Rue Chape"
    assert match_keyed("24284", STREETS) == SpelledStreet()
    assert not match_keyed(keypad_code("chave"), ["Rue Paradis", "Rue de Rome"]).found
