"""The steps of a missed-call case (MissedCallWorkflow): the activities it calls (upcoming
booking, opening hours, SMS, understanding a reply) and the hand-over of a usable reply to a
VoicemailWorkflow on the text channel. Deterministic, no I/O; the state is the case's
(`MissedCallCase`, carried across continue-as-new)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows import calls
from workflows.agent_queue import AgentQueue, CaseHistory
from workflows.common import SA_SMS_PHONE_KEY, SA_STATUS, error_message

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.booking_models import CallCentreInput, CallCentreOpening
    from domain.case_carry import MissedCallCase
    from domain.labels import date_label
    from domain.missed_call import reply_is_usable
    from domain.missed_call_models import (
        MissedCallInput,
        MissedCallStatus,
        UpcomingBookingInput,
        UpcomingBookingResult,
        sms_channel_call_id,
    )
    from domain.models import NotifyResult, UnderstandInput, VoicemailInput

# Memo key naming the VoicemailWorkflow that took the reply over (read by GET /calls/{id}).
MEMO_HANDED_OVER_TO = "handed_over_to"


class MissedCallSteps:
    def __init__(
        self, inp: MissedCallInput, s: MissedCallCase, history: CaseHistory, queue: AgentQueue
    ) -> None:
        self._inp = inp
        self._s = s
        self._history = history
        self._queue = queue

    async def find_booking(self) -> UpcomingBookingResult:
        try:
            return await calls.FIND_UPCOMING_BOOKING(
                UpcomingBookingInput(caller_number=self._s.number, at=workflow.now().isoformat())
            )
        except ActivityError as err:
            # Not knowing the booking only costs an invitation the caller may not need.
            self._history.note(f"recherche d'enlèvement prévu impossible: {error_message(err)}")
            return UpcomingBookingResult(found=False)

    async def opening(self) -> CallCentreOpening:
        return await calls.CALL_CENTRE_OPENING(CallCentreInput(at=workflow.now().isoformat()))

    async def send_booking_status(self, booking: UpcomingBookingResult) -> bool:
        context = {
            "reference": booking.reference,
            "pickup_date_label": date_label(booking.pickup_date),
        }
        try:
            # The replies to it (ANNULER) belong to the booking's follow-up, not to this case.
            await self.send_sms(
                "booking-status", "missed_call_booking_status", context, listen=False
            )
        except ActivityError as err:
            self._history.note(f"SMS de statut impossible: {error_message(err)}")
            return False
        self._history.note(f"enlèvement déjà prévu le {booking.pickup_date}: statut envoyé par SMS")
        return True

    async def invite(self) -> bool:
        try:
            sent = await self.send_sms("invite", "missed_call_invite", {}, opens_exchange=True)
        except ActivityError as err:
            self._history.note(f"SMS d'invitation impossible: {error_message(err)}")
            return False
        updates: list[SearchAttributeUpdate] = [
            SA_STATUS.value_set(MissedCallStatus.WAITING_REPLY.value)
        ]
        if sent.phone_key:
            # The caller's reply finds this case through the keyed hash of the number.
            updates.append(SA_SMS_PHONE_KEY.value_set([sent.phone_key]))
            self._s.route_key = sent.phone_key
        self._s.status = MissedCallStatus.WAITING_REPLY.value
        workflow.upsert_search_attributes(updates)
        self._history.note("SMS d'invitation envoyé, en attente de la réponse")
        return True

    async def send_sms(
        self,
        purpose: str,
        template: str,
        context: dict[str, str],
        *,
        listen: bool = True,
        opens_exchange: bool = False,
    ) -> NotifyResult:
        return await calls.send_sms(
            f"{self._inp.call_id}:{purpose}",
            self._s.number,
            template,
            dict(context),
            listen=listen,
            opens_exchange=opens_exchange,
        )

    async def replies_usable(self) -> bool:
        try:
            understanding = await calls.UNDERSTAND(
                UnderstandInput(text=self.reply_text(), caller_number=self._s.number)
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

    async def hand_over(self) -> None:
        """The replies go to a VoicemailWorkflow on the text channel, which outlives this
        case (ABANDON): it books, answers or escalates like any voicemail."""
        s = self._s
        call_id = sms_channel_call_id(self._inp.call_id)
        child_id = names.voicemail_workflow_id(call_id)
        try:
            await workflow.start_child_workflow(
                names.VOICEMAIL_WORKFLOW,
                VoicemailInput(
                    call_id=call_id,
                    audio_path="",
                    caller_number=s.number,
                    received_at=workflow.now().isoformat(),
                    stt_task_queue=self._inp.stt_task_queue,
                    confirm_timeout_s=self._inp.confirm_timeout_s,
                    text=self.reply_text(),
                    channel="sms",
                ),
                id=child_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary="Réponse SMS à un appel manqué",
            )
        except WorkflowAlreadyStartedError:
            self._history.note("demande par SMS déjà transmise")
        s.handed_over_to = child_id
        s.forwarded = len(s.replies)
        s.callback_pending = False
        workflow.upsert_memo({MEMO_HANDED_OVER_TO: child_id})
        s.status = MissedCallStatus.HANDED_OVER.value
        # The text channel publishes the phone key itself once it texts the caller; later
        # replies that still reach this case are forwarded to it.
        self._queue.leave(s.status, SA_SMS_PHONE_KEY.value_unset())
        self._history.note(f"demande transmise par SMS à {child_id}")

    def unforwarded(self) -> bool:
        s = self._s
        return bool(s.handed_over_to) and s.forwarded < len(s.replies)

    async def forward_replies(self) -> None:
        s = self._s
        while self.unforwarded():
            reply = s.replies[s.forwarded]
            s.forwarded += 1
            handle = workflow.get_external_workflow_handle(s.handed_over_to)
            try:
                await handle.signal(names.SMS_REPLY_SIGNAL, reply)
                self._history.note("réponse SMS transmise à la demande en cours")
            except Exception as err:  # the text channel has ended: the reply stays here
                self._history.note(f"réponse SMS non transmise: {type(err).__name__}")

    def reply_text(self) -> str:
        return "\n".join(r.text.strip() for r in self._s.replies if r.text.strip())
