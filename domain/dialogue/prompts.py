"""The prompts whose words depend on the call: the read-back, one field of it, the items
refused. Their templates are under corpus/templates/voice/."""

from __future__ import annotations

from domain.dialogue.steps import Prompt
from domain.keypad import Field
from domain.labels import date_label, items_label
from domain.live_call_models import LiveCallProgress, TransferReason
from domain.models import AddressMatch, Understanding


def readback_prompt(progress: LiveCallProgress, u: Understanding, match: AddressMatch) -> Prompt:
    return Prompt(
        "readback",
        {
            "items_label": items_label(u.items),
            "address_label": match.label(),
            "date_label": date_label(progress.proposed_date),
        },
        static=False,
    )


def check_prompt(checked: Field, match: AddressMatch) -> Prompt:
    """One field of the address read back on its own."""
    if checked == Field.NUMBER:
        return Prompt("check_number", {"housenumber": match.housenumber}, static=False)
    if checked == Field.STREET:
        return Prompt("check_street", {"street": match.street}, static=False)
    return Prompt("check_city", {"city": match.city, "postcode": match.postcode}, static=False)


def refused_items_prompt(u: Understanding) -> Prompt:
    return Prompt(
        "refused_items",
        {
            "refused_label": items_label(u.refused_items),
            "destination": u.refusal_advice or "une déchèterie",
        },
        static=False,
    )


def field_value(match: AddressMatch, checked: Field) -> str:
    if checked == Field.NUMBER:
        return match.housenumber
    if checked == Field.STREET:
        return match.street
    return f"{match.postcode} {match.city}"


def transfer_prompt(
    reason: TransferReason, progress: LiveCallProgress | None = None, *, address_known: bool = True
) -> Prompt:
    """Why the call goes to a person, and what the agent will already know: the address the
    gazetteer found (unless the caller said a field of it was wrong, or `address_known` is
    False: a read-back refused with fields never checked) and the items. Static (its audio
    cached) only when it names nothing of the caller's."""
    address = items = ""
    if progress is not None:
        if progress.match is not None and not progress.refused and address_known:
            address = progress.match.label()
        if progress.understanding is not None:
            items = items_label(progress.understanding.items)
    return Prompt(
        "transfer",
        {"reason": reason.value, "address_label": address, "items_label": items},
        static=not (address or items),
    )
