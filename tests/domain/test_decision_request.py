"""The decision that needs no address lookup (domain/decision.py: decide_request): an address
not heard is asked by SMS only from a caller who can receive one."""

from __future__ import annotations

import pytest

from domain.decision import (
    Decision,
    DecisionKind,
    ask_instead,
    confirm_instead,
    decide_request,
)
from domain.models import (
    AddressMatch,
    EscalationReason,
    GeocodeResult,
    GeocodeStatus,
    Intent,
    ItemCount,
    SpokenAddress,
    Understanding,
)

SOFA = [ItemCount("canapé", 1)]


@pytest.mark.parametrize("address", [None, SpokenAddress()])
def test_no_address_is_asked_by_sms_when_the_caller_can_be_texted(
    address: SpokenAddress | None,
) -> None:
    u = Understanding(Intent.BOOKING.value, address=address, items=SOFA)
    asked = decide_request(u, can_text=True)
    assert asked is not None and asked.kind == DecisionKind.ASK_ADDRESS
    assert asked.reason == EscalationReason.NO_ADDRESS
    person = decide_request(u)  # no mobile known (the default): a person calls back
    assert person is not None and person.kind == DecisionKind.ESCALATE
    assert person.reason == EscalationReason.NO_ADDRESS


def test_only_a_request_with_items_asks_for_the_address() -> None:
    """Without items there is nothing to book yet: the address alone would not do."""
    u = Understanding(Intent.BOOKING.value, items=[])
    decision = decide_request(u, can_text=True)
    assert decision is not None and decision.reason == EscalationReason.NO_ITEMS
    refused_only = Understanding(Intent.BOOKING.value, refused_items=[ItemCount("pneu", 4)])
    decision = decide_request(refused_only, can_text=True)
    assert decision is not None and decision.kind == DecisionKind.REFUSE


@pytest.mark.parametrize("intent", [Intent.QUESTION, Intent.CANCEL])
def test_other_requests_never_ask_for_an_address(intent: Intent) -> None:
    decision = decide_request(Understanding(intent.value, items=SOFA), can_text=True)
    assert decision is not None and decision.kind != DecisionKind.ASK_ADDRESS


def test_an_address_heard_leaves_the_decision_to_the_lookup() -> None:
    u = Understanding(
        Intent.BOOKING.value,
        address=SpokenAddress(housenumber="12", street="boulevard Chave"),
        items=SOFA,
    )
    assert decide_request(u, can_text=True) is None


def test_a_written_address_is_read_back_before_it_is_booked() -> None:
    """confirm_instead: a booking turned into the caller's confirmation of the same address;
    any other decision unchanged."""
    match = AddressMatch("12", "Boulevard Chave", "13005", "13205", "Marseille", 5.4, 43.3, 0.97)
    asked = confirm_instead(Decision(DecisionKind.BOOK, match=match), "écrite")
    assert asked.kind == DecisionKind.CONFIRM_BY_SMS and asked.candidates == [match]
    escalate = Decision(DecisionKind.ESCALATE, EscalationReason.ADDRESS_CONFLICT)
    assert confirm_instead(escalate, "écrite") is escalate


def test_a_street_without_its_number_is_asked_by_sms() -> None:
    """ask_instead: a street found and no number heard (or one it does not have) is asked of
    a caller who can be texted; the escalation stands otherwise, and for anything else."""
    street = AddressMatch("", "Boulevard Chave", "13005", "13205", "Marseille", 5.4, 43.3, 0.9)
    geo = GeocodeResult(GeocodeStatus.NUMBER_NOT_FOUND.value, candidates=[street])
    escalate = Decision(
        DecisionKind.ESCALATE, EscalationReason.ADDRESS_NOT_FOUND, "x", candidates=[street]
    )
    asked = ask_instead(escalate, geo, can_text=True)
    assert asked.kind == DecisionKind.ASK_ADDRESS and asked.candidates == [street]
    assert ask_instead(escalate, geo, can_text=False) is escalate
    not_found = GeocodeResult(GeocodeStatus.NOT_FOUND.value)
    assert ask_instead(escalate, not_found, can_text=True) is escalate
