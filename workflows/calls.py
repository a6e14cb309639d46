"""Every activity the workflows call, one typed call each: its name (domain/names.py), input and
result types, timeouts, retry policy and the kind of task queue it runs on.

The workflows call activities through these and never `workflow.execute_activity` directly,
so `ALL_CALLS` is the one list of the activities they need (the workers must register each
name). Activities are called by name, never imported: no I/O module enters the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.common import (
    NO_RETRY,
    PATIENT_RETRY,
    POLL_RETRY,
    PURGE_RETRY,
    SHORT_RETRY,
)

with workflow.unsafe.imports_passed_through():
    from domain import names, retention
    from domain.address_models import (
        AddressCandidates,
        AddressScores,
        AddressScoringInput,
        AddressSearchInput,
        ItemRefineInput,
        ResolveAddressInput,
    )
    from domain.audio_links import AudioLinkInput, AudioLinkResult
    from domain.booking_changes import (
        BookingChangeOutcome,
        BookingView,
        ChangeItemsInput,
        DescribeBookingInput,
        MoveBookingInput,
    )
    from domain.booking_models import (
        BookingStatusInput,
        BookingStatusResult,
        CallCentreInput,
        CallCentreOpening,
        CancelBookingInput,
        CancelBookingResult,
    )
    from domain.faq_models import FaqInput, FaqResult
    from domain.live_call_models import LiveCallActivityInput, LiveCallProgress
    from domain.missed_call_models import UpcomingBookingInput, UpcomingBookingResult
    from domain.models import (
        BookInput,
        BookResult,
        GeocodeInput,
        GeocodeResult,
        NotifyInput,
        NotifyResult,
        TerritoryReference,
        TerritoryReferenceInput,
        TranscribeInput,
        TranscribeResult,
        Understanding,
        UnderstandInput,
    )
    from domain.route_sheets import RouteSheetExportInput, RouteSheetExportResult
    from domain.sms_models import (
        SmsDeliveryInput,
        SmsDeliveryResult,
        SmsListenInput,
        SmsListenResult,
        SmsPollInput,
        SmsPollResult,
    )

InputT = TypeVar("InputT")
ResultT = TypeVar("ResultT")


class Queue(StrEnum):
    """Where an activity runs. DEFAULT: the workflow's own task queue. STT: the transcription
    workers (they hold the Whisper model; the workflow input names their queue). MEDIA: the
    telephony process that holds the call's audio."""

    DEFAULT = "default"
    STT = "stt"
    MEDIA = "media"


@dataclass(frozen=True)
class ActivityCall(Generic[InputT, ResultT]):
    """One activity as the workflows call it. A call may override the retry policy or the
    timeouts where one workflow needs another bound (an SMS given up after a while); the
    task queue is given by the caller for STT and MEDIA activities (it comes with the
    workflow's input), never for DEFAULT ones."""

    name: str
    input_type: type[InputT]
    result_type: type[ResultT]
    retry: RetryPolicy
    # None: the caller gives it (it depends on the workflow's input).
    start_to_close: timedelta | None
    heartbeat: timedelta | None = None
    schedule_to_start: timedelta | None = None
    queue: Queue = Queue.DEFAULT

    async def __call__(
        self,
        inp: InputT,
        *,
        task_queue: str | None = None,
        retry: RetryPolicy | None = None,
        start_to_close: timedelta | None = None,
        heartbeat: timedelta | None = None,
        schedule_to_close: timedelta | None = None,
        schedule_to_start: timedelta | None = None,
    ) -> ResultT:
        if (task_queue is None) != (self.queue == Queue.DEFAULT):
            need = "no task queue" if self.queue == Queue.DEFAULT else "its task queue"
            raise ValueError(f"{self.name} runs on the {self.queue} queue: give {need}")
        return await workflow.execute_activity(
            self.name,
            inp,
            result_type=self.result_type,
            task_queue=task_queue,
            start_to_close_timeout=start_to_close or self.start_to_close,
            heartbeat_timeout=heartbeat or self.heartbeat,
            schedule_to_close_timeout=schedule_to_close,
            schedule_to_start_timeout=schedule_to_start or self.schedule_to_start,
            retry_policy=retry or self.retry,
        )


_SECONDS_30 = timedelta(seconds=30)

# --------------------------------------------------------------------------- voicemail steps

