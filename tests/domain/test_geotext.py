"""Street-name normalisation and French phonetic keys (domain/geotext.py)."""

from __future__ import annotations

from difflib import SequenceMatcher

import pytest

from domain.geotext import (
    city_key,
    fold,
    format_housenumber,
    number_to_words,
    parse_housenumber,
    phonetic,
    spell_numbers,
    split_type,
    street_key,
    type_similarity,
)


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


# --------------------------------------------------------------------------- folding


def test_fold_lowercases_strips_accents_and_punctuation() -> None:
    assert fold("Rue Saint-Ferréol") == "rue saint ferreol"
    assert fold("Boulevard  Jeanne d’Arc") == "boulevard jeanne d arc"
    assert fold("Place de l'Église, Œuvre") == "place de l eglise oeuvre"
    assert fold("  ") == ""


def test_fold_can_keep_accented_e_for_phonetics() -> None:
    assert fold("Dupré Hélène", keep_e_accents=True) == "duprE hElEne"
    # Same token boundaries either way.
    text = "Avenue de l'Abbé-Grégoire 12bis"
    assert len(fold(text).split()) == len(fold(text, keep_e_accents=True).split())


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (1, "un"),
        (17, "dix sept"),
        (21, "vingt et un"),
        (71, "soixante et onze"),
        (80, "quatre vingts"),
        (91, "quatre vingt onze"),
        (100, "cent"),
        (200, "deux cents"),
        (1999, "mille neuf cent quatre vingt dix neuf"),
    ],
)
def test_number_to_words(n: int, words: str) -> None:
    assert number_to_words(n) == words


def test_spell_numbers_handles_ordinals_and_glued_digits() -> None:
    assert spell_numbers(["4", "septembre"]) == ["quatre", "septembre"]
    assert spell_numbers(["1er"]) == ["premier"]
    assert spell_numbers(["141e"]) == ["cent", "quarante", "et", "unieme"]
    assert spell_numbers(["21eme"]) == ["vingt", "et", "unieme"]


def test_digits_and_words_give_the_same_key() -> None:
    assert street_key("Boulevard du 4 Septembre").key == street_key("bd du quatre septembre").key
    assert street_key("Rue du 141e RIA").key == street_key("rue du cent quarante et unième RIA").key


# --------------------------------------------------------------------------- street types


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("bd Hodoul", "Boulevard Hodoul"),
        ("Bld Hodoul", "Boulevard Hodoul"),
        ("av. du Prado", "Avenue du Prado"),
        ("ch. du Vallon", "Chemin du Vallon"),
        ("imp Dupré", "Impasse Dupré"),
        ("trav. de la Rotonde", "Traverse de la Rotonde"),
        ("pl Castellane", "Place Castellane"),
        ("all. des Canaris", "Allée des Canaris"),
        ("Allées Léon Gambetta", "Allée Léon Gambetta"),
        ("rte de la Gavotte", "Route de la Gavotte"),
        ("qu. de Rive Neuve", "Quai de Rive Neuve"),
        ("crs Lieutaud", "Cours Lieutaud"),
        ("sq. Gounod", "Square Gounod"),
        ("mte des Oblats", "Montée des Oblats"),
        ("Rd-Pt Jean Moulin", "Rond-Point Jean Moulin"),
        ("r. Paradis", "Rue Paradis"),
    ],
)
def test_abbreviated_types_have_the_full_key(short: str, full: str) -> None:
    assert street_key(short).key == street_key(full).key


def test_split_type_separates_type_and_name() -> None:
    assert split_type(["rond", "point", "jean", "moulin"]) == ("rond point", ["jean", "moulin"])
    assert split_type(["la", "canebiere"]) == ("", ["la", "canebiere"])
    # An abbreviation alone is not a type ("pl" could be anything).
    assert split_type(["pl"]) == ("", ["pl"])
    assert split_type(["impasse"]) == ("impasse", [])


def test_misspelt_type_is_recognised() -> None:
    assert street_key("boulevar Hodoul").street_type == "boulevard"
    assert street_key("avenu du Prado").street_type == "avenue"
    assert street_key("impase Dupré").street_type == "impasse"


def test_type_similarity() -> None:
    assert type_similarity("rue", "rue") == 1.0
    assert type_similarity("boulevard", "avenue") == 0.6  # a common confusion
    assert type_similarity("", "rue") == 0.6  # caller gave no type
    assert type_similarity("place", "rue") == 0.0


# --------------------------------------------------------------------------- articles, saints


