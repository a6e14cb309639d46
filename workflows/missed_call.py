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
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows import calls
from workflows.agent_queue import AgentQueue, CaseHistory
from workflows.common import SA_SMS_PHONE_KEY, SA_STATUS, error_message

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.booking_models import CallCentreInput, CallCentreOpening
    from domain.disclosure import CORRECTION_REJECTED
    from domain.labels import date_label
    from domain.missed_call import (
        callback_details_markdown,
        caller_e164,
        reply_is_usable,
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
        UpcomingBookingInput,
        UpcomingBookingResult,
        sms_channel_call_id,
    )
    from domain.models import (
        NotifyResult,
        ResolveInput,
        ResolveResult,
        SmsReplyInput,
        UnderstandInput,
        VoicemailInput,
    )
    from domain.phone import is_mobile_fr

SA_CALLS = SearchAttributeKey.for_keyword_list(SA_CALL_IDS)

# Memo key naming the VoicemailWorkflow that took the reply over (read by GET /calls/{id}).
MEMO_HANDED_OVER_TO = "handed_over_to"
# A caller who keeps texting must not grow the history without bound.
MAX_REPLIES = 20


@workflow.defn(name=MISSED_CALL_WORKFLOW)
class MissedCallWorkflow:
    def __init__(self) -> None:
        self._inp: MissedCallInput | None = None
        self._number = ""
        self._line = ""
        self._status = MissedCallStatus.RECEIVED.value
        self._call_ids: list[str] = []  # the first MAX_CALL_IDS, for the search attribute
        self._seen_calls: set[str] = set()
        self._calls = 0
        self._calls_seen = 0
        self._last_call_at: datetime | None = None
        self._replies: list[SmsReplyInput] = []
        self._seen_messages: set[str] = set()
        self._checked = 0  # replies already run through `understand`
        self._forwarded = 0  # replies already in (or sent to) the text-channel workflow
        self._history = CaseHistory()
        self._queue = AgentQueue(self._history)
        self._booking: UpcomingBookingResult | None = None
        self._callback_pending = False
        self._callback_why = ""
        self._resolved = False
        self._closed_reason = ""
        self._scheduled_for = ""
        self._visible_at = ""
        self._handed_over_to = ""

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: MissedCallInput) -> MissedCallResult:
        self._inp = inp
        workflow.upsert_search_attributes([SA_STATUS.value_set(self._status)])
        self._add_call(inp.call_id)
        number = caller_e164(inp.caller_number)
        if number is None:
            self._line = LineType.WITHHELD.value
            self._closed_reason = "numéro masqué : rien à rappeler"
            self._history.note("numéro masqué : appel enregistré, pas de rappel possible")
            await self._set_status(MissedCallStatus.CLOSED)
            return self._result()
        self._number = number
        self._line = (LineType.MOBILE if is_mobile_fr(number) else LineType.LANDLINE).value
        self._history.note(f"appel manqué, ligne {self._line}")
        self._booking = await self._find_booking()
        if self._booking.found and self._line == LineType.MOBILE:
            if await self._send_booking_status(self._booking):
                await self._set_status(MissedCallStatus.ANSWERED)
                await self._linger()
                return self._result()
            why = "statut de l'enlèvement prévu non envoyé par SMS"
        elif self._line != LineType.MOBILE:
            why = "numéro fixe ou non mobile : pas de SMS possible"
        elif (await self._opening()).open_now:
            why = "appel manqué pendant les heures d'ouverture"
        elif not await self._invite():
            why = "SMS d'invitation impossible"
        else:
            deadline = workflow.now() + timedelta(seconds=inp.reply_timeout_s)
            if await self._wait_for_usable_reply(deadline):
                await self._hand_over()
                await self._linger()
                return self._result()
            why = "pas de réponse exploitable au SMS d'invitation"
        await self._callback(why)
        await self._linger()
        return self._result()

    # ------------------------------------------------------------------ steps

    async def _find_booking(self) -> UpcomingBookingResult:
        try:
            return await calls.FIND_UPCOMING_BOOKING(
                UpcomingBookingInput(caller_number=self._number, at=workflow.now().isoformat())
            )
        except ActivityError as err:
            # Not knowing the booking only costs an invitation the caller may not need.
            self._history.note(f"recherche d'enlèvement prévu impossible: {error_message(err)}")
            return UpcomingBookingResult(found=False)

    async def _opening(self) -> CallCentreOpening:
        return await calls.CALL_CENTRE_OPENING(CallCentreInput(at=workflow.now().isoformat()))

    async def _send_booking_status(self, booking: UpcomingBookingResult) -> bool:
        context = {
            "reference": booking.reference,
            "pickup_date_label": date_label(booking.pickup_date),
        }
        try:
            await self._send_sms("booking-status", "missed_call_booking_status", context)
        except ActivityError as err:
            self._history.note(f"SMS de statut impossible: {error_message(err)}")
            return False
        self._history.note(f"enlèvement déjà prévu le {booking.pickup_date}: statut envoyé par SMS")
        return True

    async def _invite(self) -> bool:
        try:
            sent = await self._send_sms("invite", "missed_call_invite", {})
        except ActivityError as err:
            self._history.note(f"SMS d'invitation impossible: {error_message(err)}")
            return False
        updates: list[SearchAttributeUpdate] = [
            SA_STATUS.value_set(MissedCallStatus.WAITING_REPLY.value)
        ]
        if sent.phone_key:
            # The caller's reply finds this case through the keyed hash of the number.
            updates.append(SA_SMS_PHONE_KEY.value_set([sent.phone_key]))
        self._status = MissedCallStatus.WAITING_REPLY.value
        workflow.upsert_search_attributes(updates)
        self._history.note("SMS d'invitation envoyé, en attente de la réponse")
        return True

    async def _send_sms(self, purpose: str, template: str, context: dict[str, str]) -> NotifyResult:
        assert self._inp is not None
        return await calls.send_sms(
            f"{self._inp.call_id}:{purpose}", self._number, template, dict(context)
        )

    async def _wait_for_usable_reply(
        self, deadline: datetime | None, stop: Callable[[], bool] | None = None
    ) -> bool:
        """True as soon as the replies so far make a usable request; False at `deadline`
        (None: no deadline) or when `stop()` turns true."""
        while True:
            if self._checked < len(self._replies):
                self._checked = len(self._replies)
                if await self._replies_usable():
                    return True
            if stop is not None and stop():
                return False

            def wake() -> bool:
                return self._checked < len(self._replies) or (stop is not None and stop())

            if deadline is None:
                await workflow.wait_condition(wake)
                continue
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return False
            try:
                await workflow.wait_condition(wake, timeout=timedelta(seconds=remaining))
            except TimeoutError:
                return False

    async def _replies_usable(self) -> bool:
        try:
            understanding = await calls.UNDERSTAND(
                UnderstandInput(text=self._reply_text(), caller_number=self._number)
            )
        except ActivityError as err:
            self._history.note(f"réponse SMS non analysée: {error_message(err)}")
            return False
        usable = reply_is_usable(understanding)
        self._history.note(
            f"réponse SMS: intention={understanding.intent}, "
            f"{'exploitable' if usable else 'incomplète'}"
        )
        return usable

    async def _hand_over(self) -> None:
        """The replies go to a VoicemailWorkflow on the text channel, which outlives this
        case (ABANDON): it books, answers or escalates like any voicemail."""
        assert self._inp is not None
        call_id = sms_channel_call_id(self._inp.call_id)
        child_id = names.voicemail_workflow_id(call_id)
        try:
            await workflow.start_child_workflow(
                names.VOICEMAIL_WORKFLOW,
                VoicemailInput(
                    call_id=call_id,
                    audio_path="",
                    caller_number=self._number,
                    received_at=workflow.now().isoformat(),
                    stt_task_queue=self._inp.stt_task_queue,
                    confirm_timeout_s=self._inp.confirm_timeout_s,
                    text=self._reply_text(),
                    channel="sms",
                ),
                id=child_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary="Réponse SMS à un appel manqué",
            )
        except WorkflowAlreadyStartedError:
            self._history.note("demande par SMS déjà transmise")
        self._handed_over_to = child_id
        self._forwarded = len(self._replies)
        self._callback_pending = False
        workflow.upsert_memo({MEMO_HANDED_OVER_TO: child_id})
        self._status = MissedCallStatus.HANDED_OVER.value
        # The text channel publishes the phone key itself once it texts the caller; later
        # replies that still reach this case are forwarded to it.
        self._queue.leave(self._status, SA_SMS_PHONE_KEY.value_unset())
        self._history.note(f"demande transmise par SMS à {child_id}")

    async def _callback(self, why: str) -> None:
        """A callback task, visible to agents from the next opening of the call centre."""
        self._callback_pending = True
        self._callback_why = why
        self._history.note(f"rappel nécessaire: {why}")
        self._refresh_details()
        opening = await self._opening()
        if not opening.open_now:
            self._scheduled_for = opening.next_opening
            await self._set_status(MissedCallStatus.CALLBACK_SCHEDULED)
            self._history.note(f"rappel visible à l'ouverture: {opening.next_opening_local}")
            # A durable timer until the opening; a usable reply or an agent closing the case
            # found by other means end it early.
            if await self._wait_for_usable_reply(
                datetime.fromisoformat(opening.next_opening), stop=lambda: self._resolved
            ):
                await self._hand_over()
                return
        if not self._resolved:
            self._visible_at = workflow.now().isoformat()
            self._status = MissedCallStatus.WAITING_AGENT.value
            self._queue.enter(self._status, CALLBACK_REASON)
            self._history.note("rappel dans la file des agents")
            if await self._wait_for_usable_reply(None, stop=lambda: self._resolved):
                await self._hand_over()
                return
        self._callback_pending = False
        self._status = MissedCallStatus.CLOSED.value
        self._queue.leave(self._status, SA_SMS_PHONE_KEY.value_unset())

    async def _linger(self) -> None:
        """Stay open `merge_window_s` after the last call: a new call from the number joins
        this case (no second SMS). Replies that still reach a handed-over case are forwarded
        to the text channel."""
        assert self._inp is not None
        window = timedelta(seconds=self._inp.merge_window_s)
        while True:
            await self._forward_replies()
            assert self._last_call_at is not None
            remaining = (self._last_call_at + window - workflow.now()).total_seconds()
            if remaining <= 0:
                break
            self._calls_seen = self._calls
            try:
                await workflow.wait_condition(
                    self._linger_wakes, timeout=timedelta(seconds=remaining)
                )
            except TimeoutError:
                break
        await self._forward_replies()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _linger_wakes(self) -> bool:
        return self._calls != self._calls_seen or self._unforwarded()

    def _unforwarded(self) -> bool:
        return bool(self._handed_over_to) and self._forwarded < len(self._replies)

    async def _forward_replies(self) -> None:
        while self._unforwarded():
            reply = self._replies[self._forwarded]
            self._forwarded += 1
            handle = workflow.get_external_workflow_handle(self._handed_over_to)
            try:
                await handle.signal(names.SMS_REPLY_SIGNAL, reply)
                self._history.note("réponse SMS transmise à la demande en cours")
            except Exception as err:  # the text channel has ended: the reply stays here
                self._history.note(f"réponse SMS non transmise: {type(err).__name__}")

    # ------------------------------------------------------------------ messages

    @workflow.signal(name=MISSED_CALL_SIGNAL)
    def missed_call(self, inp: MissedCallSignal) -> None:
        self._add_call(inp.call_id)

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        if inp.message_id:
            if inp.message_id in self._seen_messages:
                return
            self._seen_messages.add(inp.message_id)
        if len(self._replies) >= MAX_REPLIES:
            self._history.note("réponse SMS ignorée (trop de messages)")
            return
        self._replies.append(inp)
        self._history.note("réponse SMS reçue")
        if self._callback_pending:
            self._refresh_details()

    @workflow.update(name=names.RESOLVE_UPDATE)
    def resolve(self, inp: ResolveInput) -> ResolveResult:
        if inp.action == "no_answer":
            result = self._queue.no_answer(inp.agent_id)
            self._refresh_details()
            return result
        self._closed_reason = inp.comment.strip()
        self._resolved = True
        return self._queue.close(inp.agent_id, self._closed_reason)

    @resolve.validator
    def validate_resolve(self, inp: ResolveInput) -> None:
        problem = validate_callback_resolution(
            inp, pending=self._callback_pending and not self._resolved
        )
        if problem:
            raise ApplicationError(problem, type=CORRECTION_REJECTED)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> MissedCallState:
        return MissedCallState(
            call_ids=list(self._call_ids),
            status=self._status,
            line=self._line,
            caller_number=self._number,
            replies=[r.text for r in self._replies],
            visible_at=self._visible_at or self._scheduled_for,
            handed_over_to=self._handed_over_to,
            callback_attempts=self._queue.attempts,
            history=list(self._history.lines),
        )

    # ------------------------------------------------------------------ helpers

    def _add_call(self, call_id: str) -> None:
        # Signal-with-start delivers the first call twice (input and signal); a retried
        # webhook repeats a call id: each id counts once.
        if call_id in self._seen_calls:
            return
        self._seen_calls.add(call_id)
        self._calls += 1
        self._last_call_at = workflow.now()
        if len(self._call_ids) < MAX_CALL_IDS:
            self._call_ids.append(call_id)
            workflow.upsert_search_attributes([SA_CALLS.value_set(list(self._call_ids))])
        if self._calls > 1:
            self._history.note(f"nouvel appel manqué du même numéro ({self._calls} au total)")
            if self._callback_pending:
                self._refresh_details()

    def _reply_text(self) -> str:
        return "\n".join(r.text.strip() for r in self._replies if r.text.strip())

    def _refresh_details(self) -> None:
        booking = self._booking
        workflow.set_current_details(
            callback_details_markdown(
                caller_number=self._number,
                line=self._line,
                calls=self._calls,
                why=self._callback_why,
                replies=[r.text for r in self._replies],
                booking_label=(
                    f"{date_label(booking.pickup_date)} (réf. {booking.reference})"
                    if booking is not None and booking.found
                    else ""
                ),
                attempts=self._queue.attempts,
            )
        )

    async def _set_status(self, status: MissedCallStatus) -> None:
        if self._status == status.value:
            return
        self._status = status.value
        workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])

    def _result(self) -> MissedCallResult:
        booking = self._booking
        return MissedCallResult(
            call_ids=list(self._call_ids),
            status=self._status,
            line=self._line,
            reason=self._closed_reason,
            handed_over_to=self._handed_over_to,
            visible_at=self._visible_at,
            callback_attempts=self._queue.attempts,
            booking_reference=booking.reference
            if booking is not None and booking.found and self._status == MissedCallStatus.ANSWERED
            else "",
        )