TRANSCRIBE = ActivityCall(
    names.TRANSCRIBE,
    TranscribeInput,
    TranscribeResult,
    SHORT_RETRY,
    start_to_close=timedelta(minutes=10),
    heartbeat=timedelta(minutes=2),
    queue=Queue.STT,
)
UNDERSTAND = ActivityCall(
    names.UNDERSTAND, UnderstandInput, Understanding, SHORT_RETRY, start_to_close=_SECONDS_30
)
REFINE_ITEMS = ActivityCall(
    names.REFINE_ITEMS,
    ItemRefineInput,
    Understanding,
    SHORT_RETRY,
    start_to_close=timedelta(minutes=2),
    queue=Queue.STT,
)
ANSWER_QUESTION = ActivityCall(
    names.ANSWER_QUESTION, FaqInput, FaqResult, SHORT_RETRY, start_to_close=_SECONDS_30
)
PROPOSE_ADDRESSES = ActivityCall(
    names.PROPOSE_ADDRESSES,
    AddressSearchInput,
    AddressCandidates,
    SHORT_RETRY,
    start_to_close=_SECONDS_30,
)
SCORE_ADDRESS_CANDIDATES = ActivityCall(
    names.SCORE_ADDRESS_CANDIDATES,
    AddressScoringInput,
    AddressScores,
    SHORT_RETRY,
    start_to_close=timedelta(minutes=2),
    queue=Queue.STT,
)
RESOLVE_ADDRESS = ActivityCall(
    names.RESOLVE_ADDRESS,
    ResolveAddressInput,
    GeocodeResult,
    SHORT_RETRY,
    start_to_close=_SECONDS_30,
)
GEOCODE = ActivityCall(
    names.GEOCODE, GeocodeInput, GeocodeResult, SHORT_RETRY, start_to_close=_SECONDS_30
)
TERRITORY_REFERENCE = ActivityCall(
    names.TERRITORY_REFERENCE,
    TerritoryReferenceInput,
    TerritoryReference,
    SHORT_RETRY,
    start_to_close=_SECONDS_30,
)
BOOK = ActivityCall(names.BOOK, BookInput, BookResult, PATIENT_RETRY, start_to_close=_SECONDS_30)
SEND_SMS = ActivityCall(
    names.SEND_SMS,
    NotifyInput,
    NotifyResult,
    PATIENT_RETRY,
    start_to_close=timedelta(seconds=60),
)

# A database write (the SMS reply route): as patient as the send it stands for.
LISTEN_FOR_SMS_REPLIES = ActivityCall(
    names.LISTEN_FOR_SMS_REPLIES,
    SmsListenInput,
    SmsListenResult,
    PATIENT_RETRY,
    start_to_close=_SECONDS_30,
)

# --------------------------------------------------------------------------- bookings, SMS

CHECK_SMS_DELIVERY = ActivityCall(
    names.CHECK_SMS_DELIVERY,
    SmsDeliveryInput,
    SmsDeliveryResult,
    PATIENT_RETRY,
    start_to_close=_SECONDS_30,
)
BOOKING_STATUS = ActivityCall(
    names.BOOKING_STATUS,
    BookingStatusInput,
    BookingStatusResult,
    PATIENT_RETRY,
    start_to_close=_SECONDS_30,
)
CANCEL_BOOKING = ActivityCall(
    names.CANCEL_BOOKING,
    CancelBookingInput,
    CancelBookingResult,
    PATIENT_RETRY,
    start_to_close=_SECONDS_30,
)
POLL_INCOMING_SMS = ActivityCall(
    names.POLL_INCOMING_SMS,
    SmsPollInput,
    SmsPollResult,
    POLL_RETRY,
    start_to_close=timedelta(minutes=2),
    # One message routed takes a few Temporal calls: a silent minute is a stuck poll.
    heartbeat=timedelta(seconds=60),
)

# --------------------------------------------------------------------------- agents

DESCRIBE_BOOKING = ActivityCall(
    names.DESCRIBE_BOOKING,
    DescribeBookingInput,
    BookingView,
    PATIENT_RETRY,
    start_to_close=_SECONDS_30,
)
# An agent waits on these (an Update): a database that stays down fails the Update after a
# few attempts rather than leaving the agent's form spinning.
MOVE_BOOKING = ActivityCall(
    names.MOVE_BOOKING,
    MoveBookingInput,
    BookingChangeOutcome,
    SHORT_RETRY,
    start_to_close=_SECONDS_30,
)
CHANGE_BOOKING_ITEMS = ActivityCall(
    names.CHANGE_BOOKING_ITEMS,
    ChangeItemsInput,
    BookingChangeOutcome,
    SHORT_RETRY,
    start_to_close=_SECONDS_30,
)
AUDIO_LINK = ActivityCall(
    names.AUDIO_LINK, AudioLinkInput, AudioLinkResult, SHORT_RETRY, start_to_close=_SECONDS_30
)
EXPORT_ROUTE_SHEETS = ActivityCall(
    names.EXPORT_ROUTE_SHEETS,
    RouteSheetExportInput,
    RouteSheetExportResult,
    PURGE_RETRY,
    start_to_close=timedelta(minutes=10),
    heartbeat=timedelta(minutes=2),
)

# --------------------------------------------------------------------------- missed calls

