"""Dataclasses of the booking activities that cross the Temporal boundary, besides `BookInput`
and `BookResult` (in `domain.models`): cancellation, booking status, call-centre opening.

Pure data: no I/O, no heavy imports. New fields always get defaults so that histories written
by an older version of a workflow still deserialize.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.case_carry import FollowUpCase


class StoredStatus(StrEnum):
    """Status of a booking row (what `booking_status` reports)."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    COLLECTED = "collected"


class CancelStatus(StrEnum):
    CANCELLED = "cancelled"
    # Cancelled before, by another request (an agent, an earlier SMS): nothing changed now.
    ALREADY_CANCELLED = "already_cancelled"
    NOT_FOUND = "not_found"
    # Past the cancellation deadline, or already collected: the crew has planned the round.
    TOO_LATE = "too_late"


@dataclass
class CancelBookingInput:
    """Cancel one booking, found by `reference` (as read aloud or typed: case and separators
    do not matter) or, when empty, by `call_id` (the call that made it)."""

    reference: str = ""
    call_id: str = ""
    # "bot", "caller_sms" (the caller replied ANNULER) or "agent:<id>"; written in the audit
    # trail. An agent may cancel after the deadline (they arrange it with the crew).
    actor: str = "bot"
    reason: str = ""
    # Idempotency key of this cancellation (e.g. "<workflow id>:cancel"): a retried activity
    # whose first attempt committed answers `cancelled` again, not `already_cancelled`.
    request_id: str = ""


@dataclass
class CancelBookingResult:
    status: str  # a CancelStatus value
    reference: str = ""
    pickup_date: str = ""  # ISO date; empty when not found
    sector: str = ""
    # Last moment a caller may cancel (ISO 8601, UTC): the sector's daily cut-off on the eve
    # of the pickup. Filled whenever the booking was found.
    deadline: str = ""


@dataclass
class BookingStatusInput:
    reference: str = ""
    call_id: str = ""


@dataclass
class BookingStatusResult:
    """What a workflow checks before the eve-of-pickup reminder: a booking cancelled in the
    meantime (by an agent, by SMS through another case) gets no reminder."""

    found: bool
    status: str = ""  # "booked" | "cancelled" | "collected"; empty when not found
    reference: str = ""
    pickup_date: str = ""
    sector: str = ""


@dataclass
class CallCentreInput:
    # ISO 8601; with an offset, or naive in the calendar's time zone. Empty: now.
    at: str = ""


@dataclass
class CallCentreOpening:
    open_now: bool
    # ISO 8601, UTC: `at` itself when open now, else when the call centre next opens (an
    # out-of-hours case becomes visible to agents then).
    next_opening: str = ""
    # The same instant in the calendar's time zone, for messages ("lundi à 08:30").
    next_opening_local: str = ""


# --------------------------------------------------------------------------- follow-up


@dataclass
class FollowUpInput:
    """The life of one booking after its confirmation SMS (workflow `booking-{reference}`):
    delivery report, the caller's replies (ANNULER), the eve-of-pickup reminder."""

    call_id: str
    reference: str
    pickup_date: str  # ISO date
    to: str  # E.164 number the confirmation went to; replies come from it
    address_label: str = ""
    reminder_at: str = ""  # ISO 8601 UTC; empty: no reminder (BookResult.reminder_at)
    phone_key: str = ""  # NotifyResult.phone_key of `to`
    sms_message_id: str = ""  # the confirmation's id at the provider
    sms_backend: str = ""
    # Seconds after the confirmation when its delivery is checked; empty: the default.
    delivery_checks_s: list[int] = field(default_factory=list)
    # How long after the reminder a reply (ANNULER) is still listened to.
    listen_after_reminder_s: int = 6 * 3600
    # The case's state when it continued as new (domain/case_carry.py); None: a new case.
    carried: FollowUpCase | None = None
    # Continue as new past this many history events; 0: case_carry.HISTORY_EVENTS_LIMIT.
    history_limit: int = 0


@dataclass
class FollowUpState:
    reference: str
    status: str  # "booked" | "cancelled" | "done"
    delivery: str = ""  # an SmsDeliveryStatus value, or "unknown"
    reminded: bool = False
    history: list[str] = field(default_factory=list)
    replies: int = 0  # SMS received from the caller, each once
    forwarded_to_agent: int = 0  # of which handed to a person


@dataclass
class FollowUpResult:
    reference: str
    status: str  # "booked" (still on at the end of the follow-up) | "cancelled"
    delivery: str = ""
    reminded: bool = False
    forwarded_to_agent: int = 0
