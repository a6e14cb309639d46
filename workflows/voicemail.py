"""VoicemailWorkflow: voicemail -> transcript -> request -> address + sector -> booking -> SMS.

Orchestration only. Any step that cannot conclude parks the case in the agent queue (search
attributes `NeedsAgent = true`, `EscalationReason`) and waits for a `resolve` Update; the
workflow then resumes at the step that failed. Activities are called by name so that no I/O
module is imported into the workflow sandbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.common import (
    PATIENT_RETRY,
    SA_SECTOR,
    SA_SMS_PHONE_KEY,
    SA_STATUS,
    SHORT_RETRY,
    agent_queue_entered,
    agent_queue_left,
    error_message,
    start_booking_follow_up,
)

with workflow.unsafe.imports_passed_through():
    from domain import errors, names
    from domain.address_models import (
        AddressCandidates,
        AddressScores,
        AddressScoringInput,
        AddressSearchInput,
        ItemRefineInput,
        ResolveAddressInput,
    )
    from domain.agent import canonical_item, case_details_markdown, validate_resolution
    from domain.booking_models import FollowUpInput
    from domain.decision import (
        BOOK_THRESHOLD,
        CONFIRM_THRESHOLD,
        DecisionKind,
        decide_address,
        decide_request,
    )
    from domain.disclosure import CORRECTION_REJECTED
    from domain.faq_models import FaqInput, FaqResult
    from domain.labels import date_label, items_label
    from domain.models import (
        AddressMatch,
        BookingStatus,
        BookInput,
        BookResult,
        EscalationReason,
        GeocodeInput,
        GeocodeResult,
        GeocodeStatus,
        Intent,
        ItemCount,
        NotifyInput,
        NotifyResult,
        ResolveInput,
        ResolveResult,
        SmsReplyInput,
        SpokenAddress,
        Status,
        TerritoryReference,
        TerritoryReferenceInput,
        TranscribeInput,
        TranscribeResult,
        Understanding,
        UnderstandInput,
        VoicemailInput,
        VoicemailResult,
    )
    from domain.phone import sms_recipient, to_e164


# Steps, in order. The workflow keeps the step that failed and resumes there. After the
# confirmation, the booking's own life (delivery report, ANNULER, eve reminder) is a child
# workflow, `booking-{call_id}`: this case ends once the caller has their answer.
TRANSCRIBE, UNDERSTAND, GEOCODE, BOOK, NOTIFY, DONE = (
    "transcribe",
    "understand",
    "geocode",
    "book",
    "notify",
    "done",
)
# How long a case waits for its acknowledgement SMS before entering the agent queue anyway.
ACK_WAIT = timedelta(seconds=60)
# workflow.patched id of that change: cases begun before it replay the old way.
ACK_IN_BACKGROUND = "ack-in-background"
# How long the address choice may try to reach the caller by SMS. Asking the caller only
# makes sense while the SMS can go now; during an SMS outage the case goes to a person (who
# can call back) instead of waiting for the provider with the caller's question unanswered.
CHOICE_SMS_WAIT = ACK_WAIT
# workflow.patched id of that bound: cases begun before it keep their unbounded retry.
CHOICE_SMS_BOUNDED = "choice-sms-bounded"


@dataclass
class Escalation:
    reason: str
    step: str
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


def _error_type(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) else err
    return cause.type or "" if isinstance(cause, ApplicationError) else ""


@workflow.defn(name=names.VOICEMAIL_WORKFLOW)
class VoicemailWorkflow:
    def __init__(self) -> None:
        self._inp: VoicemailInput | None = None
        self._status = Status.RECEIVED.value
        self._step = TRANSCRIBE
        self._transcript: TranscribeResult | None = None
        self._understanding: Understanding | None = None
        self._match: AddressMatch | None = None
        self._booking: BookResult | None = None
        self._sms: NotifyResult | None = None
        self._escalation: Escalation | None = None
        self._escalations: list[str] = []
        self._history: list[str] = []
        self._reference: TerritoryReference | None = None
        self._resolved = False
        self._closed_reason = ""
        self._acknowledged = False
        self._pending_choices: list[AddressMatch] = []
        self._sms_choice: AddressMatch | None = None
        self._sms_replies: list[str] = []
        self._callback_attempts = 0
        self._phone_keys: list[str] = []
        self._seen_sms_ids: set[str] = set()

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: VoicemailInput) -> VoicemailResult:
        self._inp = inp
        if inp.text.strip():
            # Text channel (an SMS reply): the words are given, there is nothing to hear.
            self._transcript = TranscribeResult(text=inp.text.strip(), segments=[], duration_s=0.0)
            self._step = UNDERSTAND
        else:
            await self._set_status(Status.TRANSCRIBING)
        while self._step != DONE:
            escalation = await self._run_step(self._step)
            if escalation is not None:
                await self._wait_for_agent(escalation)
        return self._result()

    async def _run_step(self, step: str) -> Escalation | None:
        if step == TRANSCRIBE:
            return await self._transcribe()
        if step == UNDERSTAND:
            return await self._understand()
        if step == GEOCODE:
            return await self._geocode()
        if step == BOOK:
            return await self._book()
        if step == NOTIFY:
            return await self._notify()
        raise ApplicationError(f"unknown step {step}", non_retryable=True)

    # ------------------------------------------------------------------ steps

    async def _transcribe(self) -> Escalation | None:
        assert self._inp is not None
        await self._set_status(Status.TRANSCRIBING)
        try:
            self._transcript = await workflow.execute_activity(
                names.TRANSCRIBE,
                TranscribeInput(audio_path=self._inp.audio_path, call_id=self._inp.call_id),
                result_type=TranscribeResult,
                task_queue=self._stt_queue(),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=SHORT_RETRY,
            )
        except ActivityError as err:
            # Unusable audio and a transcription that keeps failing end the same way: a
            # person listens to the message. Never a retry loop.
            return Escalation(EscalationReason.AUDIO_UNUSABLE, TRANSCRIBE, error_message(err))
        self._log(f"transcription: {self._transcript.duration_s:.1f} s d'audio")
        self._step = UNDERSTAND
        return None

    async def _understand(self) -> Escalation | None:
        assert self._inp is not None and self._transcript is not None
        await self._set_status(Status.UNDERSTANDING)
        self._understanding = await workflow.execute_activity(
            names.UNDERSTAND,
            UnderstandInput(text=self._transcript.text, caller_number=self._inp.caller_number),
            result_type=Understanding,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SHORT_RETRY,
        )
        await self._refine_items()
        u = self._understanding
        self._log(f"compréhension: intention={u.intent}, confiance={u.confidence:.2f}")
        decision = decide_request(u)
        if decision is None:
            self._step = GEOCODE
            return None
        if decision.kind == DecisionKind.REFUSE:
            # Only refused items: nothing to book, the SMS says where to take them.
            self._step = NOTIFY
            return None
        if decision.kind == DecisionKind.ANSWER:
            return await self._answer_question()
        return Escalation(decision.reason, UNDERSTAND, decision.detail)

    async def _refine_items(self) -> None:
        """Let the audio name the items the words missed ("un biffet" → buffet). Optional:
        without it the request stands as understood from the words."""
        assert self._inp is not None and self._transcript is not None
        u = self._understanding
        if u is None or u.intent != Intent.BOOKING or not self._has_audio():
            return
        try:
            self._understanding = await workflow.execute_activity(
                names.REFINE_ITEMS,
                ItemRefineInput(
                    audio_path=self._inp.audio_path,
                    text=self._transcript.text,
                    segments=self._transcript.segments,
                    understanding=u,
                    call_id=self._inp.call_id,
                ),
                result_type=Understanding,
                task_queue=self._stt_queue(),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=SHORT_RETRY,
            )
        except ActivityError as err:
            self._log(f"vérification des objets par l'audio impossible: {error_message(err)}")

    async def _answer_question(self) -> Escalation | None:
        """A question gets the FAQ's answer by SMS when retrieval is confident; otherwise a
        person answers, seeing the proposed entry."""
        assert self._inp is not None and self._transcript is not None
        try:
            faq = await workflow.execute_activity(
                names.ANSWER_QUESTION,
                FaqInput(question=self._transcript.text, call_id=self._inp.call_id),
                result_type=FaqResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=SHORT_RETRY,
            )
        except ActivityError as err:
            return Escalation(EscalationReason.QUESTION, UNDERSTAND, error_message(err))
        if not faq.confident:
            proposal = f" Réponse proposée ({faq.entry_id}, score {faq.score:.2f}) : {faq.answer}"
            return Escalation(
                EscalationReason.QUESTION,
                UNDERSTAND,
                "question sans réponse sûre dans la FAQ." + (proposal if faq.entry_id else ""),
            )
        self._log(f"FAQ: entrée {faq.entry_id} (score {faq.score:.2f})")
        try:
            self._sms = await self._send_sms("faq", "faq_answer", {"answer": faq.answer})
        except ActivityError as err:
            return Escalation(EscalationReason.SMS_FAILED, UNDERSTAND, error_message(err))
        await self._set_status(Status.ANSWERED)
        self._step = DONE
        return None

    async def _geocode(self) -> Escalation | None:
        u = self._understanding
        assert u is not None
        await self._set_status(Status.GEOCODING)
        if u.address is None or u.address.is_empty():
            return Escalation(EscalationReason.NO_ADDRESS, GEOCODE, "aucune adresse entendue")
        result = await self._resolve_address(u)
        decision = decide_address(
            result,
            book_threshold=result.book_threshold or BOOK_THRESHOLD,
            confirm_threshold=result.confirm_threshold or CONFIRM_THRESHOLD,
        )
        if decision.kind == DecisionKind.BOOK and decision.match is not None:
            await self._accept_match(decision.match, "adresse trouvée")
            return None
        if decision.kind == DecisionKind.CONFIRM_BY_SMS:
            chosen = await self._confirm_by_sms(decision.candidates)
            if chosen is not None:
                await self._accept_match(chosen, "adresse confirmée par l'appelant")
                return None
            return Escalation(
                EscalationReason.LOW_CONFIDENCE,
                GEOCODE,
                "adresse incertaine, pas de choix de l'appelant par SMS",
                decision.candidates,
            )
        return Escalation(decision.reason, GEOCODE, decision.detail, decision.candidates)

    async def _accept_match(self, match: AddressMatch, why: str) -> None:
        self._match = match
        self._log(f"{why} (score {match.score:.2f}), secteur {match.sector}")
        await self._upsert(SA_SECTOR.value_set(match.sector))
        self._step = BOOK

    async def _confirm_by_sms(self, candidates: list[AddressMatch]) -> AddressMatch | None:
        """Ask the caller to pick the address by SMS reply ("1", "2"…); None when the SMS
        cannot be sent or no usable reply comes in time."""
        assert self._inp is not None
        choices = [{"number": n, "label": c.label()} for n, c in enumerate(candidates, 1)]
        bound = CHOICE_SMS_WAIT if workflow.patched(CHOICE_SMS_BOUNDED) else None
        try:
            await self._send_sms(
                "address_choice", "address_choice", {"choices": choices}, within=bound
            )
        except ActivityError as err:
            self._log(f"SMS de choix d'adresse impossible: {error_message(err)}")
            return None
        self._pending_choices = candidates
        self._log(f"choix d'adresse demandé par SMS ({len(candidates)} propositions)")
        await self._set_status(Status.WAITING_CALLER)
        try:
            await workflow.wait_condition(
                lambda: self._sms_choice is not None,
                timeout=timedelta(seconds=self._inp.confirm_timeout_s),
            )
        except TimeoutError:
            self._log("pas de réponse au SMS de choix d'adresse")
        chosen, self._sms_choice, self._pending_choices = self._sms_choice, None, []
        await self._set_status(Status.GEOCODING)
        return chosen

    async def _resolve_address(self, u: Understanding) -> GeocodeResult:
        """Gazetteer streets that could have been said, the audio's vote among them, then one
        address with a calibrated confidence (domain.decision turns it into book / confirm by
        SMS / escalate)."""
        assert self._inp is not None and self._transcript is not None
        candidates = await workflow.execute_activity(
            names.PROPOSE_ADDRESSES,
            AddressSearchInput(text=self._transcript.text, address=u.address),
            result_type=AddressCandidates,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SHORT_RETRY,
        )
        scores: AddressScores | None = None
        if candidates.candidates and self._has_audio():
            try:
                scores = await workflow.execute_activity(
                    names.SCORE_ADDRESS_CANDIDATES,
                    AddressScoringInput(
                        audio_path=self._inp.audio_path,
                        text=self._transcript.text,
                        segments=self._transcript.segments,
                        candidates=candidates,
                        call_id=self._inp.call_id,
                    ),
                    result_type=AddressScores,
                    task_queue=self._stt_queue(),
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=SHORT_RETRY,
                )
            except ActivityError as err:
                # Without the audio's vote the words alone decide, and the calibrated
                # confidence is lower: doubt goes to the caller or an agent, never a guess.
                self._log(f"adresse non vérifiée par l'audio: {error_message(err)}")
        return await workflow.execute_activity(
            names.RESOLVE_ADDRESS,
            ResolveAddressInput(candidates=candidates, scores=scores, address=u.address),
            result_type=GeocodeResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SHORT_RETRY,
        )

    def _has_audio(self) -> bool:
        assert self._inp is not None
        return bool(self._inp.audio_path) and not self._inp.text.strip()

    async def _run_geocode(self, address: SpokenAddress) -> GeocodeResult:
        return await workflow.execute_activity(
            names.GEOCODE,
            GeocodeInput(address=address),
            result_type=GeocodeResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SHORT_RETRY,
        )

    async def _book(self) -> Escalation | None:
        assert self._inp is not None and self._understanding is not None
        assert self._match is not None
        await self._set_status(Status.BOOKING)
        try:
            self._booking = await workflow.execute_activity(
                names.BOOK,
                BookInput(
                    call_id=self._inp.call_id,
                    sector=self._match.sector,
                    address=self._match,
                    items=self._understanding.items,
                    caller_number=self._understanding.callback_number or self._inp.caller_number,
                    requested_on=self._inp.received_at,
                ),
                result_type=BookResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PATIENT_RETRY,
            )
        except ActivityError as err:
            # Infrastructure errors are retried without limit, so what reaches here is a
            # permanent refusal of the request itself (unknown sector, invalid items).
            return Escalation(EscalationReason.BOOKING_REJECTED, BOOK, error_message(err))
        status = self._booking.status
        if status in (BookingStatus.BOOKED, BookingStatus.ALREADY_BOOKED):
            self._log(f"réservation {status}: {self._booking.pickup_date}")
            self._step = NOTIFY
            return None
        if status == BookingStatus.TOO_MANY_ITEMS:
            return Escalation(EscalationReason.TOO_MANY_ITEMS, BOOK, self._booking.reason)
        return Escalation(EscalationReason.NO_SLOT, BOOK, self._booking.reason)

    async def _notify(self) -> Escalation | None:
        assert self._inp is not None and self._understanding is not None
        await self._set_status(Status.NOTIFYING)
        u = self._understanding
        refused = items_label(u.refused_items)
        booking = self._booking if self._booked() else None
        if booking is not None:
            template, context = (
                "confirmation",
                {
                    "reference": booking.reference,
                    "pickup_date_label": date_label(booking.pickup_date),
                    "address_label": self._match.label() if self._match else "",
                    "items_label": items_label(booking.items or u.items),
                    "refused_label": refused,
                    "refused_destination": (u.refusal_advice or "une déchèterie")
                    if refused
                    else "",
                    "left_out_label": items_label(booking.left_out),
                    "cancel_hint": "Pour annuler, répondez ANNULER.",
                },
            )
        else:
            template, context = (
                "refusal",
                {
                    "refused_label": refused,
                    "refused_destination": u.refusal_advice or "une déchèterie",
                },
            )
        try:
            self._sms = await self._send_sms("confirmation", template, context)
        except ActivityError as err:
            reason = (
                EscalationReason.NO_MOBILE_NUMBER
                if _error_type(err) == errors.SMS_NOT_MOBILE
                else EscalationReason.SMS_FAILED
            )
            return Escalation(reason, NOTIFY, error_message(err))
        self._log(f"SMS envoyé ({self._sms.segments} segment(s), {self._sms.encoding})")
        if booking is not None and booking.status == BookingStatus.BOOKED:
            # ALREADY_BOOKED: the call that made that booking already follows it.
            await self._start_follow_up(booking, self._sms)
        if booking is not None:
            await self._set_status(Status.BOOKED)
        else:
            await self._set_status(Status.REFUSED)
        self._step = DONE
        return None

    async def _start_follow_up(self, booking: BookResult, sms: NotifyResult) -> None:
        """Hand the booking to its own workflow (delivery report, ANNULER, eve reminder)."""
        assert self._inp is not None
        await start_booking_follow_up(
            FollowUpInput(
                call_id=self._inp.call_id,
                reference=booking.reference,
                pickup_date=booking.pickup_date,
                to=self._recipient(),
                address_label=self._match.label() if self._match else "",
                reminder_at=booking.reminder_at,
                phone_key=sms.phone_key,
                sms_message_id=sms.message_id,
                sms_backend=sms.backend,
                delivery_checks_s=list(self._inp.delivery_checks_s),
                listen_after_reminder_s=self._inp.listen_after_reminder_s,
            ),
            self._log,
        )

    async def _send_sms(
        self,
        purpose: str,
        template: str,
        context: dict[str, Any],
        retry: RetryPolicy = PATIENT_RETRY,
        within: timedelta | None = None,
    ) -> NotifyResult:
        """`within`: give up (ActivityError) when the SMS has not gone after that long, all
        attempts included; None: as long as `retry` allows."""
        result = await workflow.execute_activity(
            names.SEND_SMS,
            NotifyInput(
                idempotency_key=f"{workflow.info().workflow_id}:{purpose}",
                to=self._recipient(),
                template=template,
                context=context,
            ),
            result_type=NotifyResult,
            start_to_close_timeout=timedelta(seconds=60),
            schedule_to_close_timeout=within,
            retry_policy=retry,
        )
        await self._listen_to(result.phone_key)
        return result

    async def _listen_to(self, phone_key: str) -> None:
        """Publish the (hashed) number texted, so that the caller's replies reach this case."""
        if phone_key and phone_key not in self._phone_keys:
            self._phone_keys.append(phone_key)
            await self._upsert(SA_SMS_PHONE_KEY.value_set(list(self._phone_keys)))

    # ------------------------------------------------------------------ agent queue

    async def _wait_for_agent(self, escalation: Escalation) -> None:
        # Armed before the first await: an agent may resolve while the acknowledgement SMS
        # is still being sent, and that resolution must not be lost.
        self._resolved = False
        self._escalation = escalation
        self._escalations.append(escalation.reason)
        self._log(f"escalade: {escalation.reason} ({escalation.detail})")
        if self._reference is None:
            try:
                self._reference = await workflow.execute_activity(
                    names.TERRITORY_REFERENCE,
                    TerritoryReferenceInput(),
                    result_type=TerritoryReference,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=SHORT_RETRY,
                )
            except ActivityError as err:
                # The case must reach the agent regardless; without the reference the
                # Update handler's gazetteer lookup still guards the corrections.
                self._log(f"référentiel du territoire indisponible: {error_message(err)}")
        # The caller is told before the case shows in the queue, as a rule; but an SMS outage
        # must not keep the case from the agents: after ACK_WAIT the case enters the queue
        # and the acknowledgement goes on trying (it is dropped if the case is resolved
        # first, when it would be stale).
        ack: asyncio.Future[None] | None = None
        if workflow.patched(ACK_IN_BACKGROUND):
            ack = asyncio.ensure_future(self._acknowledge(escalation))
            try:
                await workflow.wait_condition(ack.done, timeout=ACK_WAIT)
                ack.result()  # a bug in it fails the workflow task visibly, as before
            except TimeoutError:
                self._log("accusé de réception SMS en attente: le cas entre dans la file")
        else:
            # Histories written before the change: the acknowledgement as it was then.
            await self._acknowledge(escalation, retry=SHORT_RETRY)
        workflow.set_current_details(
            case_details_markdown(
                reason=escalation.reason,
                detail=escalation.detail,
                transcript=self._transcript.text if self._transcript else "",
                understanding=self._understanding,
                match=self._match,
                candidates=escalation.candidates,
            )
        )
        # Visible in the agent queue only once the case is complete (reference loaded,
        # caller told, details written).
        self._status = Status.WAITING_AGENT.value
        await self._upsert(*agent_queue_entered(self._status, escalation.reason))
        await workflow.wait_condition(lambda: self._resolved)
        if ack is not None:
            if not ack.done():
                ack.cancel()
            elif not ack.cancelled():
                ack.result()  # a bug in it fails the workflow task visibly, as before
        self._escalation = None
        workflow.set_current_details("")
        await self._upsert(*agent_queue_left())

    async def _acknowledge(
        self, escalation: Escalation, retry: RetryPolicy = PATIENT_RETRY
    ) -> None:
        """Tell the caller, once, that a person takes over. A failure here must not block the
        escalation itself: the agent sees the case either way."""
        if self._acknowledged or escalation.reason in (
            EscalationReason.SMS_FAILED,
            EscalationReason.NO_MOBILE_NUMBER,
        ):
            return
        template = {
            EscalationReason.QUESTION: "question_received",
            EscalationReason.CANCEL_REQUEST: "cancel_received",
        }.get(EscalationReason(escalation.reason), "callback")
        try:
            await self._send_sms("ack", template, {}, retry=retry)
            self._acknowledged = True
        except ActivityError as err:
            self._log(f"accusé de réception SMS impossible: {error_message(err)}")

    def _recipient(self) -> str:
        """The callback number the caller gave if it can receive SMS, else the caller id; the
        SMS activity refuses a non-mobile number and the case goes to an agent."""
        assert self._inp is not None
        callback = self._understanding.callback_number if self._understanding else ""
        return sms_recipient(callback, self._inp.caller_number)

    @workflow.update(name=names.RESOLVE_UPDATE)
    async def resolve(self, inp: ResolveInput) -> ResolveResult:
        assert self._escalation is not None
        escalation = self._escalation
        action = inp.action
        if action == "no_answer":
            # The case stays in the queue; the attempt is recorded for the next agent.
            self._callback_attempts += 1
            self._log(
                f"agent {inp.agent_id}: rappel sans réponse (tentative {self._callback_attempts})"
            )
            return ResolveResult(
                True, f"Rappel sans réponse noté (tentative {self._callback_attempts})."
            )
        if action == "close":
            self._closed_reason = inp.comment or "clos par un agent"
            self._log(f"agent {inp.agent_id}: dossier clos ({self._closed_reason})")
            self._step = DONE
            self._status = Status.CLOSED.value
            await self._upsert(SA_STATUS.value_set(self._status))
            self._resolved = True
            return ResolveResult(True, "Dossier clos.")
        if action == "retry":
            self._log(f"agent {inp.agent_id}: nouvel essai de l'étape {escalation.step}")
            self._step = escalation.step
            self._resolved = True
            return ResolveResult(True, f"Nouvel essai de l'étape « {escalation.step} ».")
        if action == "choose":
            chosen = escalation.candidates[inp.candidate - 1]
            self._apply_corrections(inp)
            if inp.housenumber.strip() and inp.housenumber.strip() != chosen.housenumber:
                # The agent heard the number the bot missed: that number must exist.
                chosen = await self._geocode_for_agent(
                    SpokenAddress(
                        housenumber=inp.housenumber.strip(),
                        street=chosen.street,
                        postcode=chosen.postcode,
                        citycode=chosen.citycode,
                        city=chosen.city,
                    )
                )
            self._match = chosen
            await self._upsert(SA_SECTOR.value_set(chosen.sector))
            self._log(f"agent {inp.agent_id}: candidat {inp.candidate} retenu")
            self._step = BOOK
            self._resolved = True
            return ResolveResult(True, f"Adresse retenue : {chosen.label()}.")
        # action == "correct"
        self._apply_corrections(inp)
        u = self._understanding
        assert u is not None
        message = "Corrections enregistrées."
        if inp.street:
            # Resolve the address now so the agent sees at once whether it exists; a failure
            # rejects this Update and the workflow keeps waiting.
            address = SpokenAddress(
                housenumber=inp.housenumber,
                street=inp.street,
                postcode=inp.postcode,
                city=inp.city,
            )
            self._match = await self._geocode_for_agent(address)
            u.address = address
            await self._upsert(SA_SECTOR.value_set(self._match.sector))
            message = f"Adresse retenue : {self._match.label()} (secteur {self._match.sector})."
        self._log(f"agent {inp.agent_id}: corrections ({escalation.reason})")
        self._step = self._resume_step_after_correction(escalation)
        self._resolved = True
        return ResolveResult(True, message)

    async def _geocode_for_agent(self, address: SpokenAddress) -> AddressMatch:
        """Look up an agent's address; rejects the Update (the workflow keeps waiting) unless
        it is a single existing address inside a collection sector."""
        result = await self._run_geocode(address)
        match = result.match
        if result.status != GeocodeStatus.MATCHED or match is None or not match.sector:
            # The message is shown in clear by the Web UI: no address in it. What the
            # gazetteer said and the addresses close to it go into the (encrypted) details,
            # which `encombot agent resolve` prints.
            why = {
                GeocodeStatus.NOT_FOUND: "rue introuvable dans le référentiel",
                GeocodeStatus.NUMBER_NOT_FOUND: "ce numéro n'existe pas dans cette rue",
                GeocodeStatus.AMBIGUOUS: "plusieurs rues correspondent : précisez",
                GeocodeStatus.OUT_OF_TERRITORY: "adresse hors du territoire",
            }.get(GeocodeStatus(result.status), "adresse hors de toute zone de collecte")
            raise ApplicationError(
                f"Adresse refusée : {why}.",
                {
                    "status": result.status,
                    "reason": result.reason,
                    "candidates": [c.label() for c in result.candidates[:3]],
                },
                type=CORRECTION_REJECTED,
            )
        # An agent-confirmed address is certain by definition.
        return replace(match, score=1.0)

    def _booked(self) -> bool:
        return self._booking is not None and self._booking.status in (
            BookingStatus.BOOKED,
            BookingStatus.ALREADY_BOOKED,
        )

    def _resume_step_after_correction(self, escalation: Escalation) -> str:
        u = self._understanding
        assert u is not None
        if not u.items and u.refused_items:
            return NOTIFY
        if escalation.step == NOTIFY:
            return NOTIFY
        if self._match is None:
            return GEOCODE
        if self._booked():
            return NOTIFY
        return BOOK

    def _apply_corrections(self, inp: ResolveInput) -> None:
        assert self._inp is not None
        if self._understanding is None:
            # Unusable audio: the agent listened to the message and supplies the request.
            self._understanding = Understanding(intent=Intent.BOOKING.value)
        u = self._understanding
        if u.intent != Intent.BOOKING and (inp.street or inp.items):
            u.intent = Intent.BOOKING.value
        if inp.items:
            ref = self._reference
            u.items = [
                ItemCount(
                    item=(canonical_item(i.item, ref) if ref else None) or i.item, count=i.count
                )
                for i in inp.items
            ]
        if inp.callback_number:
            u.callback_number = to_e164(inp.callback_number) or u.callback_number

    @resolve.validator
    def validate_resolve(self, inp: ResolveInput) -> None:
        if self._escalation is None:
            raise ApplicationError("Ce dossier n'attend pas d'agent.", type=CORRECTION_REJECTED)
        problem = validate_resolution(
            inp,
            reason=self._escalation.reason,
            candidates=self._escalation.candidates,
            has_items=bool(self._understanding and self._understanding.items),
            has_match=self._match is not None,
            reference=self._reference,
        )
        if problem:
            # Readable in the Web UI although failures are encrypted (domain/disclosure.py):
            # the message names the rule, never the caller's data.
            raise ApplicationError(problem, type=CORRECTION_REJECTED)

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        """A reply from the caller's phone (2-way SMS). While an address choice is pending,
        a number among those offered picks it; anything else is kept for the agent."""
        if inp.message_id:
            if inp.message_id in self._seen_sms_ids:
                return  # the poller re-delivered a message after a crash
            self._seen_sms_ids.add(inp.message_id)
        text = inp.text.strip()
        self._log("réponse SMS reçue")
        if self._pending_choices and text.isdigit():
            n = int(text)
            if 1 <= n <= len(self._pending_choices):
                self._sms_choice = self._pending_choices[n - 1]
                return
        self._sms_replies.append(text)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> WorkflowState:
        return WorkflowState(
            call_id=self._inp.call_id if self._inp else "",
            status=self._status,
            step=self._step,
            transcript=self._transcript.text if self._transcript else "",
            understanding=self._understanding,
            match=self._match,
            booking=self._booking,
            escalation=self._escalation,
            history=list(self._history),
        )

    # ------------------------------------------------------------------ helpers

    def _stt_queue(self) -> str:
        assert self._inp is not None
        return self._inp.stt_task_queue or workflow.info().task_queue

    async def _set_status(self, status: Status) -> None:
        if self._status == status.value:
            return
        self._status = status.value
        await self._upsert(SA_STATUS.value_set(status.value))

    async def _upsert(self, *updates: SearchAttributeUpdate) -> None:
        workflow.upsert_search_attributes(list(updates))

    def _log(self, line: str) -> None:
        self._history.append(line)
        workflow.logger.info(line)

    def _result(self) -> VoicemailResult:
        assert self._inp is not None
        booking = self._booking
        return VoicemailResult(
            call_id=self._inp.call_id,
            status=self._status,
            reason=self._closed_reason,
            booking_reference=booking.reference if booking else "",
            pickup_date=booking.pickup_date if booking else "",
            sector=self._match.sector if self._match else "",
            sms_text=self._sms.text if self._sms else "",
            escalations=list(self._escalations),
        )
