"""Pure rules of a missed call (domain/missed_call.py)."""

from __future__ import annotations

import pytest

from domain.missed_call import (
    callback_details_markdown,
    caller_e164,
    is_withheld,
    line_type,
    reply_is_usable,
    validate_callback_resolution,
)
from domain.missed_call_models import LineType, missed_call_workflow_id, withheld_call_workflow_id
from domain.models import ItemCount, ResolveInput, SpokenAddress, Understanding

ADDRESS = SpokenAddress(housenumber="12", street="rue Paradis", postcode="13001")


@pytest.mark.parametrize(
    ("caller", "kind"),
    [
        ("+33612345678", LineType.MOBILE),
        ("06 12 34 56 78", LineType.MOBILE),
        ("+262692123456", LineType.MOBILE),
        ("0491234567", LineType.LANDLINE),
        ("+33970123456", LineType.LANDLINE),  # VoIP: no SMS
        ("+442071234567", LineType.LANDLINE),  # foreign: no French SMS
        ("", LineType.WITHHELD),
        ("anonymous", LineType.WITHHELD),
        ("  Numéro masqué ", LineType.WITHHELD),
        ("PRIVATE", LineType.WITHHELD),
    ],
)
def test_line_type(caller: str, kind: LineType) -> None:
    assert line_type(caller) is kind


def test_caller_e164() -> None:
    assert caller_e164("06 12 34 56 78") == "+33612345678"
    assert caller_e164("anonyme") is None and is_withheld("Anonyme")
    assert caller_e164("not a number") is None and not is_withheld("not a number")


@pytest.mark.parametrize(
    ("understanding", "usable"),
    [
        (Understanding("booking", ADDRESS, [ItemCount("canapé")]), True),
        (Understanding("question"), True),
        (Understanding("cancel"), True),
        (Understanding("booking", ADDRESS, [], [ItemCount("pneu")]), True),  # refused items
        (Understanding("other"), False),  # "Bonjour"
        (Understanding("booking", ADDRESS, []), False),  # the items may follow
        (Understanding("booking", None, [ItemCount("canapé")]), False),  # the address may follow
    ],
)
def test_reply_is_usable(understanding: Understanding, usable: bool) -> None:
    assert reply_is_usable(understanding) is usable


def refusal(inp: ResolveInput) -> str:
    return validate_callback_resolution(inp, pending=True) or ""


def test_callback_resolution_rules() -> None:
    ok = ResolveInput(agent_id="a1", action="close", comment="rappelé")
    assert validate_callback_resolution(ok, pending=True) is None
    assert validate_callback_resolution(ResolveInput("a1", "no_answer"), pending=True) is None
    assert "n'attend pas" in (validate_callback_resolution(ok, pending=False) or "")
    assert "agent_id" in (
        validate_callback_resolution(ResolveInput(" ", "close"), pending=True) or ""
    )
    assert "raison" in (
        validate_callback_resolution(ResolveInput("a1", "close"), pending=True) or ""
    )
    refused = validate_callback_resolution(ResolveInput("a1", "correct"), pending=True) or ""
    assert "close (avec comment) ou no_answer" in refused


def test_details_hold_what_the_agent_needs() -> None:
    text = callback_details_markdown(
        caller_number="+33491234567",
        line="landline",
        calls=2,
        why="numéro fixe",
        replies=[],
        booking_label="mardi 8 décembre (réf. AC3D4F)",
        attempts=1,
    )
    assert "+33491234567" in text and "fixe" in text and "Appels manqués** : 2" in text
    assert "AC3D4F" in text and "Rappels sans réponse** : 1" in text
    assert '"action": "close"' in text


def test_workflow_ids_never_hold_the_number() -> None:
    assert missed_call_workflow_id("3f0c") == "missed-call-3f0c"
    assert withheld_call_workflow_id("c-1") == "missed-call-withheld-c-1"
