"""French spoken numbers: cardinals, ordinals, phone numbers, postcodes, arrondissements."""

from __future__ import annotations

import pytest

from domain.numbers import (
    Districts,
    extract_phone_numbers,
    extract_postcode,
    find_arrondissement,
    find_numbers,
    find_phone_numbers,
    find_postcodes,
    fold,
    normalize_housenumber,
    parse_cardinal,
    parse_ordinal,
    spoken_to_digits,
)
from domain.understanding import Territory


@pytest.fixture(scope="module")
def districts(territory: Territory) -> Districts:
    """Marseille's arrondissements, from the territory files."""
    assert territory.districts is not None
    return territory.districts


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("zéro", 0),
        ("un", 1),
        ("dix-sept", 17),
        ("dix sept", 17),
        ("vingt et un", 21),
        ("trente-deux", 32),
        ("soixante et onze", 71),
        ("soixante-dix-huit", 78),
        ("quatre-vingts", 80),
        ("quatre-vingt-un", 81),
        ("quatre-vingt-onze", 91),
        ("quatre vingt dix neuf", 99),
        ("cent", 100),
        ("cent un", 101),
        ("deux cents", 200),
        ("trois cent quarante-cinq", 345),
        ("mille", 1000),
        ("mille neuf cent quatre-vingt-quatre", 1984),
        ("deux mille vingt-six", 2026),
        ("neuf mille neuf cent quatre-vingt-dix-neuf", 9999),
        ("septante-cinq", 75),
        ("Quarante Deux", 42),
        ("ZÉRO", 0),
        ("57", 57),
    ],
)
def test_parse_cardinal(words: str, value: int) -> None:
    assert parse_cardinal(words) == value


@pytest.mark.parametrize("text", ["", "bonjour", "treize zéro", "deux trois", "cent cent"])
def test_parse_cardinal_rejects_what_is_not_one_number(text: str) -> None:
    assert parse_cardinal(text) is None


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("premier", 1),
        ("première", 1),
        ("1er", 1),
        ("1re", 1),
        ("2e", 2),
        ("deuxième", 2),
        ("cinquième", 5),
        ("neuvième", 9),
        ("douzième", 12),
        ("seizième", 16),
        ("3ème", 3),
        ("14eme", 14),
        ("vingt et unième", 21),
        ("trentième", 30),
    ],
)
def test_parse_ordinal(word: str, value: int) -> None:
    assert parse_ordinal(word) == value


@pytest.mark.parametrize("word", ["chaise", "ième", "12", "deux"])
def test_parse_ordinal_rejects_non_ordinals(word: str) -> None:
    assert parse_ordinal(word) is None


def test_numbers_follow_grammar_instead_of_summing_neighbours() -> None:
    assert [n.value for n in find_numbers("un deux trois")] == [1, 2, 3]
    assert [n.value for n in find_numbers("quinze zéro six")] == [15, 0, 6]
    assert [n.value for n in find_numbers("seize mille quatre")] == [16004]


def test_a_comma_splits_numbers_that_would_otherwise_combine() -> None:
    assert [n.value for n in find_numbers("dix, sept")] == [10, 7]
    assert [n.value for n in find_numbers("dix-sept")] == [17]


def test_digits_keep_their_leading_zeros() -> None:
    (span,) = find_numbers("au 007")
    assert (span.value, span.digits, span.spoken) == (7, "007", False)


def test_neuf_after_a_noun_is_the_adjective() -> None:
    assert find_numbers("un lit neuf") == [n for n in find_numbers("un lit neuf") if n.value != 9]
    assert [n.value for n in find_numbers("j'habite au neuf")] == [9]
    assert [n.value for n in find_numbers("Marseille neuf")] == [9]


@pytest.mark.parametrize(
    "spoken",
    [
        "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit",
        "zéro six douze trente-quatre cinquante-six soixante-dix-huit",
        "zéro six un deux trois quatre cinq six sept huit",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
    ],
)
def test_phone_numbers_in_any_grouping(spoken: str) -> None:
    (phone,) = find_phone_numbers(f"rappelez-moi au {spoken}, merci")
    assert phone.digits == "0612345678"


@pytest.mark.parametrize(
    "spoken",
    [
        "+33 6 12 34 56 78",
        "plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit",
        "00 33 6 12 34 56 78",
    ],
)
def test_phone_numbers_with_the_country_code(spoken: str) -> None:
    (phone,) = find_phone_numbers(spoken)
    assert phone.digits == "+33612345678"


def test_phone_span_covers_the_spoken_words() -> None:
    text = "au zéro quatre, quatre-vingt-onze, dix, vingt, trente. Merci"
    (phone,) = find_phone_numbers(text)
    assert phone.digits == "0491102030"
    assert text[phone.start : phone.end].startswith("zéro quatre")
    assert text[phone.start : phone.end].endswith("trente")


def test_counts_and_house_numbers_are_not_phone_numbers() -> None:
    assert find_phone_numbers("au 12 rue Longue, 2 frigos et 3 chaises") == []


@pytest.mark.parametrize(
    ("text", "postcode"),
    [
        ("treize mille douze", "13012"),
        ("treize zéro zéro trois", "13003"),
        ("treize zéro seize", "13016"),
        ("un trois zéro zéro six", "13006"),
        ("13 006", "13006"),
        ("13.006", "13006"),
        ("13006", "13006"),
        ("treize cent", "13100"),
        ("treize mille quatre cents", "13400"),
        ("quatre-vingt-quatre mille cent vingt", "84120"),
    ],
)
def test_postcodes_in_any_grouping(text: str, postcode: str) -> None:
    assert [p.postcode for p in find_postcodes(f"Rue Longue, {text} Marseille")] == [postcode]


