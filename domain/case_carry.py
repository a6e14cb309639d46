"""The state of a long-lived case, carried across continue-as-new (issue 18, point 4).

A case that can live for weeks (a booking's follow-up until its pickup date, a missed call
waiting for an agent, an SMS kept for an agent) or take a flood of signals would otherwise
grow its history to Temporal's event limit, where the server terminates it. Each such workflow
keeps its whole state in one of these dataclasses, bounded (lists capped, old history lines
counted, not kept), and continues as new with it in its input when its history gets long: the
new run resumes where the last one stopped. New handlers add their fields here, with defaults.

Pure data, no I/O; every field has a default (a run started by an older version has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.booking_changes import BookingView
from domain.models import SmsReplyInput

# A case continues as new past this many history events (or when the server suggests it,
# whichever comes first): far below Temporal's 51,200-event limit, and a replay of one run
# stays quick.
HISTORY_EVENTS_LIMIT = 5_000
# What a case keeps of each kind of thing, however many come.
MAX_HISTORY_LINES = 200  # lines of the `history` its state query returns
MAX_SEEN_IDS = 500  # provider ids of the SMS already handled (duplicates come within seconds)
MAX_PENDING_REPLIES = 100  # SMS waiting to be handled; beyond, counted and left in the history


@dataclass
class CaseLog:
    """The case's history lines (CaseHistory.lines), the newest MAX_HISTORY_LINES, and how
    many older ones were let go."""

    lines: list[str] = field(default_factory=list)
    dropped: int = 0


@dataclass
class DeskState:
    """What agents changed on a booking (workflows/booking_desk.py), carried with the
    follow-up's state."""

    view: BookingView | None = None
    # After a move: the new day and its reminder (ISO), and how many moves so far (the
    # follow-up re-plans its reminder when this changes).
    pickup_date: str = ""
    reminder_at: str = ""
    moves: int = 0
    changes: int = 0
    cancelled: bool = False
    keys: list[str] = field(default_factory=list)


@dataclass
class FollowUpCase:
    """BookingFollowUpWorkflow's state (workflows/booking_follow_up.py)."""

    status: str = "booked"  # a StoredStatus value
    delivery: str = "pending"  # an SmsDeliveryStatus value, or "unknown"
    reminded: bool = False
    # ISO 8601 instants of the delivery checks still to make, and when the case stops
    # listening for replies (set by the first run).
    checks: list[str] = field(default_factory=list)
    listen_until: str = ""
    cancel_requested: bool = False
    to_forward: list[SmsReplyInput] = field(default_factory=list)
    seen_message_ids: list[str] = field(default_factory=list)
    replies: int = 0  # SMS received from the caller (once each), ANNULER included
    forwarded: int = 0  # replies handed to a person
    # The agent task (IncomingSmsWorkflow id) that receives the caller's further replies while
    # it is open, and how many it got: one task for a flood, not one per SMS.
    agent_task: str = ""
    agent_task_replies: int = 0
    replies_dropped: int = 0  # beyond what one task takes: in the history, not forwarded
    log: CaseLog = field(default_factory=CaseLog)
    run: int = 1  # 1 + how many times the case continued as new
    desk: DeskState = field(default_factory=DeskState)  # agents' changes to the booking


@dataclass
class MissedCallCase:
    """MissedCallWorkflow's state (workflows/missed_call.py). `phase` says where the run
    stopped: `wait_reply` (invitation sent, until `deadline`), `callback_scheduled` (until the
    opening at `deadline`), `waiting_agent`, `linger` (settled, merge window open)."""

    phase: str = ""
    deadline: str = ""  # ISO 8601, for the phases that have one
    status: str = ""
    number: str = ""
    line: str = ""
    call_ids: list[str] = field(default_factory=list)  # the first MAX_CALL_IDS
    recent_call_ids: list[str] = field(default_factory=list)  # the last MAX_SEEN_IDS
    calls: int = 0
    last_call_at: str = ""
    replies: list[SmsReplyInput] = field(default_factory=list)
    replies_dropped: int = 0
    seen_message_ids: list[str] = field(default_factory=list)
    checked: int = 0
    forwarded: int = 0
    booking_found: bool = False
    booking_reference: str = ""
    booking_pickup_date: str = ""
    callback_pending: bool = False
    callback_why: str = ""
    callback_attempts: int = 0
    resolved: bool = False
    closed_reason: str = ""
    scheduled_for: str = ""
    visible_at: str = ""
    handed_over_to: str = ""
    log: CaseLog = field(default_factory=CaseLog)
    run: int = 1
    # The phone key of the invitation's route (activities/messaging/routes.py), dropped when
    # an agent closes the case: the replies that come after go to a new case for an agent.
    route_key: str = ""


@dataclass
class IncomingSmsCase:
    """IncomingSmsWorkflow's state (workflows/incoming_sms.py) while it waits for an agent."""

    messages: list[SmsReplyInput] = field(default_factory=list)
    seen_message_ids: list[str] = field(default_factory=list)
    beyond_limit: int = 0  # SMS past the kept ones: in the history, counted here
    callback_attempts: int = 0
    log: CaseLog = field(default_factory=CaseLog)
    run: int = 1


def remember(ids: list[str], new_id: str, limit: int = MAX_SEEN_IDS) -> None:
    """Add `new_id` to the bounded list of recent ids (oldest dropped first)."""
    ids.append(new_id)
    if len(ids) > limit:
        del ids[: len(ids) - limit]