FIND_UPCOMING_BOOKING = ActivityCall(
    names.FIND_UPCOMING_BOOKING,
    UpcomingBookingInput,
    UpcomingBookingResult,
    SHORT_RETRY,
    start_to_close=_SECONDS_30,
)
CALL_CENTRE_OPENING = ActivityCall(
    names.CALL_CENTRE_OPENING,
    CallCentreInput,
    CallCentreOpening,
    PATIENT_RETRY,
    start_to_close=_SECONDS_30,
)

# --------------------------------------------------------------------------- live calls

# The telephony process must pick the dialogue up at once; the caller is on the line.
PICKUP_TIMEOUT = timedelta(seconds=15)
# The dialogue's own bounds (call length, heartbeat) come with the workflow's input.
RUN_LIVE_CALL = ActivityCall(
    names.RUN_LIVE_CALL,
    LiveCallActivityInput,
    LiveCallProgress,
    NO_RETRY,
    start_to_close=None,
    schedule_to_start=PICKUP_TIMEOUT,
    queue=Queue.MEDIA,
)

# --------------------------------------------------------------------------- retention

PURGE_AUDIO = ActivityCall(
    retention.PURGE_AUDIO,
    retention.PurgeAudioInput,
    retention.PurgeAudioResult,
    PURGE_RETRY,
    start_to_close=timedelta(minutes=30),
    heartbeat=timedelta(minutes=2),
)
ANONYMISE_BOOKINGS = ActivityCall(
    retention.ANONYMISE_BOOKINGS,
    retention.AnonymiseInput,
    retention.AnonymiseResult,
    PURGE_RETRY,
    start_to_close=timedelta(minutes=30),
    heartbeat=timedelta(minutes=2),
)

PURGE_SMS_RECORDS = ActivityCall(
    retention.PURGE_SMS_RECORDS,
    retention.PurgeSmsInput,
    retention.PurgeSmsResult,
    PURGE_RETRY,
    start_to_close=timedelta(minutes=30),
)

CLOSE_STALE_CASES = ActivityCall(
    retention.CLOSE_STALE_CASES,
    retention.CloseStaleInput,
    retention.CloseStaleResult,
    PURGE_RETRY,
    start_to_close=timedelta(minutes=30),
    heartbeat=timedelta(minutes=2),
)

ALL_CALLS: tuple[ActivityCall[Any, Any], ...] = (
    TRANSCRIBE,
    UNDERSTAND,
    REFINE_ITEMS,
    ANSWER_QUESTION,
    PROPOSE_ADDRESSES,
    SCORE_ADDRESS_CANDIDATES,
    RESOLVE_ADDRESS,
    GEOCODE,
    TERRITORY_REFERENCE,
    BOOK,
    SEND_SMS,
    LISTEN_FOR_SMS_REPLIES,
    CHECK_SMS_DELIVERY,
    BOOKING_STATUS,
    CANCEL_BOOKING,
    POLL_INCOMING_SMS,
    FIND_UPCOMING_BOOKING,
    CALL_CENTRE_OPENING,
    RUN_LIVE_CALL,
    PURGE_AUDIO,
    ANONYMISE_BOOKINGS,
    PURGE_SMS_RECORDS,
    CLOSE_STALE_CASES,
    DESCRIBE_BOOKING,
    MOVE_BOOKING,
    CHANGE_BOOKING_ITEMS,
    AUDIO_LINK,
    EXPORT_ROUTE_SHEETS,
)
# The activity names the workflows call (the workers must register each one), all of them
# and by the kind of queue whose workers run them.
ACTIVITY_NAMES: frozenset[str] = frozenset(c.name for c in ALL_CALLS)
ACTIVITY_NAMES_BY_QUEUE: dict[Queue, frozenset[str]] = {
    queue: frozenset(c.name for c in ALL_CALLS if c.queue == queue) for queue in Queue
}


async def send_sms(
    key: str,
    to: str,
    template: str,
    context: dict[str, Any],
    *,
    retry: RetryPolicy | None = None,
    within: timedelta | None = None,
    listen: bool = True,
    opens_exchange: bool = False,
) -> NotifyResult:
    """Text the caller. `key` names this SMS within the workflow (its idempotency key is the
    workflow id and the key: a retried or replayed send is never sent twice). `within`: give
    up (ActivityError) when the SMS has not gone after that long, all attempts included;
    None: as long as `retry` allows (PATIENT_RETRY by default). `listen`: this case gets the
    caller's replies (it publishes the phone key; the send records the route), False when
    they belong to another case; `opens_exchange`: this SMS begins the case's exchange with
    the number (NotifyInput.opens_exchange)."""
    return await SEND_SMS(
        NotifyInput(
            idempotency_key=f"{workflow.info().workflow_id}:{key}",
            to=to,
            template=template,
            context=context,
            listen=listen,
            opens_exchange=opens_exchange,
        ),
        retry=retry,
        schedule_to_close=within,
    )
