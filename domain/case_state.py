"""What the voicemail workflow's `state` query returns: where a case stands, and why it waits
for a person. Read by the agent CLI, the demo and the tests without importing the workflow.

(The other workflows' query results sit with their models: `MissedCallState` in
domain/missed_call_models.py, `LiveCallState` in domain/live_call_models.py, `IncomingSmsState`
in domain/sms_models.py, `FollowUpState` in domain/booking_models.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.models import AddressMatch, BookResult, Understanding


class Step(StrEnum):
    """The voicemail workflow's steps, in order. The workflow keeps the step that failed and
    resumes there once an agent has resolved the case."""

    TRANSCRIBE = "transcribe"
    UNDERSTAND = "understand"
    GEOCODE = "geocode"
    BOOK = "book"
    NOTIFY = "notify"
    # A question asked beside the pickup request, answered once the caller has the booking's SMS.
    ANSWER = "answer"
    DONE = "done"


@dataclass
class Escalation:
    reason: str  # an EscalationReason value
    step: str  # a Step value: where the case resumes
    detail: str = ""
    candidates: list[AddressMatch] = field(default_factory=list)


@dataclass
class WorkflowState:
    """What the `state` query returns: enough for an agent or the CLI to see the case."""

    call_id: str
    status: str
    step: str
    transcript: str = ""
    understanding: Understanding | None = None
    match: AddressMatch | None = None
    booking: BookResult | None = None
    escalation: Escalation | None = None
    history: list[str] = field(default_factory=list)
