"""MissedCallWorkflow: a caller hung up without leaving a message.

One case per calling number: the ingress starts it with signal-with-start on an id derived
from the number's keyed hash, so several missed calls in a short window join the same case
(`missed_call` signal) and the caller gets one SMS, not one per call.

- Withheld number: nothing to call back, the call is recorded and the case closes.
- The number has an upcoming booking (and can receive SMS): its status by SMS, instead of the
  invitation.
- Mobile number, call centre closed: an SMS invites the caller to reply with the address and
  the items (or a question). A usable reply is handed over to a VoicemailWorkflow on the text
  channel (child workflow `voicemail-<call id>-sms`): understand → geocode → book → SMS, or
  the FAQ answer.
- No usable reply within `reply_timeout_s`, a landline, a call within opening hours: a
  callback task for the agents. It becomes visible (`NeedsAgent = true`,
  `EscalationReason = missed_call_callback`) when the call centre next opens: a durable
  timer until the opening that the `call_centre_opening` activity computes from the calendar,
  not a cron. A usable reply before an agent acts still goes to the text channel.
- The agent ends the task with the `resolve` Update: `close` (with a comment) or `no_answer`
  (a callback attempt nobody answered: recorded, the task stays).

Once settled the case stays open `merge_window_s` after the last call, so that a caller who
tries again a few minutes later joins it instead of getting the same SMS again.

Bounded (issue 18): a number that calls a thousand times keeps one case whose state holds the
first MAX_CALL_IDS call ids and the last MAX_SEEN_IDS (to count each once), a count of the
rest, at most MAX_REPLIES replies; and the case continues as new when its history gets long
(a callback task may wait for days), carrying its state (`MissedCallCase`,
domain/case_carry.py) and the phase it was in. Cases begun before that change replay the old
way (`workflow.patched(MISSED_CALL_CONTINUE)`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

from workflows import calls
from workflows.agent_queue import AgentQueue, ClaimableCase
from workflows.bounded import BoundedHistory, history_is_long
from workflows.common import SA_SMS_PHONE_KEY, SA_STATUS
from workflows.missed_call_steps import MissedCallSteps

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.case_carry import MissedCallCase, remember
    from domain.disclosure import CORRECTION_REJECTED
    from domain.labels import date_label
    from domain.missed_call import (
        callback_details_markdown,
        caller_e164,
        validate_callback_resolution,
    )
    from domain.missed_call_models import (
        CALLBACK_REASON,
        MAX_CALL_IDS,
        MISSED_CALL_SIGNAL,
        MISSED_CALL_WORKFLOW,
        SA_CALL_IDS,
        LineType,
        MissedCallInput,
        MissedCallResult,
        MissedCallSignal,
        MissedCallState,
        MissedCallStatus,
        UpcomingBookingResult,
    )
    from domain.models import (
        ResolveInput,
        ResolveResult,
        SmsReplyInput,
    )
    from domain.phone import is_mobile_fr
    from domain.sms_models import SmsListenInput

SA_CALLS = SearchAttributeKey.for_keyword_list(SA_CALL_IDS)

# A caller who keeps texting must not grow the history without bound.
MAX_REPLIES = 20
# Repeated calls noted one by one in the case's history; past this, counted only.
NOTED_CALLS = 20
# workflow.patched id of continue-as-new: cases begun before it never continue as new.
MISSED_CALL_CONTINUE = "missed-call-continue-as-new"
# workflow.patched id: the call of the input is not counted again when the start's signal has
# already counted it (over MAX_SEEN_IDS signals may precede the run in its first activation).
MISSED_CALL_START_COUNTED_ONCE = "missed-call-start-counted-once"
# workflow.patched id of the invitation's reply route dropped when an agent closes the case.
MISSED_CALL_ROUTE_CLOSED = "missed-call-route-closed"
# Where a run stopped, for the next one (MissedCallCase.phase).
PHASE_WAIT_REPLY = "wait_reply"
PHASE_CALLBACK_SCHEDULED = "callback_scheduled"
PHASE_WAITING_AGENT = "waiting_agent"
PHASE_LINGER = "linger"


@workflow.defn(name=MISSED_CALL_WORKFLOW)
class MissedCallWorkflow(ClaimableCase):
    @workflow.init
    def __init__(self, inp: MissedCallInput) -> None:
        # From the input, before the first activation's signals: a run that continued as new
        # takes its state up at once.
        self._inp = inp
        self._s = inp.carried or MissedCallCase(status=MissedCallStatus.RECEIVED.value)
        self._history = BoundedHistory(self._s.log)
        self._queue = AgentQueue(self._history)
        self._queue.attempts = self._s.callback_attempts
        self._steps = MissedCallSteps(inp, self._s, self._history, self._queue)
        self._calls_seen = self._s.calls
        # Whether this case may continue as new: asked once its history is long (None until).
        self._may_continue: bool | None = None
        s = self._s
        self._booking: UpcomingBookingResult | None = (
            UpcomingBookingResult(
                found=s.booking_found,
                reference=s.booking_reference,
                pickup_date=s.booking_pickup_date,
            )
            if inp.carried is not None
            else None
        )

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: MissedCallInput) -> MissedCallResult:
        if inp.carried is not None:
            return await self._resume()
        s = self._s
        workflow.upsert_search_attributes([SA_STATUS.value_set(s.status)])
        self._add_start_call(inp.call_id)
        number = caller_e164(inp.caller_number)
        if number is None:
            s.line = LineType.WITHHELD.value
            s.closed_reason = "numéro masqué : rien à rappeler"
            self._history.note("numéro masqué : appel enregistré, pas de rappel possible")
            await self._set_status(MissedCallStatus.CLOSED)
            return self._result()
        s.number = number
        s.line = (LineType.MOBILE if is_mobile_fr(number) else LineType.LANDLINE).value
        self._history.note(f"appel manqué, ligne {s.line}")
        self._booking = await self._steps.find_booking()
        s.booking_found = self._booking.found
        s.booking_reference = self._booking.reference
        s.booking_pickup_date = self._booking.pickup_date
        if self._booking.found and s.line == LineType.MOBILE:
            if await self._steps.send_booking_status(self._booking):
                await self._set_status(MissedCallStatus.ANSWERED)
                await self._linger()
                return self._result()
            why = "statut de l'enlèvement prévu non envoyé par SMS"
        elif s.line != LineType.MOBILE:
            why = "numéro fixe ou non mobile : pas de SMS possible"
        elif (await self._steps.opening()).open_now:
            why = "appel manqué pendant les heures d'ouverture"
        elif not await self._steps.invite():
            why = "SMS d'invitation impossible"
        else:
            return await self._wait_reply(workflow.now() + timedelta(seconds=inp.reply_timeout_s))
        await self._callback(why)
        await self._linger()
        return self._result()

    async def _wait_reply(self, deadline: datetime) -> MissedCallResult:
        """The invitation is out: a usable reply before `deadline`, or a callback."""
        self._enter(PHASE_WAIT_REPLY, deadline)
        if await self._wait_for_usable_reply(deadline):
            await self._steps.hand_over()
            await self._linger()
            return self._result()
        await self._callback("pas de réponse exploitable au SMS d'invitation")
        await self._linger()
        return self._result()

    async def _resume(self) -> MissedCallResult:
        """A run that continued as new: on from the phase the last one stopped in."""
        s = self._s
        if s.callback_pending:
            self._refresh_details()  # the current details are the run's own
        deadline = datetime.fromisoformat(s.deadline) if s.deadline else None
        if s.phase == PHASE_WAIT_REPLY and deadline is not None:
            return await self._wait_reply(deadline)
        if s.phase == PHASE_CALLBACK_SCHEDULED and deadline is not None:
            await self._callback_scheduled(deadline)
        elif s.phase == PHASE_WAITING_AGENT:
            await self._callback_waiting_agent(entered=True)
        await self._linger()
        return self._result()

    def _enter(self, phase: str, deadline: datetime | None = None) -> None:
        self._s.phase = phase
        self._s.deadline = deadline.isoformat() if deadline is not None else ""

    def _long(self) -> bool:
        """The history is long and this case may continue as new: wakes the waits (calls do
        not, when the case waits for a reply or an agent). Read-only: fit for a condition."""
        assert self._inp is not None
        return self._may_continue is not False and history_is_long(self._inp.history_limit)

    async def _continue_as_new_if_long(self) -> None:
        """At a wait: continue as new, carrying the state, when the history is long."""
        if not self._long():
            return
        if self._may_continue is None:
            self._may_continue = workflow.patched(MISSED_CALL_CONTINUE)
        if not self._may_continue:
            return  # a case begun before the change: it goes on the old way
        await workflow.wait_condition(workflow.all_handlers_finished)
        s = self._s
        s.callback_attempts = self._queue.attempts
        s.run += 1
        workflow.continue_as_new(dataclasses.replace(self._inp, carried=s))

    # ------------------------------------------------------------------ steps

    async def _wait_for_usable_reply(
        self, deadline: datetime | None, stop: Callable[[], bool] | None = None
    ) -> bool:
        """True as soon as the replies so far make a usable request; False at `deadline`
        (None: no deadline) or when `stop()` turns true."""
        s = self._s
        while True:
            if s.checked < len(s.replies):
                s.checked = len(s.replies)
                if await self._steps.replies_usable():
                    return True
            if stop is not None and stop():
                return False

            def wake() -> bool:
                return s.checked < len(s.replies) or (stop is not None and stop()) or self._long()

            if deadline is None:
                await self._continue_as_new_if_long()
                await workflow.wait_condition(wake)
                continue
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return False
            await self._continue_as_new_if_long()
            try:
                await workflow.wait_condition(wake, timeout=timedelta(seconds=remaining))
            except TimeoutError:
                return False

    async def _callback(self, why: str) -> None:
        """A callback task, visible to agents from the next opening of the call centre."""
        s = self._s
        s.callback_pending = True
        s.callback_why = why
        self._history.note(f"rappel nécessaire: {why}")
        self._refresh_details()
        opening = await self._steps.opening()
        if not opening.open_now:
            s.scheduled_for = opening.next_opening
            await self._set_status(MissedCallStatus.CALLBACK_SCHEDULED)
            self._history.note(f"rappel visible à l'ouverture: {opening.next_opening_local}")
            await self._callback_scheduled(datetime.fromisoformat(opening.next_opening))
            return
        await self._callback_waiting_agent(entered=False)

    async def _callback_scheduled(self, opening_at: datetime) -> None:
        # A durable timer until the opening; a usable reply or an agent closing the case
        # found by other means end it early.
        s = self._s
        self._enter(PHASE_CALLBACK_SCHEDULED, opening_at)
        if await self._wait_for_usable_reply(opening_at, stop=lambda: s.resolved):
            await self._steps.hand_over()
            return
        await self._callback_waiting_agent(entered=False)

    async def _callback_waiting_agent(self, entered: bool) -> None:
        """In the agents' queue (`entered`: already, in the run before) until an agent
        closes the task or a usable reply comes."""
        s = self._s
        if not s.resolved:
            if not entered:
                s.visible_at = workflow.now().isoformat()
                s.status = MissedCallStatus.WAITING_AGENT.value
                self._queue.enter(s.status, CALLBACK_REASON)
                self._history.note("rappel dans la file des agents")
            self._enter(PHASE_WAITING_AGENT)
            if await self._wait_for_usable_reply(None, stop=lambda: s.resolved):
                await self._steps.hand_over()
                return
        s.callback_pending = False
        s.status = MissedCallStatus.CLOSED.value
        self._queue.leave(s.status, SA_SMS_PHONE_KEY.value_unset())
        if s.route_key and workflow.patched(MISSED_CALL_ROUTE_CLOSED):
            # Lingering, this case keeps what reaches it: the caller's next SMS must go to a
            # new case for an agent instead (before the routes table, unsetting the search
            # attribute did that).
            await calls.LISTEN_FOR_SMS_REPLIES(SmsListenInput(s.route_key, listen=False))

    async def _linger(self) -> None:
        """Stay open `merge_window_s` after the last call: a new call from the number joins
        this case (no second SMS). Replies that still reach a handed-over case are forwarded
        to the text channel."""
        assert self._inp is not None
        s = self._s
        self._enter(PHASE_LINGER)
        window = timedelta(seconds=self._inp.merge_window_s)
        while True:
            await self._steps.forward_replies()
            assert s.last_call_at
            last_call_at = datetime.fromisoformat(s.last_call_at)
            remaining = (last_call_at + window - workflow.now()).total_seconds()
            if remaining <= 0:
                break
            self._calls_seen = s.calls
            await self._continue_as_new_if_long()
            try:
                await workflow.wait_condition(
                    self._linger_wakes, timeout=timedelta(seconds=remaining)
                )
            except TimeoutError:
                break
        await self._steps.forward_replies()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _linger_wakes(self) -> bool:
        return self._s.calls != self._calls_seen or self._steps.unforwarded() or self._long()

    # ------------------------------------------------------------------ messages

    @workflow.signal(name=MISSED_CALL_SIGNAL)
    def missed_call(self, inp: MissedCallSignal) -> None:
        self._add_call(inp.call_id)

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        s = self._s
        if inp.message_id:
            if inp.message_id in s.seen_message_ids:
                return
            remember(s.seen_message_ids, inp.message_id)
        if len(s.replies) >= MAX_REPLIES:
            s.replies_dropped += 1
            if s.replies_dropped == 1:
                self._history.note("réponses SMS suivantes ignorées (trop de messages)")
            return
        s.replies.append(inp)
        self._history.note("réponse SMS reçue")
        if s.callback_pending:
            self._refresh_details()

    @workflow.update(name=names.RESOLVE_UPDATE)
    def resolve(self, inp: ResolveInput) -> ResolveResult:
        s = self._s
        if inp.action == "no_answer":
            result = self._queue.no_answer(inp.agent_id)
            s.callback_attempts = self._queue.attempts
            self._refresh_details()
            return result
        s.closed_reason = inp.comment.strip()
        s.resolved = True
        return self._queue.close(inp.agent_id, s.closed_reason)

    @resolve.validator
    def validate_resolve(self, inp: ResolveInput) -> None:
        self._queue.refuse_if_held(inp.agent_id)
        problem = validate_callback_resolution(
            inp, pending=self._s.callback_pending and not self._s.resolved
        )
        if problem:
            raise ApplicationError(problem, type=CORRECTION_REJECTED)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> MissedCallState:
        s = self._s
        return MissedCallState(
            call_ids=list(s.call_ids),
            status=s.status,
            line=s.line,
            caller_number=s.number,
            replies=[r.text for r in s.replies],
            visible_at=s.visible_at or s.scheduled_for,
            handed_over_to=s.handed_over_to,
            callback_attempts=self._queue.attempts,
            history=self._history.view(),
            calls=s.calls,
        )

    # ------------------------------------------------------------------ helpers

    def _add_start_call(self, call_id: str) -> None:
        """The call of the input. Signal-with-start puts its signal (same call id) in the first
        activation, where signals run before the workflow does: when calls were counted
        already, this one is among them, even if so many signals came with it (a worker busy
        while a number calls in a loop) that its id has left `recent_call_ids`. A withheld
        number's case starts without a signal: nothing counted yet, counted here."""
        s = self._s
        if s.calls == 0 or call_id in s.recent_call_ids:
            self._add_call(call_id)
        elif not workflow.patched(MISSED_CALL_START_COUNTED_ONCE):
            self._add_call(call_id)  # a case begun before the change: counted as it was

    def _add_call(self, call_id: str) -> None:
        # Signal-with-start delivers the first call twice (input and signal); a retried
        # webhook repeats a call id: each id counts once (the last MAX_SEEN_IDS are kept:
        # a webhook is retried within minutes, not after hundreds of other calls).
        s = self._s
        if call_id in s.recent_call_ids:
            return
        remember(s.recent_call_ids, call_id)
        s.calls += 1
        s.last_call_at = workflow.now().isoformat()
        if len(s.call_ids) < MAX_CALL_IDS:
            s.call_ids.append(call_id)
            workflow.upsert_search_attributes([SA_CALLS.value_set(list(s.call_ids))])
        if s.calls > 1:
            if s.calls <= NOTED_CALLS:
                self._history.note(f"nouvel appel manqué du même numéro ({s.calls} au total)")
            elif s.calls == NOTED_CALLS + 1:
                self._history.note("appels suivants du même numéro comptés, plus notés un à un")
            if s.callback_pending:
                self._refresh_details()

    def _refresh_details(self) -> None:
        s = self._s
        booking = self._booking
        self._queue.show(
            callback_details_markdown(
                caller_number=s.number,
                line=s.line,
                calls=s.calls,
                why=s.callback_why,
                replies=[r.text for r in s.replies],
                booking_label=(
                    f"{date_label(booking.pickup_date)} (réf. {booking.reference})"
                    if booking is not None and booking.found
                    else ""
                ),
                attempts=self._queue.attempts,
            )
        )

    async def _set_status(self, status: MissedCallStatus) -> None:
        if self._s.status == status.value:
            return
        self._s.status = status.value
        workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])

    def _result(self) -> MissedCallResult:
        s = self._s
        booking = self._booking
        return MissedCallResult(
            call_ids=list(s.call_ids),
            status=s.status,
            line=s.line,
            reason=s.closed_reason,
            handed_over_to=s.handed_over_to,
            visible_at=s.visible_at,
            callback_attempts=self._queue.attempts,
            booking_reference=booking.reference
            if booking is not None and booking.found and s.status == MissedCallStatus.ANSWERED
            else "",
        )
