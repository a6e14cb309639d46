"""BookingFollowUpWorkflow: the life of one booking after its confirmation SMS.

Started by VoicemailWorkflow once the confirmation of a new booking is sent (id
`booking-{call_id}`, the call that made it; a later call for the same address gets the existing
booking and starts none). Until the evening before the pickup it:
- checks with the provider that the confirmation reached the phone; an undelivered one puts
  a callback task in the agent queue (the caller does not know their date);
- listens to the caller's replies (it takes over the number's route at start, which is how the
  SMS router finds it, and publishes the hashed number as `SmsPhoneKey`): "ANNULER" cancels
  the booking, frees the place and confirms by SMS; anything else is handed to a person in
  its own case, and the booking stays;
- sends the reminder on the eve at the calendar's time (18:00 Europe/Paris by default; the
  booking activity computes the instant with the time zone rules, so DST is handled there),
  unless the booking was cancelled meanwhile by anyone;
- takes an agent's changes (`change_booking` Update: move, cancel, items; workflows/
  booking_desk.py): the caller gets the SMS of the change, a move re-plans the reminder.

Bounded, however chatty the caller (issue 18): one agent task takes the caller's further
replies while it is open (up to MAX_REPLIES_PER_TASK, the rest counted), ANNULER is heard first
however many SMS come with it, and the case continues as new when its history gets long,
carrying its whole state (`FollowUpCase`, domain/case_carry.py: new handlers add their fields
there) until the pickup date. Cases begun before that change keep their old way
(`workflow.patched(FOLLOW_UP_BOUNDED)`).

Orchestration only: activities are called by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError, WorkflowAlreadyStartedError

from workflows import calls
from workflows.booking_desk import BookingDesk
from workflows.bounded import BoundedHistory, history_is_long
from workflows.common import (
    PATIENT_RETRY,
    SA_SMS_PHONE_KEY,
    SA_STATUS,
    SHORT_RETRY,
    error_message,
)

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.booking_changes import BookingChangeInput, BookingChangeResult
    from domain.booking_models import (
        BookingStatusInput,
        CancelBookingInput,
        CancelStatus,
        FollowUpInput,
        FollowUpResult,
        FollowUpState,
        StoredStatus,
    )
    from domain.case_carry import MAX_PENDING_REPLIES, FollowUpCase, remember
    from domain.labels import date_label
    from domain.models import (
        EscalationReason,
        NotifyResult,
        SmsReplyInput,
        Status,
    )
    from domain.sms_models import (
        IncomingSmsInput,
        SmsDeliveryInput,
        SmsDeliveryStatus,
        SmsListenInput,
    )


# When to ask the provider whether the confirmation reached the phone (seconds after it was
# sent). Most receipts come within a minute; a handset switched off for a day still gets the
# message when it comes back, hence the late last check.
DELIVERY_CHECKS_S = (60, 5 * 60, 30 * 60, 3 * 3600, 24 * 3600)
# workflow.patched id of the bounded follow-up: one agent task for the caller's replies,
# ANNULER first, continue-as-new. Cases begun before it replay (and go on) the old way.
FOLLOW_UP_BOUNDED = "follow-up-bounded"
# workflow.patched id of the reply route (activities/messaging/routes.py): the case that sent
# the confirmation has the number's route, this one takes it over at start. Cases begun before
# it are found by the router's visibility fallback.
FOLLOW_UP_SMS_ROUTE = "follow-up-sms-route"
# What one agent task takes of the caller's replies; the rest are counted in the case.
MAX_REPLIES_PER_TASK = 20
# Replies noted one by one in the case's history; past this, counted only.
NOTED_REPLIES = 20


def is_cancel_request(text: str) -> bool:
    """ "ANNULER", "annuler svp", "Annulation", "annulé": the first word decides, so that a
    sentence that merely mentions cancelling ("je ne veux pas annuler mais…") goes to a
    person instead."""
    words = text.strip().split()
    if not words:
        return False
    first = words[0].strip(".!?,;:").upper().replace("É", "E")
    return first in {"ANNULER", "ANNULATION", "ANNULE", "ANNULEZ"}


@workflow.defn(name=names.BOOKING_FOLLOW_UP_WORKFLOW)
class BookingFollowUpWorkflow:
    @workflow.init
    def __init__(self, inp: FollowUpInput) -> None:
        # From the input, before any signal of the first activation is handled: a run that
        # continued as new takes up its state at once.
        self._inp = inp
        self._s = inp.carried or FollowUpCase()
        self._history = BoundedHistory(self._s.log)
        # An agent's changes to the booking, in one object of their own (its state carried).
        self._desk = BookingDesk(self._history, self._s.desk)
        # Whether this case may continue as new: asked once its history is long (None until).
        self._may_continue: bool | None = None

    @workflow.run
    async def run(self, inp: FollowUpInput) -> FollowUpResult:
        s = self._s
        if inp.carried is None:
            workflow.upsert_search_attributes([SA_STATUS.value_set(Status.BOOKED.value)])
            if inp.phone_key:
                workflow.upsert_search_attributes([SA_SMS_PHONE_KEY.value_set([inp.phone_key])])
            # The timeline counts from the start, before reading the booking for the agents.
            self._plan(inp)
            if inp.phone_key and workflow.patched(FOLLOW_UP_SMS_ROUTE):
                # The caller's replies (ANNULER) come here from now on, not to the parent that
                # sent the confirmation (it ends now; its route goes when met, or with the purge).
                await calls.LISTEN_FOR_SMS_REPLIES(SmsListenInput(inp.phone_key))
            await self._desk.publish(inp)
        reminder_at = self._desk.reminder_after_move() or (
            datetime.fromisoformat(inp.reminder_at) if inp.reminder_at else None
        )
        listen_until = datetime.fromisoformat(s.listen_until)

        moves = s.desk.moves
        # An agent's cancellation ends the loop at once; the Update finishes (the caller's SMS)
        # before the result is given.
        while s.status == StoredStatus.BOOKED and not s.desk.cancelled:
            if s.desk.moves != moves:
                # An agent moved the booking: the new day's reminder, and ANNULER heard until
                # that evening.
                moves = s.desk.moves
                reminder_at = self._desk.reminder_after_move()
                s.reminded = False
                if reminder_at is not None:
                    listen_until = reminder_at + timedelta(seconds=inp.listen_after_reminder_s)
                    s.listen_until = listen_until.isoformat()
                continue
            if s.cancel_requested and (not s.to_forward or self._bounded()):
                await self._cancel()
                continue
            if s.to_forward:
                await self._forward_replies()
                continue
            now = workflow.now()
            if s.checks and datetime.fromisoformat(s.checks[0]) <= now:
                s.checks.pop(0)
                await self._check_delivery(final=not s.checks)
                if s.delivery != SmsDeliveryStatus.PENDING:
                    s.checks = []
                continue
            if reminder_at is not None and not s.reminded and reminder_at <= now:
                await self._send_reminder()
                continue
            due = [listen_until, *(datetime.fromisoformat(c) for c in s.checks[:1])]
            if reminder_at is not None and not s.reminded:
                due.append(reminder_at)
            wake = min(due)
            if wake <= now:
                break
            if self._long():
                if self._may_continue is None:
                    self._may_continue = self._bounded()
                if self._may_continue:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    s.run += 1
                    workflow.continue_as_new(dataclasses.replace(inp, carried=s))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda seen=moves: (  # type: ignore[misc]
                        s.cancel_requested
                        or bool(s.to_forward)
                        or self._long()
                        or s.desk.moves != seen
                        or s.desk.cancelled
                    ),
                    timeout=wake - now,
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        # Replies that came in with the cancellation or at the very end still reach a person.
        await self._forward_replies()
        self._history.note("suivi de la réservation terminé")
        return FollowUpResult(
            reference=inp.reference,
            status=s.status,
            delivery=s.delivery,
            reminded=s.reminded,
            forwarded_to_agent=s.forwarded,
        )

    def _plan(self, inp: FollowUpInput) -> None:
        """The first run's timeline: when to check the delivery, how long to listen."""
        s = self._s
        started = workflow.now()
        checks = (
            [
                started + timedelta(seconds=sec)
                for sec in sorted(inp.delivery_checks_s or DELIVERY_CHECKS_S)
            ]
            if inp.sms_message_id
            else []
        )
        if not checks:
            s.delivery = "unknown"
        s.checks = [c.isoformat() for c in checks]
        reminder_at = datetime.fromisoformat(inp.reminder_at) if inp.reminder_at else None
        # The caller may still answer the reminder with ANNULER that evening; without a
        # reminder the case ends once the delivery is known.
        if reminder_at is not None:
            listen_until = reminder_at + timedelta(seconds=inp.listen_after_reminder_s)
        else:
            listen_until = checks[-1] if checks else started
        s.listen_until = listen_until.isoformat()

    def _bounded(self) -> bool:
        return workflow.patched(FOLLOW_UP_BOUNDED)

    def _long(self) -> bool:
        """The history is long and this case may continue as new (read-only: fit for a wait
        condition, which it wakes: duplicates and dropped SMS wake nothing else)."""
        return self._may_continue is not False and history_is_long(self._inp.history_limit)

    # ------------------------------------------------------------------ steps

    async def _check_delivery(self, final: bool) -> None:
        assert self._inp is not None
        try:
            report = await calls.CHECK_SMS_DELIVERY(
                SmsDeliveryInput(message_id=self._inp.sms_message_id, backend=self._inp.sms_backend)
            )
        except ActivityError as err:
            # The provider will not say (message unknown to it): nothing proves a failure.
            self._history.note(f"accusé de réception indisponible : {error_message(err)}")
            self._s.delivery = "unknown"
            return
        if report.status == SmsDeliveryStatus.DELIVERED:
            self._s.delivery = report.status
            self._history.note("SMS de confirmation distribué")
        elif report.status == SmsDeliveryStatus.FAILED:
            self._s.delivery = report.status
            self._history.note(f"SMS de confirmation non distribué ({report.detail})")
            # The caller does not know their date: a person calls them back. The booking
            # stays; the callback task says which one.
            await self._agent_task(
                EscalationReason.SMS_UNDELIVERED,
                "Le SMS de confirmation n'a pas été distribué "
                f"({report.detail or 'échec opérateur'}) : rappelez l'appelant pour lui donner "
                "sa date.",
                SmsReplyInput(text="", sender=self._inp.to),
                key="undelivered",
            )
        elif final:
            self._s.delivery = "unknown"
            self._history.note("pas d'accusé de réception de l'opérateur")

    async def _send_reminder(self) -> None:
        assert self._inp is not None
        self._s.reminded = True
        status = await calls.BOOKING_STATUS(BookingStatusInput(reference=self._inp.reference))
        if not status.found or status.status != StoredStatus.BOOKED:
            # Cancelled elsewhere (an agent, another case): nothing to remind.
            self._history.note(f"pas de rappel : réservation {status.status or 'introuvable'}")
            if status.status == StoredStatus.CANCELLED:
                self._s.status = StoredStatus.CANCELLED.value
            return
        try:
            await self._send_sms(
                "reminder", "reminder", self._context(status.pickup_date), SHORT_RETRY
            )
            self._history.note("rappel de la veille envoyé")
        except ActivityError as err:
            # A missed reminder does not undo the booking: the confirmation gave the date.
            self._history.note(f"rappel de la veille impossible : {error_message(err)}")

    async def _cancel(self) -> None:
        assert self._inp is not None
        self._s.cancel_requested = False
        result = await calls.CANCEL_BOOKING(
            CancelBookingInput(
                reference=self._inp.reference,
                actor="caller_sms",
                reason="réponse ANNULER",
                request_id=f"{workflow.info().workflow_id}:cancel",
            )
        )
        if result.status in (CancelStatus.CANCELLED, CancelStatus.ALREADY_CANCELLED):
            self._s.status = StoredStatus.CANCELLED.value
            self._history.note(f"réservation annulée par SMS ({result.status})")
            workflow.upsert_search_attributes([SA_STATUS.value_set(Status.CANCELLED.value)])
            try:
                await self._send_sms(
                    "cancelled", "cancelled", self._context(result.pickup_date), PATIENT_RETRY
                )
            except ActivityError as err:
                self._history.note(f"confirmation d'annulation impossible : {error_message(err)}")
            return
        # Too late (the round is planned) or unknown: a person arranges it with the crew.
        self._history.note(f"annulation par SMS refusée ({result.status})")
        await self._agent_task(
            EscalationReason.CANCEL_REQUEST,
            f"L'appelant demande l'annulation par SMS mais le planning la refuse "
            f"({result.status}, limite {result.deadline or '?'}) : voyez avec l'équipe.",
            SmsReplyInput(text="ANNULER", sender=self._inp.to),
            key="cancel",
        )

    async def _forward_replies(self) -> None:
        """A reply that is neither ANNULER nor expected: a person reads it, in its own case,
        and this booking keeps its reminder."""
        s = self._s
        if not self._bounded():
            # Cases begun before FOLLOW_UP_BOUNDED: one agent task per reply, as then.
            while s.to_forward:
                reply = s.to_forward.pop(0)
                await self._agent_task(
                    EscalationReason.SMS_REPLY,
                    "Réponse de l'appelant à propos de sa réservation.",
                    reply,
                    key=reply.message_id or f"reply-{s.forwarded + 1}",
                )
            return
        while s.to_forward:
            await self._forward(s.to_forward.pop(0))

    async def _forward(self, reply: SmsReplyInput) -> None:
        """To the open agent task if there is one (a flood makes one task, not one per SMS),
        else to a new one."""
        s = self._s
        if s.agent_task and s.agent_task_replies >= MAX_REPLIES_PER_TASK:
            s.replies_dropped += 1  # the task already holds enough to call the caller back
            return
        if s.agent_task:
            task = workflow.get_external_workflow_handle(s.agent_task)
            try:
                await task.signal(names.SMS_REPLY_SIGNAL, reply)
                s.agent_task_replies += 1
                s.forwarded += 1
                return
            except FailureError:
                s.agent_task = ""  # closed by an agent meanwhile: the reply opens a new one
        task_id = await self._agent_task(
            EscalationReason.SMS_REPLY,
            "Réponse de l'appelant à propos de sa réservation.",
            reply,
            key=reply.message_id or f"reply-{s.forwarded + 1}",
        )
        s.agent_task, s.agent_task_replies = task_id, 1

    async def _agent_task(
        self, reason: EscalationReason, note: str, message: SmsReplyInput, key: str
    ) -> str:
        """Open an agent task (an IncomingSmsWorkflow, outliving this case); its id."""
        assert self._inp is not None
        self._s.forwarded += 1
        # Ids are stored in clear: the call id, never the caller's reference.
        task_id = names.incoming_sms_workflow_id(f"{self._inp.call_id}-{key}")
        try:
            await workflow.start_child_workflow(
                names.INCOMING_SMS_WORKFLOW,
                IncomingSmsInput(
                    message_id=message.message_id or f"{self._inp.call_id}-{key}",
                    sender=message.sender or self._inp.to,
                    text=message.text,
                    received_at=message.received_at,
                    # No phone key: the caller's next SMS must reach this booking (ANNULER),
                    # not the agent's task.
                    phone_key="",
                    reason=reason.value,
                    note=f"Réservation {self._inp.reference} du "
                    f"{date_label(self._inp.pickup_date)}. {note}",
                ),
                id=task_id,
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
            self._history.note(f"tâche agent ouverte ({reason.value})")
        except WorkflowAlreadyStartedError:
            pass
        return task_id

    async def _send_sms(
        self, purpose: str, template: str, context: dict[str, str], retry: RetryPolicy
    ) -> NotifyResult:
        assert self._inp is not None
        return await calls.send_sms(purpose, self._inp.to, template, context, retry=retry)

    def _context(self, pickup_date: str) -> dict[str, str]:
        assert self._inp is not None
        return {
            "reference": self._inp.reference,
            "pickup_date_label": date_label(pickup_date or self._inp.pickup_date),
            "address_label": self._inp.address_label,
        }

    # ------------------------------------------------------------------ handlers

    @workflow.update(name=names.CHANGE_BOOKING_UPDATE)
    async def change_booking(self, inp: BookingChangeInput) -> BookingChangeResult:
        assert self._inp is not None
        result = await self._desk.apply(self._inp, inp)
        if self._s.desk.cancelled and self._s.status == StoredStatus.BOOKED:
            self._s.status = StoredStatus.CANCELLED.value
            workflow.upsert_search_attributes([SA_STATUS.value_set(Status.CANCELLED.value)])
        return result

    @change_booking.validator
    def validate_change_booking(self, inp: BookingChangeInput) -> None:
        self._desk.check(inp, self._s.status)

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        s = self._s
        if inp.message_id:
            if inp.message_id in s.seen_message_ids:
                return  # the router re-delivered a message after a crash
            remember(s.seen_message_ids, inp.message_id)
        s.replies += 1
        cancel = s.status == StoredStatus.BOOKED and is_cancel_request(inp.text)
        if cancel or s.replies <= NOTED_REPLIES:
            self._history.note("réponse SMS reçue")
        elif s.replies == NOTED_REPLIES + 1:
            self._history.note("réponses SMS suivantes comptées, plus notées une à une")
        if cancel:
            s.cancel_requested = True
        elif len(s.to_forward) >= MAX_PENDING_REPLIES:
            s.replies_dropped += 1  # a flood: the text stays in this case's history
        else:
            s.to_forward.append(inp)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> FollowUpState:
        s = self._s
        return FollowUpState(
            reference=self._inp.reference,
            status=s.status,
            delivery=s.delivery,
            reminded=s.reminded,
            history=self._history.view(),
            replies=s.replies,
            forwarded_to_agent=s.forwarded,
        )
