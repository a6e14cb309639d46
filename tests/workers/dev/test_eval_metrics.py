"""`encombot eval`'s metrics (workers/dev/eval_metrics.py), from predictions."""

from __future__ import annotations

from typing import Any

import pytest

from activities.understand import load_catalogue
from domain.catalogue import Catalogue
from workers.dev.eval_metrics import compute_metrics


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
    ]
    predictions = [
        _prediction("a", "booking", "book", ADDR, "13206"),
        _prediction("b", "booking", "confirm_by_sms", ADDR, "13206"),
        _prediction("c", "booking", "book", wrong, "13206"),
        _prediction("d", "booking", "escalate", None),
    ]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["sms_confirmation_rate"] == 0.25
    assert m["per_kind"] == {
        "booking": {"messages": 2, "booked": 1, "sms": 1, "escalated": 0, "wrong_automatic": 0},
        "cancel": {"messages": 1, "booked": 0, "sms": 0, "escalated": 1, "wrong_automatic": 0},
        "outside": {"messages": 1, "booked": 1, "sms": 0, "escalated": 0, "wrong_automatic": 1},
    }
