"""Item slots: unknown words after a quantity in the request, and the items the audio chooses
for them (domain/understanding/item_slots.py)."""

from __future__ import annotations

import pytest
import yaml

from corpus import CORPUS_DIR
from domain.address_models import ItemSlot
from domain.catalogue import Catalogue
from domain.models import Intent, ItemCount, Understanding
from domain.understanding import Territory, apply_item_scores, find_item_slots


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


def test_item_slots_are_unknown_words_after_a_quantity(
    catalogue: Catalogue, territory: Territory
) -> None:
    text = (
        "J'habite au 4 rue Paradis, 13006. Je voudrais faire enlever un bifet "
        "et deux fotueils. Merci."
    )
    slots = find_item_slots(text, catalogue, territory)
    # "deux fotueils" sounds like "fauteuils": the catalogue finds it without the audio.
    assert [(text[s.start : s.end], s.count) for s in slots] == [("un bifet", 1)]
    assert "buffet" in slots[0].forms
    assert [m.item.name for m in catalogue.find_mentions(text)] == ["fauteuil"]


def test_no_slot_for_known_items_or_request_words(
    catalogue: Catalogue, territory: Territory
) -> None:
    text = "Je souhaite un rendez-vous pour un canapé et une table en bois. Merci."
    assert find_item_slots(text, catalogue, territory) == []


def test_no_slot_outside_the_request(catalogue: Catalogue, territory: Territory) -> None:
    # "en" is a pronoun here, and the address sentence is not the request.
    text = "Mon adresse, c'est le deux rue Paradis. J'en ai plus besoin."
    assert find_item_slots(text, catalogue, territory) == []


@pytest.mark.parametrize(
    ("text", "slots", "first_form"),
    [
        # « un frigo et un matelas à jeter » at 8 kHz: the articles glued or lost.
        ("J'ai affrigo et amat la j'attends.", ["affrigo", "amat la"], ["frigo", "matelas"]),
        # The word before it sounds like no item: the item is looked for on its own.
        ("Alors affrigo.", ["affrigo"], ["frigo"]),
        # A quantity heard makes its slot as in a request, once.
        ("Je voudrais enlever un bifet.", ["un bifet"], ["buffet"]),
    ],
)
def test_an_answer_to_the_items_question_has_slots_without_a_quantity(
    catalogue: Catalogue, territory: Territory, text: str, slots: list[str], first_form: list[str]
) -> None:
    found = find_item_slots(text, catalogue, territory, answer=True)
    assert [text[s.start : s.end] for s in found] == slots
    assert [s.forms[0] for s in found] == first_form
    assert all(s.count == 1 for s in found)
    if "affrigo" in text:  # not a request, no quantity: outside an answer, nothing
        assert find_item_slots(text, catalogue, territory) == []


@pytest.mark.parametrize(
    "text",
    [
        "Je sais pas.",
        "Oui.",
        "Attendez, je regarde.",  # words that sound like no item
        "Est-ce que vous ramassez les gravats ?",  # a known item: a mention, not a slot
        "Un canapé et deux chaises.",
        # A quantity outside a request sentence: no slot, with or without the article.
        "Alors un bifet.",
        # Refused, taken back or kept: no item to find in the audio.
        "Pas affrigo.",
        "Affrigo, non pardon, une table.",
        "Voilà, merci beaucoup, bonne journée.",
    ],
)
def test_an_answer_without_unknown_item_words_has_no_slot(
    catalogue: Catalogue, territory: Territory, text: str
) -> None:
    assert find_item_slots(text, catalogue, territory, answer=True) == []


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


@pytest.mark.parametrize(
    "request_words",
    [
        # taken back by the caller: the audio must not add it again
        "un bifet, euh non pardon, une commode",
        "un bifet, ou plutôt une commode",
        # kept by the caller
        "une commode et un bifet, je le garde",
    ],
)
def test_no_slot_for_words_the_caller_takes_back(
    request_words: str, catalogue: Catalogue, territory: Territory
) -> None:
    text = f"J'habite au 4 rue Paradis, 13006. Je voudrais faire enlever {request_words}. Merci."
    assert find_item_slots(text, catalogue, territory) == []


def test_a_slot_then_more_items_is_still_a_slot(catalogue: Catalogue, territory: Territory) -> None:
    text = "J'habite au 4 rue Paradis, 13006. Je voudrais faire enlever un bifet et une commode."
    assert [s.quantity for s in find_item_slots(text, catalogue, territory)] == ["un"]


@pytest.mark.parametrize(
    "request_words",
    [
        # kept: no, the verb is negated or in the past
        "une commode et un bifet, je ne le garde pas",
        "une commode et un bifet, je le garde plus",
        "une commode et un bifet, je le gardais à la cave",
        # taken back: no, "non", "plutôt", "erreur" describe the words before
        "un bifet non fonctionnel, une commode",
        "un bifet plutôt lourd, une commode",
        "un bifet acheté par erreur, une commode",
    ],
)
def test_a_slot_the_caller_neither_keeps_nor_takes_back(
    request_words: str, catalogue: Catalogue, territory: Territory
) -> None:
    text = f"J'habite au 4 rue Paradis, 13006. Je voudrais faire enlever {request_words}. Merci."
    assert [s.quantity for s in find_item_slots(text, catalogue, territory)] == ["un"]
