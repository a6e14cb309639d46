"""Dataclasses of the SMS lifecycle that cross the Temporal boundary: delivery reports, the
callers' replies (2-way SMS) and the cases opened for an SMS nobody was waiting for.

Pure data, no I/O. New fields always get defaults (histories written by an older version
must still deserialize)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.case_carry import IncomingSmsCase
from domain.models import SmsReplyInput


class SmsDeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"  # the workflow escalates: the caller never got the SMS
    PENDING = "pending"  # no final report yet: ask again later


# --------------------------------------------------------------------------- delivery


@dataclass
class SmsDeliveryInput:
    message_id: str  # the provider's id, NotifyResult.message_id
    # NotifyResult.backend: a message sent through another backend than the worker's cannot
    # be looked up (configuration changed in between). Empty: not checked.
    backend: str = ""


@dataclass
class SmsDeliveryResult:
    status: str  # an SmsDeliveryStatus value
    # Provider's codes in words, for the history and the agent ("accusé de réception 2,
    # code PTT 13"): never the number or the text.
    detail: str = ""
    message_id: str = ""


# --------------------------------------------------------------------------- incoming


@dataclass
class IncomingSms:
    """One SMS received from a caller, as the provider gives it (poller or webhook)."""

    message_id: str  # the provider's id: deduplication key on the receiving side
    sender: str  # as received; E.164 for OVH
    text: str
    received_at: str = ""  # ISO 8601 as given by the provider


class SmsRouteOutcome(StrEnum):
    ROUTED = "routed"  # signalled to the running case that texted this number
    KEPT_FOR_AGENT = "kept_for_agent"  # no such case: an IncomingSmsWorkflow keeps it


@dataclass
class SmsRouteResult:
    outcome: str  # an SmsRouteOutcome value
    workflow_id: str = ""


@dataclass
class SmsListenInput:
    """The calling case listens to the replies of the number of `phone_key` (`listen`), or
    no longer does (False: its route is dropped; the number's other cases keep theirs)."""

    phone_key: str
    listen: bool = True


@dataclass
class SmsListenResult:
    # The case the route now points to ("" when there was nothing to record).
    workflow_id: str = ""


@dataclass
class SmsPollInput:
    # Messages handled by one poll at most; the rest waits for the next run of the Schedule.
    max_messages: int = 100


@dataclass
class SmsPollResult:
    seen: int = 0  # messages waiting at the provider when the poll started
    routed: int = 0
    kept_for_agent: int = 0
    # Messages left at the provider after a failure (read, route or delete): the next poll
    # takes them again, and the receiving side drops a message id it has already handled.
    errors: int = 0


# --------------------------------------------------------------------------- unmatched SMS


@dataclass
class IncomingSmsInput:
    message_id: str
    sender: str  # E.164 when it could be normalised, else as received
    text: str
    received_at: str = ""
    # domain.phone.phone_key of the sender ("" when it is no phone number): published as
    # SmsPhoneKey, so the same person's next SMS joins this case instead of opening another.
    phone_key: str = ""
    # Further SMS of the same sender, oldest first (a case continued after late messages).
    more: list[SmsReplyInput] = field(default_factory=list)
    # Why a person must look (EscalationReason value); empty: an SMS nobody waited for
    # (`unmatched_sms`). A booking's follow-up opens such tasks too (reply about a booking,
    # undelivered confirmation, cancellation refused by the planning), with a note.
    reason: str = ""
    note: str = ""
    # The case's state when it continued as new while waiting (domain/case_carry.py).
    carried: IncomingSmsCase | None = None
    # Continue as new past this many history events; 0: case_carry.HISTORY_EVENTS_LIMIT.
    history_limit: int = 0


@dataclass
class IncomingSmsState:
    """What the `state` query returns: the messages, oldest first, and what agents did."""

    message_id: str
    status: str
    messages: list[SmsReplyInput] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    callback_attempts: int = 0
    closed_reason: str = ""


@dataclass
class IncomingSmsResult:
    message_id: str
    status: str
    closed_by: str = ""
    closed_reason: str = ""
    messages: int = 0