def test_articles_are_dropped_from_the_key() -> None:
    assert street_key("Impasse de La Rouguière").key == "impasse rouguiere"
    assert street_key("Rue de la Palud").key == street_key("rue palud").key
    assert street_key("Place de l'Église").key == street_key("place d eglise").key
    assert street_key("Rue des Saints Anges").name_with_articles == "des st anges"


def test_a_name_made_only_of_particles_is_kept() -> None:
    assert street_key("Rue du Lac").name == "lac"
    assert street_key("Impasse La").name == "la"


@pytest.mark.parametrize(
    "variant",
    [
        "Rue Saint-Ferréol",
        "rue st ferreol",
        "Rue St-Ferréol",
        "RUE SAINT FERREOL",
        "rue ste ferreol",
    ],
)
def test_saint_variants_share_a_key(variant: str) -> None:
    assert street_key(variant).key == "rue st ferreol"


def test_title_abbreviations_are_expanded() -> None:
    assert street_key("Av. du Gal de Gaulle").key == street_key("Avenue du Général de Gaulle").key
    assert street_key("Bd du Mal Juin").key == street_key("Boulevard du Maréchal Juin").key


# --------------------------------------------------------------------------- phonetics


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Philippe", "Filipe"),  # ph -> f, doubled consonants
        ("Quinet", "Kinet"),  # qu -> k
        ("Beaumont", "Bomon"),  # eau -> o, final silent t, nasal on
        ("Lemaire", "Lemère"),  # ai / è
        ("Raffinerie", "Rafinerie"),  # doubled consonants
        ("Laurent", "Lorant"),  # au -> o, en / an
        ("Saint", "Sin"),  # ain / in, final t
        ("Cette", "Sète"),  # c + e -> s
        ("Gérard", "Jérar"),  # g + e -> j, final d
        ("Hodoul", "Odoul"),  # h silent
        ("Renaud", "Reno"),  # final d, au -> o
        ("Dupré", "du prêt"),  # word boundary, final t, é / ê
        ("Puget", "Pujet"),  # g + e -> j, -et
        ("Jauffret", "Jofrè"),
        ("Chaves", "Chave"),  # plural s, mute e
    ],
)
def test_phonetic_equivalences(a: str, b: str) -> None:
    assert phonetic(a) == phonetic(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Rome", "Rhône"),  # a mute e keeps the m: not a nasal vowel
        ("Joffre", "Jauffret"),  # final -et is heard
        ("Paradis", "Prado"),
        ("Baille", "Chave"),
    ],
)
def test_phonetic_keeps_distinct_sounds_apart(a: str, b: str) -> None:
    assert phonetic(a) != phonetic(b)


def test_asr_near_misses_sound_alike() -> None:
    heard, official = street_key("boulevard au doux"), street_key("Boulevard Hodoul")
    assert heard.street_type == official.street_type == "boulevard"
    assert similarity(heard.name_phonetic, official.name_phonetic) >= 0.85
    assert similarity(heard.phonetic, official.phonetic) >= 0.9

    heard, official = street_key("en passe du prêt"), street_key("Impasse Dupré")
    # The type itself was garbled: the whole phonetic strings still nearly agree and end alike.
    assert similarity(heard.phonetic, official.phonetic) >= 0.85
    assert heard.phonetic.endswith(official.name_phonetic)


def test_unrelated_names_sound_different() -> None:
    assert similarity(phonetic("Rue Paradis"), phonetic("Rue Breteuil")) < 0.6


# --------------------------------------------------------------------------- places, numbers


def test_city_key_drops_arrondissement_designations() -> None:
    assert city_key("Marseille 8e Arrondissement") == "marseille"
    assert city_key("Marseille huitième") == "marseille"
    assert city_key("MARSEILLE 1ER") == "marseille"
    assert city_key("Saint-Cannat") == "st cannat"
    assert city_key("Aix-en-Provence") == "aix en provence"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("12", (12, "")),
        ("12 bis", (12, "bis")),
        ("12bis", (12, "bis")),
        ("12 B", (12, "bis")),
        ("3 ter", (3, "ter")),
        ("3T", (3, "ter")),
        ("5 quater", (5, "quater")),
        ("7 A", (7, "a")),
        ("", None),
        ("bis", None),
    ],
)
def test_parse_housenumber(text: str, parsed: tuple[int, str] | None) -> None:
    assert parse_housenumber(text) == parsed


def test_format_housenumber() -> None:
    assert format_housenumber(12, "") == "12"
    assert format_housenumber(12, "bis") == "12 bis"
