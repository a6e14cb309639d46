"""Dataclasses of the live call (LiveCallWorkflow and its `run_live_call` activity) that cross
the Temporal boundary.

Pure data, no I/O. New fields always get defaults (histories written by an older version must
still deserialize). `LiveCallProgress` is also the activity's heartbeat detail: if the
telephony process dies mid-call, the workflow reads from it what was already understood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.models import AddressMatch, EscalationReason, Understanding

CALLBACK_REASON = EscalationReason.LIVE_CALL_CALLBACK.value


class Phase(StrEnum):
    """Where the dialogue stands: the question the caller is answering."""

    GREETING = "greeting"
    ASK_ADDRESS = "ask_address"
    ASK_POSTCODE = "ask_postcode"  # fallback: the postcode typed on the keypad
    ASK_ITEMS = "ask_items"
    ASK_PHONE = "ask_phone"  # a mobile number for the SMS, on the keypad
    CONFIRM = "confirm"  # read back + proposed date, "dites oui ou tapez 1"
    # The keypad path: a house number typed at the address question, then the street said.
    ASK_NUMBER = "ask_number"  # the house number again, typed (`#` ends) or said
    ASK_STREET = "ask_street"  # the street alone
    # The street not found (or said wrong at its read-back): its name spelled, letter by letter.
    SPELL_STREET = "spell_street"
    # After a "non" to the read-back: each field of the address read back on its own.
    CHECK_NUMBER = "check_number"
    CHECK_STREET = "check_street"
    CHECK_CITY = "check_city"
    ENDED = "ended"


class Outcome(StrEnum):
    """How the dialogue ended (empty while it runs)."""

    CONFIRMED = "confirmed"  # the caller said yes to the read-back: the workflow books
    ANSWERED = "answered"  # only questions, all answered: nothing more to do
    TRANSFER = "transfer"  # the caller asked for a person, or the bot failed twice
    HANGUP = "hangup"  # the caller hung up before confirming
    # The telephony process was lost (set by the workflow) or stopped with the call still up.
    INTERRUPTED = "interrupted"


class LiveCallStatus(StrEnum):
    """Values of the `EncombotStatus` search attribute for a live call; `booking`,
    `notifying`, `booked`, `answered`, `waiting_agent` and `closed` are the voicemail's."""

    IN_CALL = "in_call"
    BOOKING = "booking"
    NOTIFYING = "notifying"
    BOOKED = "booked"
    ANSWERED = "answered"
    WAITING_AGENT = "waiting_agent"
    CLOSED = "closed"
    # The caller hung up before a word was understood, and no number is known: nothing an
    # agent could act on, so no callback task.
    ABANDONED = "abandoned"


class TransferReason(StrEnum):
    CALLER_ASKED = "caller_asked"
    TWO_FAILURES = "two_failures"
    NO_SLOT = "no_slot"
    NO_ANSWER = "no_answer"  # the caller stayed silent
    TOO_LONG = "too_long"  # the call reached its maximum length
    # The postcode typed twice in a row is of no commune of the territory.
    OUT_OF_TERRITORY = "out_of_territory"


@dataclass
class LiveCallProgress:
    """What the dialogue knows so far: heartbeat details while the call runs, and the
    activity's result at the end."""

    phase: str = Phase.GREETING.value
    outcome: str = ""  # an Outcome value once ended
    transfer_reason: str = ""  # a TransferReason value when outcome is transfer
    # What the caller said, turn by turn (transcripts; DTMF as "[DTMF 1]"). Personal data:
    # payloads and heartbeat details are encrypted by the workers' codec.
    heard: list[str] = field(default_factory=list)
    understanding: Understanding | None = None
    match: AddressMatch | None = None
    proposed_date: str = ""  # ISO date read to the caller
    faq_entries: list[str] = field(default_factory=list)  # FAQ entries answered
    failures: int = 0  # on the current question
    turns: int = 0
    # Fields of the address (domain.keypad.Field values) the caller said yes to, one by one,
    # since the address was last found: what the agent need not ask again.
    confirmed: list[str] = field(default_factory=list)
    # Fields the caller said no to at their read-back and not found again since.
    refused: list[str] = field(default_factory=list)
    # The street was found from its spelling (the agent knows it was spelled, not heard).
    spelled: bool = False
    # The caller hung up while the bot announced the transfer: nobody is on the line for the
    # agents, the workflow texts the caller that a person will call back.
    dropped: bool = False


@dataclass
class LiveCallInput:
    """LiveCallWorkflow input, sent by the telephony process when a call's media starts."""

    call_id: str
    # The task queue of the telephony process that holds the call's media: the dialogue can
    # only run there.
    media_task_queue: str
    caller_number: str = ""
    started_at: str = ""  # ISO 8601, UTC
    # A call longer than this ends with a transfer (the activity's own limit).
    max_call_s: int = 600
    # No heartbeat for this long: the telephony process is gone, the call with it.
    heartbeat_timeout_s: int = 12
    # BookingFollowUpWorkflow schedule (see VoicemailInput).
    delivery_checks_s: list[int] = field(default_factory=list)
    listen_after_reminder_s: int = 6 * 3600
    # After a transfer, no agent has claimed the case within this: the transfer was not
    # answered (or the line dropped), the caller is texted that a person will call back.
    transfer_answer_s: int = 120


@dataclass
class LiveCallActivityInput:
    call_id: str
    caller_number: str = ""
    max_call_s: int = 600


@dataclass
class LiveCallResult:
    call_id: str
    status: str
    outcome: str = ""
    booking_reference: str = ""
    pickup_date: str = ""
    proposed_date: str = ""
    sector: str = ""
    sms_text: str = ""
    reason: str = ""


@dataclass
class LiveCallState:
    """What the `state` query returns."""

    call_id: str
    status: str
    progress: LiveCallProgress | None = None
    booking_reference: str = ""
    pickup_date: str = ""
    callback_attempts: int = 0
    history: list[str] = field(default_factory=list)
