"""The agent queue, as every workflow that parks a case uses it: the case's history and what
of it is logged, entering and leaving the queue, the callback-task actions of the `resolve`
Update (`no_answer`, `close`), and the acknowledgement SMS that tells the caller a person
takes over. Deterministic, no I/O.

A case is in the queue while `NeedsAgent = true` (with `EscalationReason` and `WaitingSince`,
oldest first); its current details (encrypted) tell the agent what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError

from workflows.common import (
    PATIENT_RETRY,
    SA_STATUS,
    SHORT_RETRY,
    agent_queue_entered,
    agent_queue_left,
    error_message,
)

with workflow.unsafe.imports_passed_through():
    from domain.models import EscalationReason, ResolveResult

# How long a case waits for its acknowledgement SMS before entering the agent queue anyway.
ACK_WAIT = timedelta(seconds=60)
# workflow.patched id of that change: cases begun before it replay the old way.
ACK_IN_BACKGROUND = "ack-in-background"


class CaseHistory:
    """What happened to a case, kept in two places under one privacy rule.

    `lines` (the `history` of the `state` query) is a query result, encrypted like every
    payload, and read by agents: it keeps everything. The worker's log is clear text, read by
    whoever runs the workers: it gets statuses, reason codes and ids, never what the caller
    said, an address, an escalation's detail or an agent's comment. Such a part is passed as
    `private`: the history shows it in parentheses after the line, the log leaves it out."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, line: str, private: str | None = None) -> None:
        self.lines.append(line if private is None else f"{line} ({private})")
        workflow.logger.info(line)


class AgentQueue:
    """One case's place in the agent queue and the agent's callback-task actions."""

    def __init__(self, history: CaseHistory) -> None:
        self._history = history
        # Callbacks an agent tried and nobody answered, recorded for the next agent.
        self.attempts = 0

    def enter(self, status: str, reason: str, *also: SearchAttributeUpdate) -> None:
        """Show the case to the agents (`status` is the case's, `reason` an EscalationReason
        value), with `also` in the same upsert."""
        workflow.upsert_search_attributes([*agent_queue_entered(status, reason), *also])

    def leave(self, status: str | None, *also: SearchAttributeUpdate) -> None:
        """Take the case out of the queue (`status`: its new one, None to keep it)."""
        workflow.set_current_details("")
        updates = [SA_STATUS.value_set(status)] if status is not None else []
        workflow.upsert_search_attributes([*updates, *agent_queue_left(), *also])

    def no_answer(self, agent_id: str) -> ResolveResult:
        """An agent called back and nobody answered: recorded, the case stays queued."""
        self.attempts += 1
        self._history.note(f"agent {agent_id}: rappel sans réponse (tentative {self.attempts})")
        return ResolveResult(True, f"Rappel sans réponse noté (tentative {self.attempts}).")

    def close(self, agent_id: str, reason: str) -> ResolveResult:
        """An agent closed the case; `reason` (their comment) may name the caller."""
        self._history.note(f"agent {agent_id}: dossier clos", private=reason)
        return ResolveResult(True, "Dossier clos.")


# The acknowledgement SMS by escalation reason (default: "a person will call you back").
ACK_TEMPLATES = {
    EscalationReason.QUESTION: "question_received",
    EscalationReason.CANCEL_REQUEST: "cancel_received",
}
# Nothing to acknowledge by SMS: it is the SMS that failed, or the number cannot receive one.
NO_ACK = (EscalationReason.SMS_FAILED, EscalationReason.NO_MOBILE_NUMBER)


class Acknowledgement:
    """Tell the caller, once per case, that a person takes over.

    The caller is told before the case shows in the queue, as a rule; but an SMS outage must
    not keep the case from the agents: after ACK_WAIT the case enters the queue and the
    acknowledgement goes on trying (it is dropped if the case is resolved first, when it
    would be stale). A failure here never blocks the escalation itself: the agent sees the
    case either way."""

    def __init__(
        self,
        history: CaseHistory,
        send: Callable[[str, RetryPolicy], Awaitable[object]],
    ) -> None:
        self._history = history
        self._send = send  # (template, retry policy): sends the SMS or raises ActivityError
        self.sent = False
        self._pending: asyncio.Future[None] | None = None

    async def start(self, reason: str) -> None:
        """Send it, waiting at most ACK_WAIT before the case may enter the queue."""
        self._pending = None
        if workflow.patched(ACK_IN_BACKGROUND):
            pending = asyncio.ensure_future(self._acknowledge(reason, PATIENT_RETRY))
            self._pending = pending
            try:
                await workflow.wait_condition(pending.done, timeout=ACK_WAIT)
                pending.result()  # a bug in it fails the workflow task visibly, as before
            except TimeoutError:
                self._history.note("accusé de réception SMS en attente: le cas entre dans la file")
        else:
            # Histories written before the change: the acknowledgement as it was then.
            await self._acknowledge(reason, SHORT_RETRY)

    def settle(self) -> None:
        """The case has left the queue: an acknowledgement still trying is dropped."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if not pending.done():
            pending.cancel()
        elif not pending.cancelled():
            pending.result()  # a bug in it fails the workflow task visibly, as before

    async def _acknowledge(self, reason: str, retry: RetryPolicy) -> None:
        if self.sent or reason in NO_ACK:
            return
        template = ACK_TEMPLATES.get(EscalationReason(reason), "callback")
        try:
            await self._send(template, retry)
            self.sent = True
        except ActivityError as err:
            self._history.note(f"accusé de réception SMS impossible: {error_message(err)}")