def test_time_like_transcription_is_a_postcode_only_in_an_address(districts: Districts) -> None:
    def found(text: str) -> list[str]:
        return [p.postcode for p in find_postcodes(text, in_address=True, districts=districts)]

    assert found(" 13h12") == ["13012"]
    assert found(" 13 h 02") == ["13002"]
    assert find_postcodes("passez après 13h12", districts=districts) == []


def test_marseille_shorthand_only_in_an_address(districts: Districts) -> None:
    def found(text: str) -> list[str]:
        return [p.postcode for p in find_postcodes(text, in_address=True, districts=districts)]

    assert found("treize douze") == ["13012"]
    assert found("treize zéro deux") == ["13002"]
    assert find_postcodes("treize douze", districts=districts) == []


def test_phone_numbers_are_not_read_as_postcodes() -> None:
    assert find_postcodes("appelez le 06 13 00 81 23") == []


def test_small_numbers_are_not_postcodes() -> None:
    assert find_postcodes("deux cent trois chaises et mille deux cents euros") == []


@pytest.mark.parametrize(
    ("text", "arrondissement"),
    [
        ("à Marseille, dans le douzième arrondissement", 12),
        ("Marseille 6e", 6),
        ("à Marseille sixième", 6),
        ("Marseille 3", 3),
        ("dans le 1er", 1),
        ("dans le quinzième.", 15),
        ("le 8ème arrondissement", 8),
    ],
)
def test_find_arrondissement(text: str, arrondissement: int, districts: Districts) -> None:
    assert find_arrondissement(text, districts) == arrondissement


@pytest.mark.parametrize(
    "text",
    [
        "au deuxième étage",
        "dans le premier étage",
        "Marseille 13 006",
        "le vingtième arrondissement",
        "le premier rendez-vous",
    ],
)
def test_find_arrondissement_ignores_other_ordinals(text: str, districts: Districts) -> None:
    assert find_arrondissement(text, districts) is None


def test_bare_ordinal_after_a_street_is_an_arrondissement(districts: Districts) -> None:
    assert find_arrondissement("7e", districts, in_address=True) == 7
    assert find_arrondissement("7e", districts) is None


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("12bis", "12 bis"),
        ("12 BIS", "12 bis"),
        ("7 ter", "7 ter"),
        ("4 B", "4 b"),
        ("douze ter", "12 ter"),
        ("cent vingt", "120"),
        ("rue", ""),
    ],
)
def test_normalize_housenumber(raw: str, normalized: str) -> None:
    assert normalize_housenumber(raw) == normalized


def test_spoken_to_digits_rewrites_a_transcript() -> None:
    text = "J'habite au trente-deux boulevard Baille, treize zéro zéro cinq, dans le cinquième."
    assert spoken_to_digits(text) == "J'habite au 32 boulevard Baille, 13005, dans le 5e."


def test_spoken_to_digits_joins_phone_numbers() -> None:
    text = "au zéro six, onze, vingt-deux, trente-trois, quarante-quatre."
    assert spoken_to_digits(text) == "au 0611223344."


def test_spoken_to_digits_keeps_articles_unless_asked() -> None:
    assert spoken_to_digits("un canapé et deux chaises") == "un canapé et 2 chaises"
    assert spoken_to_digits("un canapé", keep_articles=False) == "1 canapé"


def test_spoken_to_digits_leaves_words_that_are_not_numbers() -> None:
    assert spoken_to_digits("un lit neuf, merci") == "un lit neuf, merci"
    assert spoken_to_digits("Bonjour madame") == "Bonjour madame"


def test_fold() -> None:
    assert fold("Zéro Œuvre’s ÉTÉ") == "zero oeuvre's ete"


def test_extract_helpers() -> None:
    text = "Au 5 rue Longue, treize zéro zéro quatre. Mon numéro : zéro six, douze, "
    text += "trente-quatre, cinquante-six, soixante-dix-huit."
    assert extract_postcode(text) == "13004"
    assert extract_phone_numbers(text) == ["0612345678"]
    assert extract_postcode("rien ici") is None
    assert extract_phone_numbers("rien ici") == []


@pytest.mark.parametrize(
    "text",
    [
        "J'habite au douze rue Paradis à Marseille, une armoire.",
        "au 12 rue Paradis Marseille un canapé et deux chaises",
    ],
)
def test_an_article_after_the_city_is_no_arrondissement(text: str, districts: Districts) -> None:
    """« Marseille, une armoire » is not the 1st arrondissement (it made a 6th-arrondissement
    address contradict what the caller « said »)."""
    assert find_arrondissement(text, districts) is None


def test_a_postcode_ends_its_run_of_numbers(districts: Districts) -> None:
    # The house number before a postcode, commas lost: « au treize treize cinq cents » is 13
    # then 13500 (not the shorthand 13013 then 500), « au un treize zéro zéro un » is 1 then
    # 13001 (not 11300 then 0, 1).
    def codes(text: str) -> list[str]:
        return [p.postcode for p in find_postcodes(text, in_address=True, districts=districts)]

    assert codes("au treize treize cinq cents Martigues") == ["13500"]
    assert codes("au un treize zéro zéro un Marseille") == ["13001"]
    assert codes("au treize treize quinze Marseille") == ["13015"]
    # Alone, the shorthand and the grouped forms are read as before.
    assert codes("rue Paradis treize treize") == ["13013"]
    assert codes("rue Paradis treize zéro zéro huit") == ["13008"]
