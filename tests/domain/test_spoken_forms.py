"""Spoken forms and sound-alike matching used to resolve garbled addresses and items
(domain/geotext.py, domain/catalogue.py)."""

from __future__ import annotations

import pytest
import yaml

from corpus import CORPUS_DIR
from domain import geotext
from domain.catalogue import Catalogue, plural_form


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (1, "un"),
        (17, "dix-sept"),
        (21, "vingt et un"),
        (32, "trente-deux"),
        (71, "soixante et onze"),
        (80, "quatre-vingts"),
        (97, "quatre-vingt-dix-sept"),
        (112, "cent douze"),
        (200, "deux cents"),
        (1300, "mille trois cents"),
    ],
)
def test_spoken_number(n: int, said: str) -> None:
    assert geotext.spoken_number(n) == said


@pytest.mark.parametrize(
    ("label", "said"), [("12", "douze"), ("12 bis", "douze bis"), ("4B", "quatre bis")]
)
def test_spoken_housenumber(label: str, said: str) -> None:
    assert geotext.spoken_housenumber(label) == said


def test_the_final_gt_of_vingt_is_silent() -> None:
    assert geotext.phonetic("vingt") == geotext.phonetic("vin")


@pytest.mark.parametrize(
    ("heard", "number"),
    [
        ("quatre rue paradis", 4),
        ("cadre en passe des lilas", 4),  # "quatre" heard as "cadre"
        ("aussi avenue du prado", 6),  # "au six" heard as "aussi"
        ("dit boulevard chave", 10),  # "dix"
        ("vent et un traverse", 21),  # "vingt et un"
        ("quarante huit rue", 48),
    ],
)
def test_number_guesses_read_sound_alikes(heard: str, number: int) -> None:
    guesses = dict(geotext.number_guesses(heard))
    assert number in guesses
    assert guesses[number] >= 0.6


def test_a_number_that_a_longer_one_extends_steps_behind_it() -> None:
    # « dix-huit » starts with « dix »: 18 first, not 10 (dev0225 of the corpus).
    assert geotext.number_guesses("dix-huit de l'avenue")[0] == (18, 1.0)
    assert geotext.number_guesses("dix de l'avenue")[0] == (10, 1.0)
    assert geotext.number_guesses("soixante-dix-sept rue")[0][0] == 77


def test_number_guesses_of_nothing() -> None:
    assert geotext.number_guesses("") == []


@pytest.mark.parametrize(
    ("pattern", "text", "distance"),
    [
        ("abc", "xxabcxx", 0),
        ("abc", "xxabxx", 1),
        ("", "anything", 0),
        ("abc", "", 3),
    ],
)
def test_semiglobal_distance(pattern: str, text: str, distance: int) -> None:
    assert geotext.semiglobal_distance(pattern, text) == distance


def test_prefix_distance_anchors_the_start() -> None:
    assert geotext.prefix_distance("abc", "abcxx") == 0
    assert geotext.prefix_distance("abc", "xxabc") == 2


def test_combined_street_score_adds_evidence_in_nats() -> None:
    base = geotext.combined_street_score(10.0, 0.5, 0.0)
    assert geotext.combined_street_score(12.0, 0.5, 0.0) == pytest.approx(base + 2)
    assert geotext.combined_street_score(10.0, 0.6, 0.0) > base
    assert geotext.combined_street_score(10.0, 0.5, 0.08) > base


# --------------------------------------------------------------------------- items


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("une machine à la veille", "lave-linge"),  # "machine à laver"
        ("un coup gélateur", "congélateur"),
        ("une gase nière", "cuisinière"),  # "gazinière"
        ("deux armois", "armoire"),
    ],
)
def test_sound_alike_items_after_a_quantity(catalogue: Catalogue, text: str, item: str) -> None:
    (mention,) = catalogue.find_mentions(text)
    assert mention.item.name == item
    assert mention.fuzzy


@pytest.mark.parametrize(
    "text",
    [
        "la commande arrive demain",  # no quantity before
        "un stable",  # first sound differs
        "un burin",  # too short to trust a sound-alike
        "une machine à café",
    ],
)
def test_no_sound_alike_without_the_rules(catalogue: Catalogue, text: str) -> None:
    assert catalogue.find_mentions(text) == []


def test_sound_alikes_can_be_turned_off(catalogue: Catalogue) -> None:
    assert catalogue.find_mentions("un coup gélateur", phonetic=False) == []


def test_closest_forms_puts_the_sound_alike_first(catalogue: Catalogue) -> None:
    forms = catalogue.closest_forms("bifet", 5)
    assert forms[0] == "buffet"
    assert len(forms) == 5
    assert len({catalogue.get(f).name for f in forms}) == 5  # type: ignore[union-attr]


def test_closest_forms_of_a_short_word_keep_the_one_written_alike(catalogue: Catalogue) -> None:
    # "chaise" heard "chale" on the phone: their phonetic keys ("CEs", "Cal") share one
    # letter, the words as written four of five; the audio's vote needs it among the forms.
    assert "chaise" in catalogue.closest_forms("chale", 12)


@pytest.mark.parametrize(
    ("form", "plural"),
    [
        ("chaise", "chaises"),
        ("bureau", "bureaux"),
        ("matelas", "matelas"),
        ("machine à laver", "machines à laver"),
        ("cheval", "chevaux"),
    ],
)
def test_plural_form(form: str, plural: str) -> None:
    assert plural_form(form) == plural
