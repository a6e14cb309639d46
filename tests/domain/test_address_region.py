"""Where the address is in a (garbled) transcript, what was heard of it, and the item slots
the audio fills in (domain/understanding.py).

Written from the general shape of a French voicemail ("j'habite au …", "mon adresse, c'est
le …", then the locality) and from what a transcription does to it: street types and numbers
turned into other words, the locality glued or misspelt."""

from __future__ import annotations

import pytest
import yaml

from corpus import CORPUS_DIR
from domain.address_models import ItemSlot
from domain.catalogue import Catalogue
from domain.models import Intent, ItemCount, Understanding
from domain.understanding import (
    apply_item_scores,
    find_item_slots,
    locate_address,
    understand,
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


def region_text(text: str) -> str | None:
    region = locate_address(text)
    return text[region.start : region.end] if region else None


@pytest.mark.parametrize(
    ("text", "heard", "determiner"),
    [
        ("J'habite au 12 rue Paradis, treize mille six.", "12 rue Paradis", "au"),
        ("Mon adresse, c'est le huit boulevard Chave à Marseille.", "huit boulevard Chave", "le"),
        ("Je suis au trois en passe des lilas dans le neuvième.", "trois en passe des lilas", "au"),
        # The cue itself misheard ("adresse" → "adhès"), the number glued to the type.
        ("Mon adhès c'est le sept ravers du moulin, 13 000 douze.", "sept ravers du moulin", "le"),
        # No determiner left: "au six" heard as "aussi".
        ("Je suis aussi avenue du prado. Merci.", "aussi avenue du prado", ""),
        # The locality written as a postcode transcription ("10 000" for "treize mille dix").
        ("J'habite au cinq avenue des pins 10 000 Marseille.", "cinq avenue des pins", "au"),
        # The commune first, then the street.
        ("J'habite à Aubagne, au douze rue Paradis.", "douze rue Paradis", "au"),
    ],
)
def test_region_between_cue_and_locality(text: str, heard: str, determiner: str) -> None:
    region = locate_address(text)
    assert region is not None
    assert text[region.start : region.end] == heard
    assert region.determiner == determiner


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, je voudrais savoir les horaires de la déchèterie.",
        "Je suis Madame Martin, rappelez-moi.",
        "",
    ],
)
def test_no_region_without_an_address_cue(text: str) -> None:
    assert locate_address(text) is None


def test_a_street_no_type_survived_is_kept_as_heard(catalogue: Catalogue) -> None:
    u = understand(
        "Bonjour, j'habite au douze en passe des lilas, à Marseille neuvième. "
        "Je voudrais faire enlever un canapé.",
        "+33611223344",
        catalogue,
    )
    assert u.intent == Intent.BOOKING
    assert u.address is not None
    assert u.address.housenumber == "12"
    assert u.address.street == "en passe des lilas"
    assert u.address.postcode == "13009"
    assert any("recherchée dans la base d'adresses" in n for n in u.notes)


def test_typed_streets_still_win_over_the_region(catalogue: Catalogue) -> None:
    u = understand("J'habite au 32 boulevard Baille, 13005. Un canapé.", "+33611223344", catalogue)
    assert u.address is not None
    assert (u.address.housenumber, u.address.street) == ("32", "Boulevard Baille")


def test_digits_before_a_singular_noun_are_not_a_big_count(catalogue: Catalogue) -> None:
    # "enlever une chaise" transcribed "en 21 chaise".
    u = understand(
        "Au 3 rue Longue, 13001. Je voudrais faire en 21 chaise.", "+33611223344", catalogue
    )
    assert {i.item: i.count for i in u.items} == {"chaise": 1}
    assert any("douteuse" in n for n in u.notes)


# --------------------------------------------------------------------------- item slots


def test_item_slots_are_unknown_words_after_a_quantity(catalogue: Catalogue) -> None:
    text = (
        "J'habite au 4 rue Paradis, 13006. Je voudrais faire enlever un bifet "
        "et deux fotueils. Merci."
    )
    slots = find_item_slots(text, catalogue)
    # "deux fotueils" sounds like "fauteuils": the catalogue finds it without the audio.
    assert [(text[s.start : s.end], s.count) for s in slots] == [("un bifet", 1)]
    assert "buffet" in slots[0].forms
    assert [m.item.name for m in catalogue.find_mentions(text)] == ["fauteuil"]


def test_no_slot_for_known_items_or_request_words(catalogue: Catalogue) -> None:
    text = "Je souhaite un rendez-vous pour un canapé et une table en bois. Merci."
    assert find_item_slots(text, catalogue) == []


def test_no_slot_outside_the_request(catalogue: Catalogue) -> None:
    # "en" is a pronoun here, and the address sentence is not the request.
    text = "Mon adresse, c'est le deux rue Paradis. J'en ai plus besoin."
    assert find_item_slots(text, catalogue) == []


def _booking(items: list[ItemCount]) -> Understanding:
    return Understanding(intent=Intent.BOOKING.value, items=items, notes=["aucun objet reconnu"])


def test_the_audio_choice_is_added_when_it_clearly_wins(catalogue: Catalogue) -> None:
    slot = ItemSlot(0, 8, "un", 1, ["buffet", "bureau", "bidet"])
    u = apply_item_scores(_booking([]), [slot], [[40.0, 31.0, 20.0]], catalogue)
    assert u.items == [ItemCount("buffet", 1)]
    assert "aucun objet reconnu" not in u.notes


def test_a_near_tie_adds_nothing(catalogue: Catalogue) -> None:
    slot = ItemSlot(0, 8, "un", 1, ["buffet", "bureau"])
    u = apply_item_scores(_booking([]), [slot], [[40.0, 38.5]], catalogue)
    assert u.items == []


def test_a_refused_item_chosen_by_the_audio_is_refused(catalogue: Catalogue) -> None:
    slot = ItemSlot(0, 8, "quatre", 4, ["pneu", "vélo"])
    u = apply_item_scores(_booking([ItemCount("vélo", 1)]), [slot], [[30.0, 10.0]], catalogue)
    assert u.items == [ItemCount("vélo", 1)]
    assert u.refused_items == [ItemCount("pneu", 4)]
    assert u.refusal_advice
