"""What the voicemail workflow answers the caller by SMS: the FAQ's answer to a question (the
message's, or one asked beside a pickup request), and the booking's confirmation or the
refusal. Deterministic: the SMS goes through the callable the workflow gives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import calls
from workflows.common import error_message

with workflow.unsafe.imports_passed_through():
    from domain.case_state import Escalation
    from domain.faq_models import FaqInput
    from domain.labels import date_label, items_label
    from domain.models import (
        AddressMatch,
        BookResult,
        EscalationReason,
        NotifyResult,
        Understanding,
    )

SendSms = Callable[[str, str, dict[str, Any]], Awaitable[NotifyResult]]


async def answer_by_sms(
    question: str,
    *,
    call_id: str,
    step: str,
    key: str,
    send: SendSms,
    note: Callable[[str], None],
    with_booking: bool = False,
) -> tuple[Escalation | None, NotifyResult | None]:
    """The FAQ's answer (or the item catalogue's) by SMS when it is confident; otherwise a
    person answers, seeing the proposed entry (an Escalation resuming at `step`). `key` names
    the SMS within the workflow."""
    try:
        faq = await calls.ANSWER_QUESTION(
            FaqInput(question=question, call_id=call_id, with_booking=with_booking)
        )
    except ActivityError as err:
        return Escalation(EscalationReason.QUESTION, step, error_message(err)), None
    if not faq.confident:
        proposal = f" Réponse proposée ({faq.entry_id}, score {faq.score:.2f}) : {faq.answer}"
        return Escalation(
            EscalationReason.QUESTION,
            step,
            "question sans réponse sûre dans la FAQ." + (proposal if faq.entry_id else ""),
        ), None
    source = f"entrée {faq.entry_id}" if faq.source == "faq" else "catalogue des objets"
    note(f"FAQ: {source} (score {faq.score:.2f})")
    try:
        sms = await send(key, "faq_answer", {"answer": faq.answer})
    except ActivityError as err:
        return Escalation(EscalationReason.SMS_FAILED, step, error_message(err)), None
    return None, sms


def final_sms(
    u: Understanding, match: AddressMatch | None, booking: BookResult | None
) -> tuple[str, dict[str, Any]]:
    """The SMS that answers the caller: the booking's confirmation, else the refusal."""
    refused = items_label(u.refused_items)
    if booking is None:
        return "refusal", {
            "refused_label": refused,
            "refused_destination": u.refusal_advice or "une déchèterie",
        }
    return "confirmation", {
        "reference": booking.reference,
        "pickup_date_label": date_label(booking.pickup_date),
        "address_label": match.label() if match else "",
        "items_label": items_label(booking.items or u.items),
        "refused_label": refused,
        "refused_destination": (u.refusal_advice or "une déchèterie") if refused else "",
        "left_out_label": items_label(booking.left_out),
        "cancel_hint": "Pour annuler, répondez ANNULER.",
    }
