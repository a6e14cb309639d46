"""`encombot eval`'s metrics (workers/dev/eval_metrics.py), from predictions."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from activities.understand import load_catalogue
from domain.catalogue import Catalogue
from workers.dev.eval_metrics import compute_metrics
from workers.dev.eval_report import print_report


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _entry(vid: str, intent: str, address: dict[str, Any] | None, sector: str = "") -> dict:
    return {
        "id": vid,
        "expected": {
            "intent": intent,
            "address": address,
            "sector": sector,
            "callback_number": "+33612345678",
            "items": [{"item": "frigo", "count": 2}] if intent == "booking" else [],
        },
    }


def _prediction(vid: str, intent: str, decision: str, address: dict | None, sector: str = ""):
    return {
        "id": vid,
        "transcript": "",
        "intent": intent,
        "decision": decision,
        "address": address,
        "sector": sector,
        "items": [{"item": "réfrigérateur", "count": 2}] if intent == "booking" else [],
        "callback_number": "+33612345678",
        "confidence": 0.9,
    }


ADDR = {"housenumber": "4", "street": "Rue Paradis", "postcode": "13006", "citycode": "13206"}


def test_metrics_count_each_rule(catalogue: Catalogue) -> None:
    wrong = dict(ADDR, housenumber="14")
    entries = [
        _entry("a", "booking", ADDR, "13206"),  # booked right
        _entry("b", "booking", ADDR, "13206"),  # booked at the wrong number
        _entry("c", "booking", ADDR, "13206"),  # escalated, right address offered
        _entry("d", "question", None),  # answered
    ]
    predictions = [
        _prediction("a", "booking", "book", ADDR, "13206"),
        _prediction("b", "booking", "book", wrong, "13206"),
        _prediction("c", "booking", "escalate", ADDR, "13206"),
        _prediction("d", "question", "answer", None),
    ]
    m = compute_metrics(entries, predictions, catalogue, stt_seconds=[1.0, 2.0, 3.0, 4.0])
    assert m["messages"] == 4
    assert m["booking_messages"] == 3
    assert m["intent_accuracy"] == 1.0
    assert m["address_fully_right"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["street_right"] == 1.0
    assert m["number_right"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["sector_right"] == 1.0
    # "frigo" and "réfrigérateur" are the same catalogue item.
    assert m["items_f1"] == 1.0
    assert m["callback_number_right"] == 1.0
    assert m["escalation_rate"] == 0.25
    assert m["wrong_automatic_decisions"] == 0.25
    assert m["decisions"] == {"answer": 1, "book": 2, "escalate": 1}
    assert m["transcription_s_mean"] == 2.5
    assert m["transcription_s_p95"] == pytest.approx(3.85)


def test_a_booking_for_a_question_is_a_wrong_automatic_decision(catalogue: Catalogue) -> None:
    entries = [_entry("q", "question", None)]
    predictions = [_prediction("q", "booking", "book", ADDR, "13206")]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["wrong_automatic_count"] == 1
    assert m["intent_accuracy"] == 0.0


def test_items_f1_counts_quantities(catalogue: Catalogue) -> None:
    entries = [_entry("a", "booking", ADDR, "13206")]
    pred = _prediction("a", "booking", "book", ADDR, "13206")
    pred["items"] = [{"item": "frigo", "count": 1}, {"item": "chaise", "count": 1}]
    m = compute_metrics(entries, [pred], catalogue)
    # 1 of 2 fridges found, 1 chair too many: P = 1/2, R = 1/2.
    assert m["items_f1"] == 0.5


def test_decisions_are_counted_per_kind_of_message(catalogue: Catalogue) -> None:
    wrong = dict(ADDR, housenumber="14")
    entries = [
        dict(_entry("a", "booking", ADDR, "13206"), kind="booking"),
        dict(_entry("b", "booking", ADDR, "13206"), kind="booking"),
        dict(_entry("c", "booking", ADDR, "13206"), kind="outside"),
        _entry("d", "cancel", None),  # no kind: its expected intent
        dict(_entry("e", "booking", ADDR, "13206"), kind="no_address"),
    ]
    predictions = [
        _prediction("a", "booking", "book", ADDR, "13206"),
        _prediction("b", "booking", "confirm_by_sms", ADDR, "13206"),
        _prediction("c", "booking", "book", wrong, "13206"),
        _prediction("d", "booking", "escalate", None),
        _prediction("e", "booking", "ask_address", None),
    ]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["sms_confirmation_rate"] == 0.2
    # An address asked by SMS is neither a confirmation nor an escalation (nor automatic).
    assert (m["address_asked_rate"], m["escalation_rate"]) == (0.2, 0.2)
    assert m["escalation_or_asked_rate"] == 0.4  # if the caller never answers
    assert m["wrong_automatic_count"] == 1
    zero = {"booked": 0, "sms": 0, "address_asked": 0, "escalated": 0, "wrong_automatic": 0}
    assert m["per_kind"] == {
        "booking": {**zero, "messages": 2, "booked": 1, "sms": 1},
        "cancel": {**zero, "messages": 1, "escalated": 1},
        "no_address": {**zero, "messages": 1, "address_asked": 1},
        "outside": {**zero, "messages": 1, "booked": 1, "wrong_automatic": 1},
    }


def _named(vid: str, name: str, callback: str = "+33612345678") -> dict[str, Any]:
    entry = _entry(vid, "question", None)
    entry["expected"].update(name=name, callback_number=callback)
    return entry


def _heard(vid: str, name: str, callback: str = "+33612345678") -> dict[str, Any]:
    return dict(
        _prediction(vid, "question", "answer", None), caller_name=name, callback_number=callback
    )


def test_the_callers_name_is_matched_fuzzily(catalogue: Catalogue) -> None:
    entries = [
        _named("exact", "Leïla Aubert"),
        _named("accents", "Leïla Aubert"),
        _named("civility", "Yacine Giraud"),
        _named("slip", "Yacine Giraud"),
        _named("order", "Yacine Giraud"),
        _named("other", "Mehdi Amrani"),
        _named("half", "Yacine Giraud"),
        _named("none", "Marie Fabre"),
        _named("surname", "Mehdi Amrani"),
        _named("first_name", "Nadia Dupont"),
    ]
    predictions = [
        _heard("exact", "Leïla Aubert"),
        _heard("accents", "LEILA OBERT"),  # no accent, no case, a homophone spelling
        _heard("civility", "Monsieur Yacine Giraud"),
        _heard("slip", "Yacine Girault"),
        _heard("order", "Giraud Yacine"),
        _heard("other", "Nadia Amrani"),  # another first name: another person
        _heard("half", "Yacine"),  # the surname was not heard
        _heard("none", ""),
        _heard("surname", "Madame Amrani"),  # "ici madame Amrani": all the caller said
        _heard("first_name", "Nadia"),  # the first name alone is not the caller's name
    ]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["caller_name_right"] == pytest.approx(6 / 10, abs=1e-4)
    by_id = {row["id"]: row for row in m["rows"]}
    assert [vid for vid, row in by_id.items() if row["name_ok"]] == [
        "exact",
        "accents",
        "civility",
        "slip",
        "order",
        "surname",
    ]
    assert by_id["accents"]["caller_name"] == "LEILA OBERT"
    assert by_id["accents"]["expected_name"] == "Leïla Aubert"


def test_messages_without_an_expected_name_are_not_counted(catalogue: Catalogue) -> None:
    unnamed = _entry("anon", "question", None)  # the set gives no name for it
    entries = [_named("a", "Marie Fabre"), unnamed]
    predictions = [_heard("a", "Marie Fabre"), _heard("anon", "Marie Fabre")]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["caller_name_right"] == 1.0
    assert {row["id"]: row["name_ok"] for row in m["rows"]} == {"a": True, "anon": None}


def test_the_callback_number_is_reported_beside_the_address(catalogue: Catalogue) -> None:
    # The set writes the number as the caller says it; the prediction is E.164.
    entries = [
        _named("right", "Marie Fabre", callback="06 77 69 44 17"),
        _named("wrong", "Marie Fabre", callback="+33677694417"),
    ]
    predictions = [
        _heard("right", "Marie Fabre", callback="+33677694417"),
        _heard("wrong", "Marie Fabre", callback="+33799474154"),  # the caller id, not the one said
    ]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["callback_number_right"] == 0.5
    rows = {row["id"]: row for row in m["rows"]}
    assert rows["right"]["callback_ok"] is True
    assert rows["right"]["expected_callback_number"] == "+33677694417"
    assert rows["wrong"]["callback_ok"] is False
    assert rows["wrong"]["callback_number"] == "+33799474154"


def test_the_report_shows_name_and_callback_beside_the_address(catalogue: Catalogue) -> None:
    entries = [_named("a", "Marie Fabre")]
    m = compute_metrics(entries, [_heard("a", "Marie Fabrice")], catalogue, stt_seconds=[1.0])
    console = Console(record=True, width=200)
    print_report(m, console)
    text = console.export_text()
    assert "caller_name_right" in text
    assert "callback_number_right" in text
    header = next(line for line in text.splitlines() if "decision" in line and "name" in line)
    assert header.index("address") < header.index("name") < header.index("callback")


def test_a_pickup_and_a_question_count_as_heard_only_together(catalogue: Catalogue) -> None:
    entries = []
    for vid in ("both", "booking_only", "question_only"):
        entry = _entry(vid, "booking", ADDR, "13206")
        entry["expected"]["outcome"] = "booked_and_answered"
        entries.append(entry)
    entries.append(_entry("plain", "booking", ADDR, "13206"))  # not counted
    predictions = [
        dict(_prediction("both", "booking", "book", ADDR, "13206"), question="pneus ?"),
        dict(_prediction("booking_only", "booking", "book", ADDR, "13206"), question=""),
        dict(_prediction("question_only", "question", "answer", None), question=""),
        dict(_prediction("plain", "booking", "book", ADDR, "13206"), question=""),
    ]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["two_request_messages"] == 3
    assert m["both_requests_heard"] == pytest.approx(1 / 3, abs=1e-4)
