"""The decision rule on calibrated address confidences (domain/decision.py)."""

from __future__ import annotations

from domain.decision import (
    BOOK_THRESHOLD,
    CONFIRM_THRESHOLD,
    MAX_SMS_CHOICES,
    DecisionKind,
    decide_address,
)
from domain.models import AddressMatch, GeocodeResult, GeocodeStatus


def match(number: str, score: float, street: str = "Rue Paradis") -> AddressMatch:
    return AddressMatch(number, street, "13006", "13206", "Marseille", 5.38, 43.29, score, "13206")


def test_thresholds_are_ordered_probabilities() -> None:
    assert 0 < CONFIRM_THRESHOLD < BOOK_THRESHOLD < 1


def test_a_confident_match_is_booked() -> None:
    geo = GeocodeResult(GeocodeStatus.MATCHED.value, match=match("4", BOOK_THRESHOLD))
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.BOOK
    assert decision.match is not None and decision.match.housenumber == "4"


def test_below_the_booking_threshold_the_caller_chooses() -> None:
    geo = GeocodeResult(
        GeocodeStatus.MATCHED.value,
        match=match("1", 0.6),
        candidates=[match("11", 0.35), match("7", 0.02), match("1", 0.3, "Rue Paris")],
    )
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS
    labels = [(c.housenumber, c.street) for c in decision.candidates]
    # the match first, then the others worth offering; never one below the threshold
    assert labels == [("1", "Rue Paradis"), ("11", "Rue Paradis"), ("1", "Rue Paris")]
    assert len(decision.candidates) <= MAX_SMS_CHOICES


def test_nothing_plausible_goes_to_a_person_with_the_best_first() -> None:
    geo = GeocodeResult(
        GeocodeStatus.MATCHED.value,
        match=match("1", CONFIRM_THRESHOLD / 2),
        candidates=[match("11", CONFIRM_THRESHOLD / 3)],
    )
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.ESCALATE
    assert [c.housenumber for c in decision.candidates] == ["1", "11"]


def test_a_street_not_found_is_escalated_with_its_candidates() -> None:
    geo = GeocodeResult(
        GeocodeStatus.NOT_FOUND.value, candidates=[match("", 0.4)], reason="voie inconnue"
    )
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.ESCALATE
    assert decision.candidates and decision.detail == "voie inconnue"


def test_a_conflict_with_what_the_caller_said_goes_to_a_person() -> None:
    geo = GeocodeResult(
        GeocodeStatus.MATCHED.value,
        match=match("4", 0.99),
        reason="l'appelant a dit le 14e arrondissement, l'adresse trouvée est dans le 6e",
        doubt="address_conflict",
    )
    decision = decide_address(geo)
    assert (decision.kind, decision.reason) == (DecisionKind.ESCALATE, "address_conflict")
    assert decision.candidates and decision.candidates[0].housenumber == "4"


def test_a_number_nobody_said_is_confirmed_by_sms_not_booked() -> None:
    geo = GeocodeResult(
        GeocodeStatus.MATCHED.value, match=match("4", 0.99), doubt="number_not_said"
    )
    decision = decide_address(geo)
    assert (decision.kind, decision.reason) == (DecisionKind.CONFIRM_BY_SMS, "number_not_said")


def test_every_escalation_reason_has_a_french_label_for_the_agent() -> None:
    from domain.agent import REASON_LABELS_FR
    from domain.models import EscalationReason

    assert set(REASON_LABELS_FR) == set(EscalationReason)
