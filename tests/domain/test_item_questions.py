"""Item questions answered from the catalogue (issue 16, item 4): collected → yes (with the
booking: how to add it); refused → no, and where to take it (the catalogue's advice)."""

from __future__ import annotations

import pytest

from activities.understand import load_catalogue
from domain.catalogue import Catalogue
from domain.item_questions import faq_speaks_of, item_answer, items_asked


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.mark.parametrize(
    "question",
    [
        "vous prenez les pneus ?",
        "Vous ramassez aussi un pneu ?",
        "Je peux mettre un pneu avec les encombrants ?",
        "Qu'est-ce que je fais de mes pneus ?",
    ],
)
def test_a_refused_item_gets_no_and_where_to_take_it(catalogue: Catalogue, question: str) -> None:
    pneu = catalogue.get("pneu")
    assert pneu is not None and not pneu.accepted
    answer = item_answer(question, catalogue, with_booking=True)
    assert answer.startswith("Non : les pneus ne sont pas collectés")
    assert f"Où les déposer : {pneu.destination}." in answer
    assert "rendez-vous" not in answer  # nothing to add to the booking


def test_an_elliptical_question_names_the_item_alone(catalogue: Catalogue) -> None:
    gas = catalogue.get("bouteille de gaz")
    assert gas is not None
    answer = item_answer("Et une bouteille de gaz ?", catalogue)
    assert answer.startswith("Non : ")
    assert gas.destination in answer


def test_a_collected_item_gets_yes_with_the_booking(catalogue: Catalogue) -> None:
    answer = item_answer("Vous ramassez aussi un lit ?", catalogue, with_booking=True)
    assert answer == (
        "Oui, nous collectons les lits avec les encombrants. "
        "Pour en ajouter à votre rendez-vous, appelez un conseiller."
    )
    alone = item_answer("Vous ramassez aussi un lit ?", catalogue)
    assert alone == "Oui, nous collectons les lits avec les encombrants, sur rendez-vous."


def test_several_items_each_get_their_answer(catalogue: Catalogue) -> None:
    answer = item_answer("Vous prenez les frigos et les pneus ?", catalogue, with_booking=True)
    assert answer.startswith("Oui, nous collectons les réfrigérateurs avec les encombrants.")
    assert "Non pour les pneus : les pneus ne sont pas collectés" in answer


@pytest.mark.parametrize(
    "question",
    [
        "Ça coûte combien pour faire enlever un canapé ?",  # the price, not the item
        "Il y a une limite au nombre de meubles par passage ?",
        "Vous passez sous combien de jours en général ?",  # no item at all
    ],
)
def test_other_questions_are_not_item_questions(catalogue: Catalogue, question: str) -> None:
    assert items_asked(question, catalogue) == []
    assert item_answer(question, catalogue) == ""


def test_the_faq_answer_must_name_the_items_asked(catalogue: Catalogue) -> None:
    asked = items_asked("je peux mettre un radiateur avec les encombrants ?", catalogue)
    assert [i.name for i in asked] == ["radiateur"]
    # What retrieval confidently answered to it (entry ordures-menageres): another subject.
    other = (
        "Non, les sacs d'ordures ménagères et les petits déchets ne relèvent pas des encombrants"
    )
    assert not faq_speaks_of(other, asked, catalogue)
    asked = items_asked("vous prenez les pneus ?", catalogue)
    assert faq_speaks_of(
        "Non, les pneus ne sont pas collectés avec les encombrants.", asked, catalogue
    )
