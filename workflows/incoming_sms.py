"""IncomingSmsWorkflow: an SMS that no running case was waiting for, kept for an agent.

Started by the SMS router (activities/sms_inbox.py) when a reply comes from a number no
running workflow has texted, or from a sender that is no phone number. It never drops or
answers the message itself: it puts the case in the agent queue (`NeedsAgent = true`,
`EscalationReason = unmatched_sms`), gathers the sender's further SMS (it publishes the
sender's `SmsPhoneKey`, so they are signalled here), and ends when an agent closes it with the
`resolve` Update (`close` with a comment; `no_answer` records a callback attempt and keeps
the case queued).
"""

from __future__ import annotations

import dataclasses

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.agent_queue import AgentQueue, ClaimableCase
from workflows.bounded import BoundedHistory, history_is_long
from workflows.common import SA_SMS_PHONE_KEY

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.agent import validate_callback_task
    from domain.case_carry import MAX_PENDING_REPLIES, IncomingSmsCase, remember
    from domain.disclosure import CORRECTION_REJECTED
    from domain.escaping import markdown_text, strip_controls
    from domain.models import (
        EscalationReason,
        ResolveInput,
        ResolveResult,
        SmsReplyInput,
        Status,
    )
    from domain.sms_models import IncomingSmsInput, IncomingSmsResult, IncomingSmsState

# A sender who keeps texting must not grow the history without bound; past this the case
# says so and an agent calls back.
MAX_MESSAGES = 50
# workflow.patched id of continue-as-new while waiting for an agent.
INCOMING_SMS_CONTINUE = "incoming-sms-continue-as-new"


def validate_incoming_resolution(inp: ResolveInput, *, closed: bool) -> str | None:
    """A readable French reason to refuse the agent's Update, or None. Names the rule, never
    the caller's data (the Web UI shows it in clear, see domain/disclosure.py)."""
    if closed:
        return "Ce dossier est déjà clos."
    return validate_callback_task(inp, "un SMS sans dossier")


def _details_markdown(
    messages: list[SmsReplyInput], attempts: int, note: str = "", beyond: int = 0
) -> str:
    title = (
        f"**{note}**"
        if note
        else "**SMS reçu sans dossier en cours** (numéro inconnu ou dossier déjà clos)."
    )
    lines = [title, "", f"Numéro : {markdown_text(messages[0].sender) or 'inconnu'}", ""]
    for m in messages:
        if m.text:
            lines.append(f"- {strip_controls(m.received_at) or '?'} : {markdown_text(m.text)}")
    if len(messages) >= MAX_MESSAGES:
        more = f" : {beyond} de plus" if beyond else ""
        lines.append(
            f"- (au-delà de {MAX_MESSAGES} SMS, les suivants ne sont plus gardés ici{more})"
        )
    if attempts:
        lines += ["", f"Rappels sans réponse : {attempts}"]
    lines += [
        "",
        "Traitez la demande (rappel, réservation manuelle), puis envoyez l'Update `resolve` :",
        '`{"agent_id": "agent-42", "action": "close", "comment": "rappelé, RDV pris"}` '
        'ou `{"agent_id": "agent-42", "action": "no_answer"}`.',
    ]
    return "\n".join(lines)


