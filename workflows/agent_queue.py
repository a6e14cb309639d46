"""The agent queue, as every workflow that parks a case uses it: the case's history and what
of it is logged, entering and leaving the queue, the callback-task actions of the `resolve`
Update (`no_answer`, `close`), and the acknowledgement SMS that tells the caller a person
takes over. Deterministic, no I/O.

A case is in the queue while `NeedsAgent = true` (with `EscalationReason` and `WaitingSince`,
oldest first); its current details (encrypted) tell the agent what to do. An agent claims it
before calling (`claim` / `release` Updates, `ClaimableCase`): `AssignedTo` names the holder and
the details say since when; another agent's claim or `resolve` is refused until it is released
or lapses (domain/claims.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.common import (
    PATIENT_RETRY,
    SA_STATUS,
    SHORT_RETRY,
    agent_queue_entered,
    agent_queue_left,
    error_message,
)

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.claims import (
        Claim,
        ClaimInput,
        ClaimResult,
        claim_banner,
        claim_problem,
        held_by_other,
        hhmm,
        new_claim,
        release_problem,
    )
    from domain.disclosure import CORRECTION_REJECTED
    from domain.models import EscalationReason, ResolveResult

SA_ASSIGNED_TO = SearchAttributeKey.for_keyword(names.SA_ASSIGNED_TO)

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
        # Whether the case is in the queue now, who holds it, and whether anybody ever did
        # (only then does leaving the queue unset `AssignedTo`: the commands of cases that
        # were never claimed stay what they were before claims existed).
        self.queued = False
        self.claim: Claim | None = None
        self._claimed_ever = False
        self._details = ""

    @property
    def claimed_ever(self) -> bool:
        """Whether an agent ever took the case (a transferred call answered, say)."""
        return self._claimed_ever

    def enter(self, status: str, reason: str, *also: SearchAttributeUpdate) -> None:
        """Show the case to the agents (`status` is the case's, `reason` an EscalationReason
        value), with `also` in the same upsert."""
        self.queued = True
        workflow.upsert_search_attributes([*agent_queue_entered(status, reason), *also])
        if self._details:
            self._render()

    def leave(self, status: str | None, *also: SearchAttributeUpdate) -> None:
        """Take the case out of the queue (`status`: its new one, None to keep it)."""
        self.queued = False
        self._details = ""
        workflow.set_current_details("")
        updates = [SA_STATUS.value_set(status)] if status is not None else []
        if self._claimed_ever and self.claim is not None:
            updates.append(SA_ASSIGNED_TO.value_unset())
        self.claim = None
        workflow.upsert_search_attributes([*updates, *agent_queue_left(), *also])

    # ------------------------------------------------------------------ details, claims

    def show(self, markdown: str) -> None:
        """Set the case's current details; while queued they open with who holds the case."""
        self._details = markdown
        self._render()

    def _render(self) -> None:
        if not self.queued:
            workflow.set_current_details(self._details)
            return
        banner = claim_banner(self.claim, workflow.now())
        workflow.set_current_details(f"{banner}\n\n{self._details}")

    def check_claim(self, inp: ClaimInput) -> None:
        """The `claim` validator: refused (readable in the UI) unless the case is queued and
        free, lapsed or already the agent's."""
        _refuse(claim_problem(inp, self.claim, queued=self.queued, now=workflow.now()))

    def check_release(self, inp: ClaimInput) -> None:
        _refuse(release_problem(inp, self.claim, now=workflow.now()))

    def refuse_if_held(self, agent_id: str) -> None:
        """For the `resolve` validators: another agent holds the case."""
        _refuse(held_by_other(agent_id, self.claim, workflow.now()))

    def take(self, inp: ClaimInput) -> ClaimResult:
        now = workflow.now()
        claim = self.claim = new_claim(inp, self.claim, now)
        self._claimed_ever = True
        workflow.upsert_search_attributes([SA_ASSIGNED_TO.value_set(claim.agent_id)])
        self._history.note(f"agent {claim.agent_id}: dossier pris jusqu'à {hhmm(claim.until)}")
        self._render()
        return ClaimResult(
            True,
            f"Dossier pris par {claim.agent_id} jusqu'à {hhmm(claim.until)}.",
            assigned_to=claim.agent_id,
            since=claim.since.isoformat(),
            until=claim.until.isoformat(),
        )

    def give_back(self, inp: ClaimInput) -> ClaimResult:
        holder = self.claim.agent_id if self.claim is not None else ""
        self.claim = None
        workflow.upsert_search_attributes([SA_ASSIGNED_TO.value_unset()])
        forced = f" (à la place de {holder})" if holder != inp.agent_id.strip() else ""
        self._history.note(f"agent {inp.agent_id.strip()}: dossier rendu{forced}")
        self._render()
        return ClaimResult(True, f"Dossier rendu{forced} : il est libre.")

    def no_answer(self, agent_id: str) -> ResolveResult:
        """An agent called back and nobody answered: recorded, the case stays queued."""
        self.attempts += 1
        self._history.note(f"agent {agent_id}: rappel sans réponse (tentative {self.attempts})")
        return ResolveResult(True, f"Rappel sans réponse noté (tentative {self.attempts}).")

    def close(self, agent_id: str, reason: str) -> ResolveResult:
        """An agent closed the case; `reason` (their comment) may name the caller."""
        self._history.note(f"agent {agent_id}: dossier clos", private=reason)
        return ResolveResult(True, "Dossier clos.")


def _refuse(problem: str | None) -> None:
    if problem:
        # Readable in the Web UI although failures are encrypted (domain/disclosure.py): the
        # message names the rule and at most an agent id.
        raise ApplicationError(problem, type=CORRECTION_REJECTED)


class ClaimableCase:
    """The `claim` and `release` Updates of a workflow that parks cases in the agent queue;
    the workflow holds its `AgentQueue` as `self._queue`. `_claimed` is called once a claim
    is accepted (a voicemail refreshes the link to its audio there)."""

    _queue: AgentQueue

    @workflow.update(name=names.CLAIM_UPDATE)
    async def claim(self, inp: ClaimInput) -> ClaimResult:
        result = self._queue.take(inp)
        await self._claimed(inp)
        return result

    @claim.validator
    def validate_claim(self, inp: ClaimInput) -> None:
        self._queue.check_claim(inp)

    @workflow.update(name=names.RELEASE_UPDATE)
    def release(self, inp: ClaimInput) -> ClaimResult:
        return self._queue.give_back(inp)

    @release.validator
    def validate_release(self, inp: ClaimInput) -> None:
        self._queue.check_release(inp)

    async def _claimed(self, inp: ClaimInput) -> None:
        return None


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
