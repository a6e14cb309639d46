"""The prompts whose words depend on the call: the read-back, one field of it, the items
refused. Their templates are under corpus/templates/voice/."""

from __future__ import annotations

from domain.dialogue.steps import Prompt
from domain.keypad import Field
from domain.labels import date_label, items_label
from domain.live_call_models import LiveCallProgress
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
