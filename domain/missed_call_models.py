"""Dataclasses and stable names of the missed-call case (MissedCallWorkflow) that cross the
Temporal boundary: workflow input / result / state, the `missed_call` signal, the
`find_upcoming_booking` activity.

Pure data, no I/O. New fields always get defaults (histories written by an older version must
still deserialize).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain import names
from domain.case_carry import MissedCallCase
from domain.models import EscalationReason

# --------------------------------------------------------------------------- names

# The stable names live in domain/names.py with the others; kept here under the names the
# missed-call modules import.
MISSED_CALL_WORKFLOW = names.MISSED_CALL_WORKFLOW
# Activities: `find_upcoming_booking` (activities/missed_call.py) and `call_centre_opening`
# (activities/booking.py, BookingActivities).
FIND_UPCOMING_BOOKING = names.FIND_UPCOMING_BOOKING
CALL_CENTRE_OPENING = names.CALL_CENTRE_OPENING
# Signal: one more missed call from the same number (signal-with-start from the ingress).
MISSED_CALL_SIGNAL = names.MISSED_CALL_SIGNAL

# Search attribute: the telephony call ids a missed-call case gathers (opaque ids, never a
# number), so that `GET /calls/{call_id}` finds the case whose workflow id is keyed by number.
SA_CALL_IDS = names.SA_CALL_IDS
SEARCH_ATTRIBUTES: dict[str, str] = {SA_CALL_IDS: names.SEARCH_ATTRIBUTES[SA_CALL_IDS]}
# At most this many call ids in the attribute (a number that calls all night long).
MAX_CALL_IDS = 50

# EscalationReason value of a callback task (to join domain.models.EscalationReason).
CALLBACK_REASON = EscalationReason.MISSED_CALL_CALLBACK.value


class MissedCallStatus(StrEnum):
    """Values of the `EncombotStatus` search attribute for a missed-call case. `received`,
    `waiting_agent`, `answered` and `closed` are the voicemail case's values too."""

    RECEIVED = "received"
    # The invitation SMS is out: waiting for the caller's reply (address and items).
    WAITING_REPLY = "waiting_reply"
    # A callback task exists but the call centre is closed: it becomes visible (NeedsAgent)
    # at the next opening.
    CALLBACK_SCHEDULED = "callback_scheduled"
    WAITING_AGENT = "waiting_agent"
    # The reply is handled by a VoicemailWorkflow on the text channel (the child workflow).
    HANDED_OVER = "handed_over"
    # The caller has an upcoming booking: its status was sent by SMS.
    ANSWERED = "answered"
    CLOSED = "closed"


class LineType(StrEnum):
    MOBILE = "mobile"  # can receive the invitation SMS
    LANDLINE = "landline"  # or any number that cannot receive SMS: callback only
    WITHHELD = "withheld"  # no number at all: nothing to call, the call is only recorded


def missed_call_workflow_id(phone_key: str) -> str:
    """One case per calling number (the keyed hash of it, never the number): several missed
    calls from one number join the running case (signal-with-start)."""
    return f"missed-call-{phone_key}"


def withheld_call_workflow_id(call_id: str) -> str:
    """A withheld number has nothing to group by: one case per call."""
    return f"missed-call-withheld-{call_id}"


def sms_channel_call_id(call_id: str) -> str:
    """Call id of the VoicemailWorkflow (text channel) that handles the caller's SMS reply;
    its workflow id is `names.voicemail_workflow_id(...)` of it."""
    return f"{call_id}-sms"


# --------------------------------------------------------------------------- workflow I/O


@dataclass
class MissedCallInput:
    call_id: str  # the first call of the case
    # As the telephony gives it (E.164 after the ingress); "" when withheld.
    caller_number: str
    received_at: str = ""  # ISO 8601
    # How long the caller has to send a usable reply before a callback task is made.
    reply_timeout_s: int = 2 * 3600
    # After the case is settled, further calls from the number within this window join it
    # (no second SMS); then the workflow ends and a new call starts a new case.
    merge_window_s: int = 15 * 60
    # Passed to the VoicemailWorkflow that handles the reply.
    stt_task_queue: str = ""
    confirm_timeout_s: int = 12 * 3600
    # The case's state when it continued as new (domain/case_carry.py); None: a new case.
    carried: MissedCallCase | None = None
    # Continue as new past this many history events; 0: case_carry.HISTORY_EVENTS_LIMIT.
    history_limit: int = 0


@dataclass
class MissedCallSignal:
    call_id: str
    received_at: str = ""


@dataclass
class MissedCallResult:
    call_ids: list[str]
    status: str  # a MissedCallStatus value
    line: str = ""  # a LineType value
    reason: str = ""  # why it closed (agent's comment, "withheld number"...)
    # The VoicemailWorkflow (text channel) that took the caller's reply over.
    handed_over_to: str = ""
    # When the callback task became visible to agents (ISO 8601, UTC); "" if it never did.
    visible_at: str = ""
    callback_attempts: int = 0
    booking_reference: str = ""  # the upcoming booking whose status was sent


@dataclass
class MissedCallState:
    """What the `state` query returns (encrypted like every payload: it may hold the
    number and the replies)."""

    call_ids: list[str]
    status: str
    line: str = ""
    caller_number: str = ""
    replies: list[str] = field(default_factory=list)
    # When the callback task becomes (or became) visible, ISO 8601 UTC.
    visible_at: str = ""
    handed_over_to: str = ""
    callback_attempts: int = 0
    history: list[str] = field(default_factory=list)
    calls: int = 0  # distinct calls the case gathered (call_ids keeps the first MAX_CALL_IDS)


# --------------------------------------------------------------------------- activities


@dataclass
class UpcomingBookingInput:
    caller_number: str  # E.164
    # ISO 8601: bookings whose pickup date is on or after this moment's local date count.
    at: str = ""


@dataclass
class UpcomingBookingResult:
    found: bool
    reference: str = ""
    pickup_date: str = ""  # ISO date
    sector: str = ""
    status: str = ""
