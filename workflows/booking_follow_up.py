"""BookingFollowUpWorkflow: the life of one booking after its confirmation SMS.

Started by VoicemailWorkflow once the confirmation of a new booking is sent (id
`booking-{call_id}`, the call that made it; a later call for the same address gets the existing
booking and starts none). Until the evening before the pickup it:
- checks with the provider that the confirmation reached the phone; an undelivered one puts
  a callback task in the agent queue (the caller does not know their date);
- listens to the caller's replies (it publishes the hashed number as `SmsPhoneKey`, which is
  how the SMS router finds it): "ANNULER" cancels the booking, frees the place and confirms
  by SMS; anything else is handed to a person in its own case, and the booking stays;
- sends the reminder on the eve at the calendar's time (18:00 Europe/Paris by default; the
  booking activity computes the instant with the time zone rules, so DST is handled there),
  unless the booking was cancelled meanwhile by anyone.

Orchestration only: activities are called by name.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

from workflows import calls
from workflows.agent_queue import CaseHistory
from workflows.common import (
    PATIENT_RETRY,
    SA_SMS_PHONE_KEY,
    SA_STATUS,
    SHORT_RETRY,
    error_message,
)

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.booking_models import (
        BookingStatusInput,
        CancelBookingInput,
        CancelStatus,
        FollowUpInput,
        FollowUpResult,
        FollowUpState,
        StoredStatus,
    )
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
    )


# When to ask the provider whether the confirmation reached the phone (seconds after it was
# sent). Most receipts come within a minute; a handset switched off for a day still gets the
# message when it comes back, hence the late last check.
DELIVERY_CHECKS_S = (60, 5 * 60, 30 * 60, 3 * 3600, 24 * 3600)


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
    def __init__(self) -> None:
        self._inp: FollowUpInput | None = None
        self._status = StoredStatus.BOOKED.value
        self._delivery = SmsDeliveryStatus.PENDING.value
        self._reminded = False
        self._seen: set[str] = set()
        self._cancel_requested = False
        self._to_forward: list[SmsReplyInput] = []
        self._forwarded = 0
        self._history = CaseHistory()

    @workflow.run
    async def run(self, inp: FollowUpInput) -> FollowUpResult:
        self._inp = inp
        workflow.upsert_search_attributes([SA_STATUS.value_set(Status.BOOKED.value)])
        if inp.phone_key:
            workflow.upsert_search_attributes([SA_SMS_PHONE_KEY.value_set([inp.phone_key])])

        started = workflow.now()
        checks = (
            [
                started + timedelta(seconds=s)
                for s in sorted(inp.delivery_checks_s or DELIVERY_CHECKS_S)
            ]
            if inp.sms_message_id
            else []
        )
        if not checks:
            self._delivery = "unknown"
        reminder_at = datetime.fromisoformat(inp.reminder_at) if inp.reminder_at else None
        # The caller may still answer the reminder with ANNULER that evening; without a
        # reminder the case ends once the delivery is known.
        if reminder_at is not None:
            listen_until = reminder_at + timedelta(seconds=inp.listen_after_reminder_s)
        else:
            listen_until = checks[-1] if checks else started

        while self._status == StoredStatus.BOOKED:
            if self._to_forward:
                await self._forward_replies()
                continue
            if self._cancel_requested:
                await self._cancel()
                continue
            now = workflow.now()
            if checks and checks[0] <= now:
                checks.pop(0)
                await self._check_delivery(final=not checks)
                if self._delivery != SmsDeliveryStatus.PENDING:
                    checks = []
                continue
            if reminder_at is not None and not self._reminded and reminder_at <= now:
                await self._send_reminder()
                continue
            due = [listen_until, *checks[:1]]
            if reminder_at is not None and not self._reminded:
                due.append(reminder_at)
            wake = min(due)
            if wake <= now:
                break
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._cancel_requested or bool(self._to_forward),
                    timeout=wake - now,
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        # Replies that came in with the cancellation or at the very end still reach a person.
        await self._forward_replies()
        self._history.note("suivi de la réservation terminé")
        return FollowUpResult(
            reference=inp.reference,
            status=self._status,
            delivery=self._delivery,
            reminded=self._reminded,
            forwarded_to_agent=self._forwarded,
        )

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
            self._delivery = "unknown"
            return
        if report.status == SmsDeliveryStatus.DELIVERED:
            self._delivery = report.status
            self._history.note("SMS de confirmation distribué")
        elif report.status == SmsDeliveryStatus.FAILED:
            self._delivery = report.status
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
            self._delivery = "unknown"
            self._history.note("pas d'accusé de réception de l'opérateur")

    async def _send_reminder(self) -> None:
        assert self._inp is not None
        self._reminded = True
        status = await calls.BOOKING_STATUS(BookingStatusInput(reference=self._inp.reference))
        if not status.found or status.status != StoredStatus.BOOKED:
            # Cancelled elsewhere (an agent, another case): nothing to remind.
            self._history.note(f"pas de rappel : réservation {status.status or 'introuvable'}")
            if status.status == StoredStatus.CANCELLED:
                self._status = StoredStatus.CANCELLED.value
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
        self._cancel_requested = False
        result = await calls.CANCEL_BOOKING(
            CancelBookingInput(
                reference=self._inp.reference,
                actor="caller_sms",
                reason="réponse ANNULER",
                request_id=f"{workflow.info().workflow_id}:cancel",
            )
        )
        if result.status in (CancelStatus.CANCELLED, CancelStatus.ALREADY_CANCELLED):
            self._status = StoredStatus.CANCELLED.value
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
        while self._to_forward:
            reply = self._to_forward.pop(0)
            await self._agent_task(
                EscalationReason.SMS_REPLY,
                "Réponse de l'appelant à propos de sa réservation.",
                reply,
                key=reply.message_id or f"reply-{self._forwarded + 1}",
            )

    async def _agent_task(
        self, reason: EscalationReason, note: str, message: SmsReplyInput, key: str
    ) -> None:
        assert self._inp is not None
        self._forwarded += 1
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
                # Ids are stored in clear: the call id, never the caller's reference.
                id=names.incoming_sms_workflow_id(f"{self._inp.call_id}-{key}"),
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
            self._history.note(f"tâche agent ouverte ({reason.value})")
        except WorkflowAlreadyStartedError:
            pass

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

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        if inp.message_id:
            if inp.message_id in self._seen:
                return  # the router re-delivered a message after a crash
            self._seen.add(inp.message_id)
        self._history.note("réponse SMS reçue")
        if self._status == StoredStatus.BOOKED and is_cancel_request(inp.text):
            self._cancel_requested = True
        else:
            self._to_forward.append(inp)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> FollowUpState:
        return FollowUpState(
            reference=self._inp.reference if self._inp else "",
            status=self._status,
            delivery=self._delivery,
            reminded=self._reminded,
            history=list(self._history.lines),
        )
