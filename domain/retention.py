"""Personal-data retention: the dataclasses and names shared by the purge workflow, its
activities and the Schedule that runs it daily. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

PURGE_WORKFLOW = "PurgeWorkflow"
PURGE_AUDIO = "purge_audio"
ANONYMISE_BOOKINGS = "anonymise_bookings"
PURGE_SMS_RECORDS = "purge_sms_records"
# workflow.patched id of the SMS records' purge: runs begun before it replay without it.
PURGE_SMS_PATCH = "purge-sms-records"
CLOSE_STALE_CASES = "close_stale_cases"
# workflow.patched id of the closing of cases left open past the retention.
CLOSE_STALE_PATCH = "close-stale-cases"
# The `agent_id` the purge closes a case under (the audit names it, no person did).
RETENTION_AGENT = "retention"
RETENTION_COMMENT = "Clos automatiquement : durée de conservation dépassée."


@dataclass
class PurgeInput:
    booking_days: int = 30
    audio_days: int = 30
    # SMS send ledger rows, reply routes and outbox/inbox file lines, after they were written.
    sms_days: int = 30
    # Cases waiting for an agent since before this many days are closed (an unmatched SMS
    # would otherwise wait forever, its history out of the namespace retention's reach).
    case_days: int = 30
    # Scope of the stale-case closing (CloseStaleInput.task_queue); empty: every case.
    case_task_queue: str = ""
    # ISO 8601 datetime with offset overriding "now" (tests, a catch-up run); empty: the
    # workflow's own clock.
    now: str = ""


@dataclass
class PurgeAudioInput:
    # Files last modified before this instant (ISO 8601, with offset) are deleted.
    older_than: str


@dataclass
class PurgeAudioResult:
    deleted: int = 0
    bytes_freed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class AnonymiseInput:
    # Bookings whose pickup date is strictly before this date (ISO "YYYY-MM-DD") are
    # anonymised.
    pickup_before: str


@dataclass
class AnonymiseResult:
    anonymised: int = 0


@dataclass
class PurgeSmsInput:
    # Ledger rows and file lines written before this instant (ISO 8601, with offset) go.
    older_than: str


@dataclass
class PurgeSmsResult:
    ledger_deleted: int = 0
    # Reply routes past the retention or of closed cases (activities/messaging/routes.py).
    routes_deleted: int = 0
    lines_deleted: int = 0
    undated_kept: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class CloseStaleInput:
    # Cases whose WaitingSince is before this instant (ISO 8601, with offset) are closed.
    older_than: str
    # Only the cases of this task queue (empty: every case). Tests sharing one Temporal
    # server scope their purge to their own cases.
    task_queue: str = ""


@dataclass
class CloseStaleResult:
    closed: int = 0
    # Refused (held by an agent, or a type without the close action): left for a person.
    refused: int = 0


@dataclass
class PurgeResult:
    now: str
    audio_older_than: str
    pickup_before: str
    audio_deleted: int = 0
    bookings_anonymised: int = 0
    sms_ledger_deleted: int = 0
    sms_routes_deleted: int = 0
    sms_lines_deleted: int = 0
    stale_cases_closed: int = 0
    errors: list[str] = field(default_factory=list)
