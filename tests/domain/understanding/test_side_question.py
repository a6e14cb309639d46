"""A question asked beside a pickup request (issue 16, item 4): the understanding keeps the
booking and records the question; the question's items are asked about, not booked. Phrasings
from the corpus generator's `question_booking` kind (scripts/corpus/lexicon.py)."""

from __future__ import annotations

import pytest
import yaml

from corpus import CORPUS_DIR
from domain.catalogue import Catalogue
from domain.models import Intent, Understanding
from domain.understanding import Territory, understand

CALLER = "+33611223344"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


def run(text: str, catalogue: Catalogue, territory: Territory) -> Understanding:
    return understand(text, CALLER, catalogue, territory)


def items(u: Understanding) -> dict[str, int]:
    return {i.item: i.count for i in u.items}


def test_the_issues_example_is_a_booking_and_a_question(
    catalogue: Catalogue, territory: Territory
) -> None:
    u = run(
        "Je voudrais faire enlever un canapé au 12 rue Paradis, et aussi, vous prenez les pneus ?",
        catalogue,
        territory,
    )
    assert u.intent == Intent.BOOKING
    assert u.address is not None and u.address.housenumber == "12"
    assert u.address.street == "Rue Paradis"
    assert items(u) == {"canapé": 1}
    # Asked about, not given: no refusal of tyres in the confirmation.
    assert u.refused_items == []
    assert u.question == "vous prenez les pneus ?"


@pytest.mark.parametrize(
    ("tail", "question"),
    [
        ("Et aussi, vous ramassez aussi une batterie de voiture ?", "vous ramassez aussi une"),
        ("Au fait, je peux mettre un pneu avec les encombrants ?", "je peux mettre un pneu"),
        ("Et j'ai une question. Qu'est-ce que je fais de mon matelas ?", "Qu'est-ce que je fais"),
        ("Autre chose, il y a une limite au nombre de meubles par passage ?", "il y a une limite"),
        ("Est-ce que c'est payant, l'enlèvement des encombrants ?", "Est-ce que c'est payant"),
        ("Ça coûte combien pour faire enlever un canapé ?", "Ça coûte combien"),
        ("Vous prenez les pneus ? Une bouteille de gaz ?", "Vous prenez les pneus ? Une bouteille"),
    ],
)
def test_side_questions_of_the_corpus_generator(
    catalogue: Catalogue, territory: Territory, tail: str, question: str
) -> None:
    u = run(
        "Bonjour, je m'appelle Marie Fabre. J'habite au 4 impasse Dupré, 13015. "
        f"J'aurais besoin que vous passiez prendre deux frigos. {tail} Merci, au revoir.",
        catalogue,
        territory,
    )
    assert u.intent == Intent.BOOKING
    assert u.question.startswith(question)
    assert u.question.endswith("?")
    assert "frigos" not in u.question and "Merci" not in u.question
    # Only the fridges are booked; the question's items (canapé, matelas, pneu…) are not.
    assert items(u) == {"réfrigérateur": 2}
    assert u.refused_items == []
    assert u.address is not None and u.address.street == "Impasse Dupré"


@pytest.mark.parametrize(
    "text",
    [
        # The request itself asked as a question.
        "Bonjour, je suis au 4 impasse Dupré, 13015. Est-ce que vous pouvez venir chercher "
        "deux pneus ?",
        "Bonjour, 4 impasse Dupré 13015. C'est pour faire ramasser un frigo, c'est possible ?",
        # A callback asked, a check of the line.
        "Je voudrais faire enlever un canapé au 12 rue Paradis. Vous pouvez me rappeler ?",
        "Allô ? Vous m'entendez ? Je voudrais faire enlever un canapé au 12 rue Paradis.",
        # No question at all.
        "Je voudrais faire enlever un canapé au 12 rue Paradis. Merci.",
    ],
)
def test_no_side_question_where_none_is_asked(
    catalogue: Catalogue, territory: Territory, text: str
) -> None:
    u = run(text, catalogue, territory)
    assert u.intent == Intent.BOOKING
    assert u.question == ""


def test_a_question_alone_stays_a_question(catalogue: Catalogue, territory: Territory) -> None:
    # ../shared/voicemails vm019: the items named after the question are what it is about.
    u = run(
        "Oui bonjour, Chantal Rossi à l'appareil. Est-ce que vous ramassez les gravats ? "
        "J'ai des sacs de ciment après des travaux. Merci.",
        catalogue,
        territory,
    )
    assert u.intent == Intent.QUESTION
    assert u.question == ""
    u = run(
        "Bonjour, je voudrais savoir combien ça coûte pour faire enlever un canapé. Merci.",
        catalogue,
        territory,
    )
    assert u.intent == Intent.QUESTION
    assert u.question == ""


def test_a_cancellation_asked_as_a_question_stays_a_cancellation(
    catalogue: Catalogue, territory: Territory
) -> None:
    u = run(
        "J'avais pris rendez-vous pour un canapé au 12 rue Paradis. Est-ce que je peux annuler ?",
        catalogue,
        territory,
    )
    assert u.intent == Intent.CANCEL
    assert u.question == ""


def test_a_booking_without_address_keeps_its_question(
    catalogue: Catalogue, territory: Territory
) -> None:
    # Was answered as a question alone: the pickup asked for was lost (issue 16).
    u = run(
        "Bonjour, je voudrais faire enlever une armoire. Vous prenez aussi les pneus ?",
        catalogue,
        territory,
    )
    assert u.intent == Intent.BOOKING
    assert items(u) == {"armoire": 1}
    assert u.question == "Vous prenez aussi les pneus ?"
