"""The voicemail workflow's state: one case, from the message to the caller's answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.case_carry import MAX_SEEN_IDS
    from domain.case_state import Escalation, Step, WorkflowState
    from domain.models import (
        AddressMatch,
        BookingStatus,
        BookResult,
        NotifyResult,
        SmsReplyInput,
        Status,
        TerritoryReference,
        TranscribeResult,
        Understanding,
        VoicemailInput,
        VoicemailResult,
    )
    from domain.phone import sms_mobile, sms_recipient
    from domain.pipeline import Message

# The caller's other SMS replies a case keeps for the agent (the rest are counted).
MAX_SMS_REPLIES = 20
# Replies read together as the address asked by SMS (workflows/voicemail_address.py).
MAX_ADDRESS_REPLIES = 5


@dataclass
class VoicemailState:
    inp: VoicemailInput | None = None  # None until the run starts
    status: str = Status.RECEIVED.value
    step: str = Step.TRANSCRIBE  # the step to run next (or to resume after an agent)
    transcript: TranscribeResult | None = None
    understanding: Understanding | None = None
    match: AddressMatch | None = None
    booking: BookResult | None = None
    sms: NotifyResult | None = None  # the SMS that answered the caller
    # The escalation the case waits on in the agent queue (None: it waits on none), every
    # escalation reason so far, and whether an agent has resolved the current one.
    escalation: Escalation | None = None
    escalations: list[str] = field(default_factory=list)
    resolved: bool = False
    # "agent:<id>" of the agent whose correction, choice or retry resumed the case: the
    # actor of the booking it leads to in the audit trail ("" : the bot's own).
    agent_actor: str = ""
    closed_reason: str = ""
    # What the `resolve` validator checks agents' corrections against (postcodes, INSEE
    # codes, the item catalogue): loaded at the first escalation.
    reference: TerritoryReference | None = None
    # The address choice offered by SMS, and the caller's pick among it.
    pending_choices: list[AddressMatch] = field(default_factory=list)
    sms_choice: AddressMatch | None = None
    # The address asked by SMS (none heard, or a street without its number:
    # workflows/voicemail_address.py): whether it was asked, whether the case listens for it
    # now, the caller's replies, and the text the address was then resolved from.
    address_asked: bool = False
    awaiting_address: bool = False
    address_replies: list[str] = field(default_factory=list)
    address_text: str = ""
    # A vote found the transcribing worker gone (workflows/pipeline_steps.py).
    stt_worker_gone: bool = False
    sms_replies: list[str] = field(default_factory=list)  # other replies, for the agent
    sms_replies_dropped: int = 0  # beyond MAX_SMS_REPLIES
    # Keyed hashes of the numbers texted (published as SmsPhoneKey), SMS ids already seen.
    phone_keys: list[str] = field(default_factory=list)
    seen_sms_ids: set[str] = field(default_factory=set)

    def has_audio(self) -> bool:
        assert self.inp is not None
        return bool(self.inp.audio_path) and not self.inp.text.strip()

    def stt_queue(self) -> str:
        assert self.inp is not None
        return self.inp.stt_task_queue or workflow.info().task_queue

    def message(self) -> Message:
        """What the pipeline works from (domain/pipeline.py)."""
        assert self.inp is not None and self.transcript is not None
        return Message(
            call_id=self.inp.call_id,
            caller_number=self.inp.caller_number,
            text=self.transcript.text,
            segments=self.transcript.segments,
            audio_path=self.inp.audio_path if self.has_audio() else "",
            written=bool(self.inp.text.strip()),
        )

    def address_message(self) -> Message:
        """What the address is resolved from: the message, or the caller's written reply
        when the address came by SMS (the recording does not hold it)."""
        if not self.address_text:
            return self.message()
        assert self.inp is not None
        return Message(
            call_id=self.inp.call_id,
            caller_number=self.inp.caller_number,
            text=self.address_text,
            written=True,
        )

    def written(self) -> str:
        """For an agent's details: the address the caller wrote by SMS, if it came so."""
        return f" ; adresse écrite par SMS : « {self.address_text} »" if self.address_text else ""

    def worker_gone(self) -> None:
        self.stt_worker_gone = True

    def understood(self, u: Understanding) -> None:
        self.understanding = u

    def take_sms_reply(self, inp: SmsReplyInput, note: Callable[[str], None]) -> None:
        """A reply from the caller's phone (the workflow's `sms_reply` signal)."""
        if inp.message_id:
            if inp.message_id in self.seen_sms_ids:
                return  # the poller re-delivered a message after a crash
            if len(self.seen_sms_ids) < MAX_SEEN_IDS:  # a flood: duplicates matter less then
                self.seen_sms_ids.add(inp.message_id)
        text = inp.text.strip()
        if self.pending_choices and text.isdigit():
            n = int(text)
            if 1 <= n <= len(self.pending_choices):
                note("réponse SMS reçue")
                self.sms_choice = self.pending_choices[n - 1]
                return
        if self.awaiting_address and text and len(self.address_replies) < MAX_ADDRESS_REPLIES:
            note("réponse SMS reçue (adresse)")
            self.address_replies.append(text)
            return
        if len(self.sms_replies) >= MAX_SMS_REPLIES:
            # Bounded, however chatty the caller: the text stays in the signal's history event.
            self.sms_replies_dropped += 1
            if self.sms_replies_dropped == 1:
                note("réponses SMS suivantes comptées, plus gardées")
            return
        note("réponse SMS reçue")
        self.sms_replies.append(text)

    def booked(self) -> bool:
        return self.booking is not None and self.booking.status in (
            BookingStatus.BOOKED,
            BookingStatus.ALREADY_BOOKED,
        )

    def recipient(self) -> str:
        """The callback number the caller gave if it can receive SMS, else the caller id; the
        SMS activity refuses a non-mobile number and the case goes to an agent."""
        assert self.inp is not None
        callback = self.understanding.callback_number if self.understanding else ""
        return sms_recipient(callback, self.inp.caller_number)

    def can_text(self) -> bool:
        """Whether the caller has a number that can receive SMS."""
        assert self.inp is not None
        callback = self.understanding.callback_number if self.understanding else ""
        return bool(sms_mobile(callback, self.inp.caller_number))

    def query_result(self, history: list[str]) -> WorkflowState:
        return WorkflowState(
            call_id=self.inp.call_id if self.inp else "",
            status=self.status,
            step=self.step,
            transcript=self.transcript.text if self.transcript else "",
            understanding=self.understanding,
            match=self.match,
            booking=self.booking,
            escalation=self.escalation,
            history=list(history),
        )

    def result(self) -> VoicemailResult:
        assert self.inp is not None
        booking = self.booking
        return VoicemailResult(
            call_id=self.inp.call_id,
            status=self.status,
            reason=self.closed_reason,
            booking_reference=booking.reference if booking else "",
            pickup_date=booking.pickup_date if booking else "",
            sector=self.match.sector if self.match else "",
            sms_text=self.sms.text if self.sms else "",
            escalations=list(self.escalations),
        )
