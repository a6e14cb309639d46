"""An agent changes a booking: moves it to another day, cancels it, or changes its items, through
the `change_booking` Update of its follow-up workflow (`booking-{call_id}`); the dataclasses
that cross the Temporal boundary, the Update's validation (French messages naming the rule,
never the caller's data: the Web UI shows a refusal in clear, domain/disclosure.py) and the
current details an agent reads on the follow-up.

Pure: no I/O. New fields always get defaults."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from domain.claims import agent_id_problem
from domain.labels import date_label, items_label
from domain.models import ItemCount


class ChangeAction(StrEnum):
    MOVE = "move"
    CANCEL = "cancel"
    ITEMS = "items"


class ChangeStatus(StrEnum):
    """What the store did with a change."""

    DONE = "done"
    UNCHANGED = "unchanged"  # the booking already says so: nothing written, no SMS
    NOT_FOUND = "not_found"
    NOT_BOOKED = "not_booked"  # cancelled or collected: nothing to change
    FULL = "full"  # the new day has no place left in the sector
    NOT_A_COLLECTION_DAY = "not_a_collection_day"
    OUT_OF_WINDOW = "out_of_window"  # before the lead time, round already planned, too far
    TOO_MANY_ITEMS = "too_many_items"
    UNKNOWN_ITEM = "unknown_item"
    REFUSED_ITEM = "refused_item"


ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_COMMENT = 500


@dataclass
class BookingChangeInput:
    """The `change_booking` Update, e.g. {"agent_id": "agent-42", "action": "move",
    "pickup_date": "2026-03-17"}; {"action": "items", "items": [{"item": "canapé", "count": 1}]};
    {"action": "cancel", "comment": "l'appelant a tout donné"}."""

    agent_id: str = ""
    action: str = ""
    pickup_date: str = ""  # move: the new day, YYYY-MM-DD
    items: list[ItemCount] = field(default_factory=list)  # items: the whole new list
    comment: str = ""  # why (kept in the audit trail and the encrypted history)


@dataclass
class BookingChangeResult:
    accepted: bool
    message: str
    reference: str = ""
    status: str = ""  # the booking's status afterwards (booked, cancelled)
    pickup_date: str = ""
    items: list[ItemCount] = field(default_factory=list)
    sms_sent: bool = False


@dataclass
class MoveBookingInput:
    reference: str
    pickup_date: str  # ISO date
    actor: str  # "agent:<id>"
    reason: str = ""
    # Idempotency key: a retried activity whose first attempt committed answers DONE again.
    request_id: str = ""


@dataclass
class ChangeItemsInput:
    reference: str
    items: list[ItemCount]
    actor: str
    reason: str = ""
    request_id: str = ""


@dataclass
class BookingChangeOutcome:
    status: str  # a ChangeStatus value
    # French, names the rule only (shown in clear when the Update is refused).
    message: str = ""
    reference: str = ""
    pickup_date: str = ""  # after the change
    previous_date: str = ""
    items: list[ItemCount] = field(default_factory=list)  # after the change (canonical names)
    # The new day's eve reminder (ISO 8601 UTC) after a move; "" when none is due.
    reminder_at: str = ""


@dataclass
class DescribeBookingInput:
    reference: str = ""
    call_id: str = ""
    # Numbers the follow-up texted (E.164): keyed into `lookup_keys` with the booking's own.
    numbers: list[str] = field(default_factory=list)


@dataclass
class BookingView:
    """A booking as an agent reads it (encrypted payload: personal data allowed)."""

    found: bool
    reference: str = ""
    status: str = ""
    pickup_date: str = ""
    sector: str = ""
    sector_name: str = ""
    address_label: str = ""
    items: list[ItemCount] = field(default_factory=list)
    caller_number: str = ""
    max_items: int = 0
    # The audit trail, oldest first: "2026-03-02 10:00 bot booked", "… agent:a7 moved".
    events: list[str] = field(default_factory=list)
    # Keyed hashes of the reference and numbers (search attribute BookingKeys).
    lookup_keys: list[str] = field(default_factory=list)


def validate_change(inp: BookingChangeInput, *, status: str, max_items: int = 0) -> str | None:
    """A French reason to refuse the Update before anything is done, or None. What needs the
    database (a full day, an unknown item) is refused by the activity, with the same kind of
    message."""
    problem = agent_id_problem(inp.agent_id)
    if problem:
        return problem
    actions = ", ".join(a.value for a in ChangeAction)
    if inp.action not in {a.value for a in ChangeAction}:
        return f"Action inconnue : choisissez parmi {actions}."
    if status != "booked":
        return f"Réservation {STATUS_FR.get(status, status)} : plus rien à modifier."
    if len(inp.comment) > MAX_COMMENT:
        return f"Commentaire trop long ({MAX_COMMENT} caractères au plus)."
    if inp.action == ChangeAction.MOVE:
        if not ISO_DAY.match(inp.pickup_date.strip()):
            return "Nouvelle date manquante ou invalide (pickup_date, AAAA-MM-JJ)."
        try:
            date.fromisoformat(inp.pickup_date.strip())
        except ValueError:
            return "Date inexistante (pickup_date, AAAA-MM-JJ)."
    if inp.action == ChangeAction.ITEMS:
        if not inp.items:
            return 'Objets manquants : items, par ex. [{"item": "canapé", "count": 1}].'
        for item in inp.items:
            if not item.item.strip():
                return "Objet sans nom dans items."
            if item.count < 1:
                return "Quantité invalide : 1 au moins pour chaque objet."
        total = sum(i.count for i in inp.items)
        if max_items and total > max_items:
            return f"{total} objets : {max_items} au plus par passage dans ce secteur."
    if inp.action == ChangeAction.CANCEL and not inp.comment.strip():
        return "Pour annuler, donnez la raison (comment)."
    return None


STATUS_FR = {"booked": "prévue", "cancelled": "annulée", "collected": "déjà collectée"}


def change_example(action: str, pickup_date: str = "") -> str:
    bodies: dict[str, dict[str, object]] = {
        "move": {"agent_id": "agent-42", "action": "move", "pickup_date": pickup_date},
        "items": {
            "agent_id": "agent-42",
            "action": "items",
            "items": [{"item": "canapé", "count": 1}, {"item": "chaise", "count": 2}],
        },
        "cancel": {"agent_id": "agent-42", "action": "cancel", "comment": "à la demande"},
    }
    return json.dumps(bodies[action], ensure_ascii=False)


def booking_details_markdown(view: BookingView, *, next_day: str = "", note: str = "") -> str:
    """The follow-up's current details: the booking as it stands, and the JSON to change it.
    `next_day`: an example day for a move (the next collection day)."""
    if not view.found:
        return "## Réservation introuvable\n\nLa réservation n'est plus dans la base."
    status = STATUS_FR.get(view.status, view.status)
    lines = [
        f"## Réservation {view.reference} — {status}",
        "",
        f"- **Date** : {date_label(view.pickup_date)} ({view.pickup_date})",
        f"- **Adresse** : {view.address_label}",
        f"- **Secteur** : {view.sector_name or view.sector} ({view.sector})",
        f"- **Objets** : {items_label(view.items) or '(aucun)'}"
        + (f" — {view.max_items} au plus par passage" if view.max_items else ""),
        f"- **Appelant** : {view.caller_number or '(inconnu)'}",
        "",
    ]
    if note:
        lines += [f"> {note}", ""]
    if view.status == "booked":
        lines += [
            "**Pour modifier** : More Actions → Send an Update → `change_booking`, avec :",
            "",
            f"- déplacer : `{change_example('move', next_day or view.pickup_date)}`",
            f"- objets : `{change_example('items')}`",
            f"- annuler : `{change_example('cancel')}`",
            "",
            "L'appelant reçoit le SMS du changement ; l'historique garde votre identifiant.",
            "",
        ]
    if view.events:
        lines += ["**Historique**", ""] + [f"- {e}" for e in view.events]
    return "\n".join(lines)
