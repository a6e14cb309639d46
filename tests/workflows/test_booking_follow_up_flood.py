"""BookingFollowUpWorkflow under a flood of SMS (issue 18, point 4), on Temporal's
time-skipping test server: thousands of replies to one booking make one agent task, keep the
`state` query small, continue the case as new (its state carried), and the booking still
cancels on ANNULER and still gets its reminder on the eve, days later.

Stand-in activities under the real names (tests/workflows/test_booking_follow_up_timeskip.py);
the agent task is the real IncomingSmsWorkflow."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.bookings.calendar_file import load_calendar
from corpus import CORPUS_DIR
from domain import names
from domain.booking_models import FollowUpInput, FollowUpResult, FollowUpState
from domain.calendar import ServiceCalendar, reminder_at
from domain.case_carry import MAX_HISTORY_LINES
from domain.models import SmsReplyInput
from domain.sms_models import IncomingSmsState
from tests.workflows.test_booking_follow_up_timeskip import CALLER, Recorder, _test_server_path
from workers.client import _SA_TYPES
from workflows.booking_follow_up import MAX_REPLIES_PER_TASK, BookingFollowUpWorkflow
from workflows.incoming_sms import IncomingSmsWorkflow

FLOOD = 2_000
# Low enough that the flood continues the case as new several times.
HISTORY_LIMIT = 600


@dataclass
class Flood:
    env: WorkflowEnvironment
    queue: str
    calendar: ServiceCalendar
    rec: Recorder

    async def start(self, pickup: date) -> WorkflowHandle[Any, FollowUpResult]:
        due = reminder_at(pickup, self.calendar)
        assert due is not None
        call_id = f"c-{uuid.uuid4().hex[:10]}"
        return await self.env.client.start_workflow(
            BookingFollowUpWorkflow.run,
            FollowUpInput(
                call_id=call_id,
                reference="FL00D1",
                pickup_date=pickup.isoformat(),
                to=CALLER,
                address_label="12 Boulevard Chave, 13005 Marseille",
                reminder_at=due.isoformat(),
                phone_key="pk-flood",
                sms_message_id="confirmation-1",
                sms_backend="stand-in",
                listen_after_reminder_s=3600,
                history_limit=HISTORY_LIMIT,
            ),
            id=names.booking_follow_up_workflow_id(call_id),
            task_queue=self.queue,
        )

    async def flood(self, handle: WorkflowHandle[Any, Any], count: int) -> None:
        """`count` replies that are neither ANNULER nor expected, 50 signals in flight."""
        gate = asyncio.Semaphore(50)

        async def one(i: int) -> None:
            async with gate:
                await handle.signal(
                    names.SMS_REPLY_SIGNAL,
                    SmsReplyInput(text=f"Encore une question n°{i}", message_id=f"m{i:05d}"),
                )

        await asyncio.gather(*(one(i) for i in range(1, count + 1)))

    async def task_exists(self, workflow_id: str) -> bool:
        try:
            await self.env.client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return False
        return True


@pytest.fixture
async def flood() -> AsyncIterator[Flood]:
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
        queue = f"flood-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[BookingFollowUpWorkflow, IncomingSmsWorkflow],
            activities=rec.activities(),
            activity_executor=ThreadPoolExecutor(max_workers=2),
        ):
            yield Flood(env, queue, load_calendar(CORPUS_DIR / "calendar.yaml"), rec)
    finally:
        await env.shutdown()


async def first_reply_forwarded(flood: Flood, handle: WorkflowHandle[Any, Any]) -> str:
    """The first reply opens the agent task; its id."""
    await handle.signal(
        names.SMS_REPLY_SIGNAL, SmsReplyInput(text="Le gardien sera là", message_id="m00000")
    )
    task_id = names.incoming_sms_workflow_id(f"{handle.id.removeprefix('booking-')}-m00000")
    for _ in range(200):
        if await flood.task_exists(task_id):
            return task_id
        await asyncio.sleep(0.05)
    raise AssertionError("the first reply opened no agent task")


async def check_bounded(flood: Flood, handle: WorkflowHandle[Any, Any], task_id: str) -> None:
    first_run = handle.result_run_id
    for _ in range(600):  # the signals are in; the workflow works through them
        latest = await flood.env.client.get_workflow_handle(handle.id).describe()
        if latest.run_id != first_run:
            break
        await asyncio.sleep(0.05)
    assert latest.status == WorkflowExecutionStatus.RUNNING
    assert latest.run_id != first_run  # continued as new, the case still running
    for _ in range(600):
        state = await handle.query(names.STATE_QUERY, result_type=FollowUpState)
        if state.replies == FLOOD + 1:
            break
        await asyncio.sleep(0.05)
    # Every SMS was heard, once, across the runs: none lost in a continue-as-new.
    assert state.replies == FLOOD + 1
    assert state.forwarded_to_agent == MAX_REPLIES_PER_TASK
    assert state.status == "booked"
    assert len(state.history) <= MAX_HISTORY_LINES + 1
    assert len(json.dumps(asdict(state))) < 64_000  # far below the 4 MB gRPC limit
    # One agent task took the flood (its first replies), not one task per SMS.
    task = flood.env.client.get_workflow_handle(task_id)
    task_state = await task.query(names.STATE_QUERY, result_type=IncomingSmsState)
    assert len(task_state.messages) == MAX_REPLIES_PER_TASK
    for probe in ("m00001", "m00500", f"m{FLOOD:05d}"):
        other = names.incoming_sms_workflow_id(f"{handle.id.removeprefix('booking-')}-{probe}")
        assert not await flood.task_exists(other)


async def test_flood_of_sms_then_annuler_cancels(flood: Flood) -> None:
    now = (await flood.env.get_current_time()).date()
    handle = await flood.start(now + timedelta(days=12))
    task_id = await first_reply_forwarded(flood, handle)
    await flood.flood(handle, FLOOD)
    await check_bounded(flood, handle, task_id)

    await handle.signal(names.SMS_REPLY_SIGNAL, SmsReplyInput(text="ANNULER", message_id="stop"))
    result = await handle.result()

    assert result.status == "cancelled" and not result.reminded
    assert len(flood.rec.cancels) == 1
    assert flood.rec.templates() == ["cancelled"]
    assert result.forwarded_to_agent == MAX_REPLIES_PER_TASK


async def test_flood_of_sms_still_gets_the_reminder(flood: Flood) -> None:
    now = (await flood.env.get_current_time()).date()
    handle = await flood.start(now + timedelta(days=12))
    task_id = await first_reply_forwarded(flood, handle)
    await flood.flood(handle, FLOOD)
    await check_bounded(flood, handle, task_id)

    result = await handle.result()  # the test server skips the twelve days

    assert result.status == "booked" and result.reminded
    assert flood.rec.templates() == ["reminder"]
    assert len(flood.rec.checks) == 1  # delivered at the first check, before the flood