@workflow.defn(name=names.INCOMING_SMS_WORKFLOW)
class IncomingSmsWorkflow(ClaimableCase):
    @workflow.init
    def __init__(self, inp: IncomingSmsInput) -> None:
        # From the input, before the first activation's signals: a run that continued as new
        # takes its state up at once.
        self._inp = inp
        self._s = inp.carried or IncomingSmsCase()
        self._late: list[SmsReplyInput] = []
        self._history = BoundedHistory(self._s.log)
        self._queue = AgentQueue(self._history)
        self._queue.attempts = self._s.callback_attempts
        self._status = Status.RECEIVED.value
        self._closed = False
        self._closed_by = ""
        self._closed_reason = ""
        # Whether this case may continue as new: asked once its history is long (None until).
        self._may_continue: bool | None = None
        if inp.carried is None:
            # Here, before the first activation's signals: the sender's next SMS, routed to
            # this case the moment it started (the routes table), comes after the first one.
            first = SmsReplyInput(
                text=inp.text,
                sender=inp.sender,
                received_at=inp.received_at,
                message_id=inp.message_id,
            )
            for message in [first, *inp.more]:
                self._add(message)

    @workflow.run
    async def run(self, inp: IncomingSmsInput) -> IncomingSmsResult:
        if inp.carried is None:
            self._status = Status.WAITING_AGENT.value
            self._queue.enter(
                self._status,
                inp.reason or EscalationReason.UNMATCHED_SMS.value,
                *([SA_SMS_PHONE_KEY.value_set([inp.phone_key])] if inp.phone_key else []),
            )
        else:
            # Still in the queue (search attributes carry over); the details are the run's.
            self._status = Status.WAITING_AGENT.value
        self._refresh_details()
        while True:
            await workflow.wait_condition(
                lambda: (self._closed and workflow.all_handlers_finished()) or self._long()
            )
            if self._closed and workflow.all_handlers_finished():
                break
            if self._may_continue is None:
                self._may_continue = workflow.patched(INCOMING_SMS_CONTINUE)
            if self._may_continue:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._closed:
                    self._s.callback_attempts = self._queue.attempts
                    self._s.run += 1
                    workflow.continue_as_new(dataclasses.replace(inp, carried=self._s))
        if self._late:
            # SMS signalled after the agent closed the case but before it ended: the router
            # has already deleted them at the provider, so they start a new run, in the queue.
            late, rest = self._late[0], self._late[1:]
            workflow.continue_as_new(
                IncomingSmsInput(
                    message_id=late.message_id,
                    sender=late.sender,
                    text=late.text,
                    received_at=late.received_at,
                    phone_key=inp.phone_key,
                    more=rest,
                    reason=inp.reason,
                    note=inp.note,
                    history_limit=inp.history_limit,
                )
            )
        self._queue.leave(self._status)
        return IncomingSmsResult(
            message_id=inp.message_id,
            status=self._status,
            closed_by=self._closed_by,
            closed_reason=self._closed_reason,
            messages=len(self._s.messages),
        )

    def _long(self) -> bool:
        """The history is long and the case may continue as new (read-only: a condition)."""
        return self._may_continue is not False and history_is_long(self._inp.history_limit)

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        """The same sender texted again while the case waits."""
        if self._closed:
            known = set(self._s.seen_message_ids) | {m.message_id for m in self._late}
            if inp.message_id not in known and len(self._late) < MAX_PENDING_REPLIES:
                self._late.append(inp)
            return
        if self._add(inp):
            self._refresh_details()

    @workflow.update(name=names.RESOLVE_UPDATE)
    async def resolve(self, inp: ResolveInput) -> ResolveResult:
        if inp.action == "no_answer":
            result = self._queue.no_answer(inp.agent_id)
            self._refresh_details()
            return result
        self._closed_by = inp.agent_id
        self._closed_reason = inp.comment.strip()
        self._status = Status.CLOSED.value
        self._closed = True
        return self._queue.close(inp.agent_id, self._closed_reason)

    @resolve.validator
    def validate_resolve(self, inp: ResolveInput) -> None:
        self._queue.refuse_if_held(inp.agent_id)
        problem = validate_incoming_resolution(inp, closed=self._closed)
        if problem:
            raise ApplicationError(problem, type=CORRECTION_REJECTED)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> IncomingSmsState:
        return IncomingSmsState(
            message_id=self._inp.message_id,
            status=self._status,
            messages=list(self._s.messages),
            history=self._history.view(),
            callback_attempts=self._queue.attempts,
            closed_reason=self._closed_reason,
        )

    # ------------------------------------------------------------------ helpers

    def _add(self, message: SmsReplyInput) -> bool:
        """Keep a message once: a poll retried after a crash signals it again."""
        s = self._s
        if message.message_id and message.message_id in s.seen_message_ids:
            return False
        if message.message_id:
            remember(s.seen_message_ids, message.message_id)
        if len(s.messages) >= MAX_MESSAGES:
            # Still in the history (the signal's input), just not repeated in the state.
            s.beyond_limit += 1
            if s.beyond_limit == 1:
                self._history.note("SMS au-delà de la limite : comptés, voir l'historique")
            return True
        s.messages.append(message)
        self._history.note(f"SMS reçu ({message.message_id or 'sans id'})")
        return True

    def _refresh_details(self) -> None:
        s = self._s
        note = self._inp.note
        self._queue.show(_details_markdown(s.messages, self._queue.attempts, note, s.beyond_limit))
