"""French analysis of the FAQ's keyword search: elision, stop words, stemming, accent folding,
synonyms, and the Elasticsearch analyzer built from the same vocabulary."""

from __future__ import annotations

import pytest

from domain.french_analysis import (
    STOP_WORDS,
    SYNONYMS,
    FrenchAnalyzer,
    elasticsearch_analysis,
    fold_accents,
    stem,
    strip_elision,
    words,
)


@pytest.fixture(scope="module")
def analyzer() -> FrenchAnalyzer:
    return FrenchAnalyzer()


def terms(analyzer: FrenchAnalyzer, text: str) -> list[str]:
    return analyzer.analyze(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("l'armoire", "armoire"),
        ("L’armoire", "armoire"),  # typographic apostrophe, capital
        ("d'encombrants", "encombrants"),
        ("qu'il", "il"),
        ("jusqu'à", "à"),
        ("aujourd'hui", "aujourd'hui"),  # not an elision
    ],
)
def test_elision(text: str, expected: str) -> None:
    assert strip_elision(text) == expected


def test_words_fold_accents_and_split_hyphens() -> None:
    assert fold_accents("Déchèterie Œuvre") == "decheterie oeuvre"
    assert words("Le lave-linge de l'immeuble, à côté !") == [
        "le",
        "lave",
        "linge",
        "de",
        "immeuble",
        "a",
        "cote",
    ]


def test_stemming_merges_inflections() -> None:
    # Snowball French, after a light plural strip (Snowball alone keeps "frigos").
    assert stem("frigos") == stem("frigo")
    assert stem("ramassez") == stem("ramasser")
    assert stem("collecte") == stem("collectes") == stem("collecter")
    assert stem("encombrants") == stem("encombrant")


def test_stop_words_and_voicemail_politeness_removed(analyzer: FrenchAnalyzer) -> None:
    out = terms(analyzer, "Allô bonjour madame, je voudrais savoir où est la déchèterie, merci")
    assert out == ["decheterie"]
    assert {"le", "la", "les", "de", "vous", "est", "bonjour", "merci"} <= STOP_WORDS
    # Words that tell questions apart are kept.
    assert not {"quand", "combien", "comment", "heure", "plus"} & STOP_WORDS


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("un frigo", "le réfrigérateur"),
        ("des frigos", "un frigidaire"),
        ("les machines à laver", "un lave-linge"),
        ("la machine a laver", "lave linge"),
        ("les gravats", "des déblais"),
        ("gravas", "gravats"),  # heard without the final t
        ("la déchetterie", "la déchèterie"),
        ("la décharge", "une déchèterie"),
        ("un rdv", "un rendez-vous"),
        ("la télé", "le téléviseur"),
        ("annuler", "j'annule"),
        ("l'annulation", "décommander"),
        ("dans le quinzième", "15e"),
    ],
)
def test_synonyms_meet(analyzer: FrenchAnalyzer, a: str, b: str) -> None:
    assert terms(analyzer, a) == terms(analyzer, b)


def test_synonyms_match_on_stems_longest_first(analyzer: FrenchAnalyzer) -> None:
    assert terms(analyzer, "une bouteille de gaz") == ["bouteillegaz"]
    assert terms(analyzer, "une bouteille d'eau") == [stem("bouteille"), stem("eau")]
    assert terms(analyzer, "machines à laver le linge") == ["lavelinge"]


def test_negation_is_kept_where_it_flips_the_meaning(analyzer: FrenchAnalyzer) -> None:
    assert terms(analyzer, "ce qui n'est pas accepté") == ["refuse"]
    assert terms(analyzer, "ne sont pas collectés") == ["refuse"]
    assert terms(analyzer, "accepté") == [stem("accepte")]


def test_repeats_are_kept_for_term_frequency(analyzer: FrenchAnalyzer) -> None:
    assert terms(analyzer, "frigo, frigo et congélateur") == [
        "refrigerateur",
        "refrigerateur",
        "congelateur",
    ]


def test_empty_and_punctuation_only(analyzer: FrenchAnalyzer) -> None:
    assert terms(analyzer, "") == []
    assert terms(analyzer, " ?! … ") == []


def test_custom_vocabulary() -> None:
    a = FrenchAnalyzer(synonyms={"velo": ("vélo", "bicyclette")}, stop_words=["un"])
    assert a.analyze("une bicyclette") == [stem("une"), "velo"]


def test_elasticsearch_analyzer_mirrors_the_python_chain() -> None:
    analysis = elasticsearch_analysis()
    chain = analysis["analyzer"]["encombot_french"]
    assert chain["tokenizer"] == "standard"
    assert chain["filter"] == [
        "encombot_elision",
        "lowercase",
        "asciifolding",
        "encombot_synonyms",
        "encombot_stop",
        "encombot_stemmer",
    ]
    filters = analysis["filter"]
    assert filters["encombot_stemmer"] == {"type": "stemmer", "language": "french"}
    assert "qu" in filters["encombot_elision"]["articles"]
    assert set(filters["encombot_stop"]["stopwords"]) == set(STOP_WORDS)
    rules = filters["encombot_synonyms"]["synonyms"]
    assert len(rules) == len(SYNONYMS)
    lavelinge = next(r for r in rules if r.endswith("=> lavelinge"))
    # Folded surface forms with their plurals: Elasticsearch's synonyms run before stemming.
    assert "machine a laver" in lavelinge and "machines a laver" in lavelinge
    assert all(r.isascii() for r in rules)
