"""VoicemailWorkflow: voicemail -> transcript -> request -> address + sector -> booking -> SMS.

Orchestration only. Any step that cannot conclude parks the case in the agent queue (search
attributes `NeedsAgent = true`, `EscalationReason`) and waits for a `resolve` Update; the
workflow then resumes at the step that failed. Activities are called by name
(workflows/calls.py) so that no I/O module is imported into the workflow sandbox; the
understanding and address steps are the pipeline shared with the evaluation
(domain/pipeline.py).

After the confirmation, the booking's own life (delivery report, ANNULER, eve reminder) is a
child workflow, `booking-{call_id}`: this case ends once the caller has their answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import calls, voicemail_resolve
from workflows.agent_queue import (
    Acknowledgement,
    AgentQueue,
    CaseHistory,
    ClaimableCase,
)
from workflows.common import (
    SA_SECTOR,
    SA_SMS_PHONE_KEY,
    SA_STATUS,
    error_message,
    start_booking_follow_up,
)
from workflows.pipeline_steps import ActivitySteps
from workflows.voicemail_address import ADDRESS_BY_SMS, settle_address
from workflows.voicemail_answers import answer_by_sms, final_sms
from workflows.voicemail_state import VoicemailState

with workflow.unsafe.imports_passed_through():
    from domain import errors, names
    from domain.agent import audio_markdown, case_details_markdown
    from domain.audio_links import AudioLinkInput, AudioLinkResult
    from domain.booking_models import FollowUpInput
    from domain.case_state import Escalation, Step, WorkflowState
    from domain.claims import ClaimInput
    from domain.decision import (
        DecisionKind,
        decide_request,
    )
    from domain.models import (
        AddressMatch,
        BookingStatus,
        BookInput,
        BookResult,
        EscalationReason,
        NotifyResult,
        ResolveInput,
        ResolveResult,
        SmsReplyInput,
        Status,
        TerritoryReferenceInput,
        TranscribeInput,
        TranscribeResult,
        VoicemailInput,
        VoicemailResult,
    )
    from domain.pipeline import understand_message

# workflow.patched id of the booking an agent's correction leads to being recorded with
# actor "agent:<id>" (before: "bot").
BOOKING_ACTOR_AGENT = "booking-actor-agent"
# workflow.patched id of the answer to a question asked beside a pickup request
# (Understanding.question), sent after the booking's SMS; before, it went unanswered.
BOOKING_AND_QUESTION = "booking-and-question"
# workflow.patched id of the audio votes sent first to the transcribing worker's own queue
# (pipeline_steps.py); before, to the shared STT queue.
STT_WORKER_QUEUE = "stt-worker-queue"
# workflow.patched id of a gone transcribing worker remembered: the next vote goes to the
# shared queue at once; before, it waited WORKER_QUEUE_WAIT on the gone worker's queue too.
STT_WORKER_GONE_REMEMBERED = "stt-worker-gone-remembered"


def _error_type(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) else err
    return cause.type or "" if isinstance(cause, ApplicationError) else ""


@workflow.defn(name=names.VOICEMAIL_WORKFLOW)
class VoicemailWorkflow(ClaimableCase):
    def __init__(self) -> None:
        self._s = VoicemailState()
        # The signed link to the message, fetched when an agent claims the case.
        self._audio_link: AudioLinkResult | None = None
        self._history = CaseHistory()
        self._queue = AgentQueue(self._history)
        self._ack = Acknowledgement(self._history, self._send_ack)

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: VoicemailInput) -> VoicemailResult:
        s = self._s
        s.inp = inp
        if inp.text.strip():
            # Text channel (an SMS reply): the words are given, there is nothing to hear.
            s.transcript = TranscribeResult(text=inp.text.strip(), segments=[], duration_s=0.0)
            s.step = Step.UNDERSTAND
        else:
            self._set_status(Status.TRANSCRIBING)
        while s.step != Step.DONE:
            escalation = await self._run_step(s.step)
            if escalation is not None:
                await self._wait_for_agent(escalation)
        return s.result()

    async def _run_step(self, step: str) -> Escalation | None:
        if step == Step.TRANSCRIBE:
            return await self._transcribe()
        if step == Step.UNDERSTAND:
            return await self._understand()
        if step == Step.GEOCODE:
            return await self._geocode()
        if step == Step.BOOK:
            return await self._book()
        if step == Step.NOTIFY:
            return await self._notify()
        if step == Step.ANSWER:
            return await self._answer_side_question()
        raise ApplicationError(f"unknown step {step}", non_retryable=True)

    # ------------------------------------------------------------------ steps

    async def _transcribe(self) -> Escalation | None:
        s = self._s
        assert s.inp is not None
        self._set_status(Status.TRANSCRIBING)
        if s.inp.audio_refused:
            # No recording to hear (only new cases have the field set: no running case's
            # commands change).
            return Escalation(
                EscalationReason.AUDIO_UNUSABLE,
                Step.TRANSCRIBE,
                f"enregistrement non récupéré : audio_url refusée ({s.inp.audio_refused}) ; "
                "rappeler l'appelant",
            )
        try:
            s.transcript = await calls.TRANSCRIBE(
                TranscribeInput(audio_path=s.inp.audio_path, call_id=s.inp.call_id),
                task_queue=s.stt_queue(),
            )
        except ActivityError as err:
            # Unusable audio and a transcription that keeps failing end the same way: a
            # person listens to the message. Never a retry loop.
            return Escalation(EscalationReason.AUDIO_UNUSABLE, Step.TRANSCRIBE, error_message(err))
        self._history.note(f"transcription: {s.transcript.duration_s:.1f} s d'audio")
        s.step = Step.UNDERSTAND
        return None

    def _steps(self) -> ActivitySteps:
        s = self._s
        here = s.transcript.worker_queue if s.transcript is not None else ""
        # A worker found gone is not waited for again (cases begun before that patch were).
        if here and s.stt_worker_gone and workflow.patched(STT_WORKER_GONE_REMEMBERED):
            here = ""
        # A transcript without a worker queue (older cases, the text channel) meets no marker.
        if here and workflow.patched(STT_WORKER_QUEUE):
            return ActivitySteps(s.stt_queue(), here, on_gone=s.worker_gone)
        return ActivitySteps(s.stt_queue())

    async def _understand(self) -> Escalation | None:
        s = self._s
        self._set_status(Status.UNDERSTANDING)
        u = s.understanding = await understand_message(
            self._steps(),
            s.message(),
            note=self._history.note,
            understood=s.understood,
        )
        self._history.note(f"compréhension: intention={u.intent}, confiance={u.confidence:.2f}")
        decision = decide_request(u, can_text=s.can_text())
        if decision is None:
            s.step = Step.GEOCODE
            return None
        if decision.kind == DecisionKind.ASK_ADDRESS:
            if workflow.patched(ADDRESS_BY_SMS):
                s.step = Step.GEOCODE  # which asks for it
                return None
            return Escalation(decision.reason, Step.UNDERSTAND, "aucune adresse entendue")
        if decision.kind == DecisionKind.REFUSE:
            # Only refused items: nothing to book, the SMS says where to take them.
            s.step = Step.NOTIFY
            return None
        if decision.kind == DecisionKind.ANSWER:
            return await self._answer_question()
        return Escalation(decision.reason, Step.UNDERSTAND, decision.detail)

    async def _answer_question(self) -> Escalation | None:
        """A question gets the FAQ's answer by SMS when retrieval is confident; otherwise a
        person answers, seeing the proposed entry."""
        s = self._s
        assert s.inp is not None and s.transcript is not None
        escalation, sms = await answer_by_sms(
            s.transcript.text,
            call_id=s.inp.call_id,
            step=Step.UNDERSTAND,
            key="faq",
            send=self._send_sms,
            note=self._history.note,
        )
        if escalation is not None:
            return escalation
        s.sms = sms
        self._set_status(Status.ANSWERED)
        s.step = Step.DONE
        return None

    async def _answer_side_question(self) -> Escalation | None:
        """The question asked beside the pickup request, answered after the booking's SMS
        (its own SMS: the confirmation is kept within 2 segments). Unsure: a person answers,
        the caller told so; the booking stands either way."""
        s = self._s
        assert s.inp is not None and s.understanding is not None
        escalation, _ = await answer_by_sms(
            s.understanding.question,
            call_id=s.inp.call_id,
            step=Step.ANSWER,
            key="side_answer",
            send=self._send_sms,
            note=self._history.note,
            with_booking=s.booked(),
        )
        if escalation is not None:
            return escalation
        self._set_status(Status.BOOKED if s.booked() else Status.REFUSED)
        s.step = Step.DONE
        return None

    async def _geocode(self) -> Escalation | None:
        self._set_status(Status.GEOCODING)
        settled = await settle_address(
            self._s,
            self._steps(),
            send=self._send_sms,
            set_status=self._set_status,
            note=self._history.note,
        )
        if isinstance(settled, Escalation):
            return settled
        match, why = settled
        self._accept_match(match, why)
        return None

    def _accept_match(self, match: AddressMatch, why: str) -> None:
        self._s.match = match
        self._history.note(f"{why} (score {match.score:.2f}), secteur {match.sector}")
        workflow.upsert_search_attributes([SA_SECTOR.value_set(match.sector)])
        self._s.step = Step.BOOK

    def _booking_actor(self) -> str:
        """Who the audit trail names for this booking: the agent whose correction led to it.
        Cases begun before this change book as the bot on replay (the marker decides)."""
        actor = self._s.agent_actor
        if actor and workflow.patched(BOOKING_ACTOR_AGENT):
            return actor
        return "bot"

    async def _book(self) -> Escalation | None:
        s = self._s
        assert s.inp is not None and s.understanding is not None
        assert s.match is not None
        self._set_status(Status.BOOKING)
        try:
            s.booking = await calls.BOOK(
                BookInput(
                    call_id=s.inp.call_id,
                    sector=s.match.sector,
                    address=s.match,
                    items=s.understanding.items,
                    caller_number=s.understanding.callback_number or s.inp.caller_number,
                    requested_on=s.inp.received_at,
                    actor=self._booking_actor(),
                )
            )
        except ActivityError as err:
            # Infrastructure errors are retried without limit, so what reaches here is a
            # permanent refusal of the request itself (unknown sector, invalid items).
            return Escalation(EscalationReason.BOOKING_REJECTED, Step.BOOK, error_message(err))
        status = s.booking.status
        if status in (BookingStatus.BOOKED, BookingStatus.ALREADY_BOOKED):
            self._history.note(f"réservation {status}: {s.booking.pickup_date}")
            s.step = Step.NOTIFY
            return None
        if status == BookingStatus.TOO_MANY_ITEMS:
            return Escalation(EscalationReason.TOO_MANY_ITEMS, Step.BOOK, s.booking.reason)
        return Escalation(EscalationReason.NO_SLOT, Step.BOOK, s.booking.reason)

    async def _notify(self) -> Escalation | None:
        s = self._s
        assert s.inp is not None and s.understanding is not None
        self._set_status(Status.NOTIFYING)
        booking = s.booking if s.booked() else None
        template, context = final_sms(s.understanding, s.match, booking)
        try:
            s.sms = await self._send_sms("confirmation", template, context)
        except ActivityError as err:
            reason = (
                EscalationReason.NO_MOBILE_NUMBER
                if _error_type(err) == errors.SMS_NOT_MOBILE
                else EscalationReason.SMS_FAILED
            )
            return Escalation(reason, Step.NOTIFY, error_message(err))
        self._history.note(f"SMS envoyé ({s.sms.segments} segment(s), {s.sms.encoding})")
        if booking is not None and booking.status == BookingStatus.BOOKED:
            # ALREADY_BOOKED: the call that made that booking already follows it.
            await self._start_follow_up(booking, s.sms)
        if booking is not None:
            self._set_status(Status.BOOKED)
        else:
            self._set_status(Status.REFUSED)
        s.step = Step.DONE
        if s.understanding.question and workflow.patched(BOOKING_AND_QUESTION):
            s.step = Step.ANSWER
        return None

    async def _start_follow_up(self, booking: BookResult, sms: NotifyResult) -> None:
        """Hand the booking to its own workflow (delivery report, ANNULER, eve reminder)."""
        s = self._s
        assert s.inp is not None
        await start_booking_follow_up(
            FollowUpInput(
                call_id=s.inp.call_id,
                reference=booking.reference,
                pickup_date=booking.pickup_date,
                to=s.recipient(),
                address_label=s.match.label() if s.match else "",
                reminder_at=booking.reminder_at,
                phone_key=sms.phone_key,
                sms_message_id=sms.message_id,
                sms_backend=sms.backend,
                delivery_checks_s=list(s.inp.delivery_checks_s),
                listen_after_reminder_s=s.inp.listen_after_reminder_s,
            ),
            self._history.note,
        )

    async def _send_sms(
        self,
        purpose: str,
        template: str,
        context: dict[str, Any],
        retry: RetryPolicy | None = None,
        within: timedelta | None = None,
    ) -> NotifyResult:
        """`within`: give up (ActivityError) when the SMS has not gone after that long, all
        attempts included; None: as long as `retry` allows (PATIENT_RETRY by default)."""
        result = await calls.send_sms(
            purpose, self._s.recipient(), template, context, retry=retry, within=within
        )
        self._listen_to(result.phone_key)
        return result

    async def _send_ack(self, template: str, retry: RetryPolicy) -> None:
        await self._send_sms("ack", template, {}, retry=retry)

    def _listen_to(self, phone_key: str) -> None:
        """Publish the (hashed) number texted, so that the caller's replies reach this case."""
        keys = self._s.phone_keys
        if phone_key and phone_key not in keys:
            keys.append(phone_key)
            workflow.upsert_search_attributes([SA_SMS_PHONE_KEY.value_set(list(keys))])

    # ------------------------------------------------------------------ agent queue

    async def _wait_for_agent(self, escalation: Escalation) -> None:
        s = self._s
        # Armed before the first await: an agent may resolve while the acknowledgement SMS
        # is still being sent, and that resolution must not be lost.
        s.resolved = False
        s.escalation = escalation
        s.escalations.append(escalation.reason)
        self._history.note(f"escalade: {escalation.reason}", private=escalation.detail)
        if s.reference is None:
            try:
                s.reference = await calls.TERRITORY_REFERENCE(TerritoryReferenceInput())
            except ActivityError as err:
                # The case must reach the agent regardless; without the reference the
                # Update handler's gazetteer lookup still guards the corrections.
                self._history.note(f"référentiel du territoire indisponible: {error_message(err)}")
        await self._ack.start(escalation.reason)
        self._audio_link = None
        self._show_details()
        # Visible in the agent queue only once the case is complete (reference loaded,
        # caller told, details written).
        s.status = Status.WAITING_AGENT.value
        self._queue.enter(s.status, escalation.reason)
        await workflow.wait_condition(lambda: s.resolved)
        self._ack.settle()
        s.escalation = None
        self._queue.leave(None)

    def _show_details(self) -> None:
        s = self._s
        assert s.inp is not None and s.escalation is not None
        self._queue.show(
            case_details_markdown(
                reason=s.escalation.reason,
                detail=s.escalation.detail,
                transcript=s.transcript.text if s.transcript else "",
                understanding=s.understanding,
                match=s.match,
                candidates=s.escalation.candidates,
                caller_number=s.inp.caller_number,
                audio=audio_markdown(self._audio_link) if s.has_audio() else "",
            )
        )

    async def _claimed(self, inp: ClaimInput) -> None:
        """The agent who takes the case gets a fresh link to the message."""
        s = self._s
        if s.inp is None or s.escalation is None or not s.has_audio():
            return
        try:
            self._audio_link = await calls.AUDIO_LINK(
                AudioLinkInput(call_id=s.inp.call_id, audio_path=s.inp.audio_path)
            )
        except ActivityError as err:
            self._audio_link = AudioLinkResult(
                available=False, reason=f"lien indisponible ({error_message(err)})"
            )
        if s.escalation is not None:  # still waiting: an agent may have resolved meanwhile
            self._show_details()

    @workflow.update(name=names.RESOLVE_UPDATE)
    async def resolve(self, inp: ResolveInput) -> ResolveResult:
        s = self._s
        assert s.escalation is not None
        if inp.action == "no_answer":
            # The case stays in the queue; the attempt is recorded for the next agent.
            return self._queue.no_answer(inp.agent_id)
        if inp.action == "close":
            s.closed_reason = inp.comment or "clos par un agent"
            result = self._queue.close(inp.agent_id, s.closed_reason)
            # A side question answered by the agent: the booking made before it stands.
            booked = s.escalation.step == Step.ANSWER and s.booked()
            s.step = Step.DONE
            s.status = (Status.BOOKED if booked else Status.CLOSED).value
            workflow.upsert_search_attributes([SA_STATUS.value_set(s.status)])
            s.resolved = True
            return result
        return await voicemail_resolve.resolve_case(s, inp, self._history.note)

    @resolve.validator
    def validate_resolve(self, inp: ResolveInput) -> None:
        self._queue.refuse_if_held(inp.agent_id)
        voicemail_resolve.validate(self._s, inp)

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        """A reply from the caller's phone (2-way SMS). While an address choice is pending,
        a number among those offered picks it; anything else is kept for the agent."""
        self._s.take_sms_reply(inp, self._history.note)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> WorkflowState:
        return self._s.query_result(self._history.lines)

    # ------------------------------------------------------------------ helpers

    def _set_status(self, status: Status) -> None:
        if self._s.status == status.value:
            return
        self._s.status = status.value
        workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])
