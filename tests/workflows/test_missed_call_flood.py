"""MissedCallWorkflow under a flood of calls from one number (issue 18, point 4), on the
time-skipping test server: a thousand calls make one case and one SMS, each call counted once,
the state query stays small, the case continues as new (in the reply wait and again in the
agent queue) and still becomes a callback task at the opening, which an agent closes."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import asdict
from datetime import time, timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Replayer, Worker

from domain import names
from domain.case_carry import MAX_HISTORY_LINES, MAX_SEEN_IDS
from domain.missed_call_models import (
    CALLBACK_REASON,
    MAX_CALL_IDS,
    MISSED_CALL_SIGNAL,
    MISSED_CALL_WORKFLOW,
    MissedCallInput,
    MissedCallResult,
    MissedCallSignal,
    MissedCallState,
    MissedCallStatus,
    missed_call_workflow_id,
)
from domain.models import ResolveInput, ResolveResult, SmsReplyInput
from domain.phone import phone_key
from tests.workflows import test_missed_call
from tests.workflows.test_missed_call import (
    SA_NEEDS_AGENT,
    SA_REASON,
    SECRET,
    Harness,
    eventually,
    next_local,
    search_attributes,
    state,
)
from workflows.missed_call import MissedCallWorkflow

harness = test_missed_call.harness  # the fixture: a time-skipping test server per test

CALLS = 1_000
HISTORY_LIMIT = 400


async def first_call(harness: Harness, number: str, call_id: str) -> WorkflowHandle[Any, Any]:
    """The first call, as the ingress starts it (signal-with-start), with a history limit low
    enough for the flood to continue the case as new."""
    cfg = harness.settings.ingress
    return await harness.client.start_workflow(
        MISSED_CALL_WORKFLOW,
        MissedCallInput(
            call_id=call_id,
            caller_number=number,
            received_at=(await harness.now()).isoformat(),
            reply_timeout_s=cfg.missed_call_reply_timeout_s,
            merge_window_s=cfg.missed_call_merge_window_s,
            history_limit=HISTORY_LIMIT,
        ),
        id=missed_call_workflow_id(phone_key(number, SECRET)),
        task_queue=harness.settings.temporal.task_queue,
        result_type=MissedCallResult,
        start_signal=MISSED_CALL_SIGNAL,
        start_signal_args=[MissedCallSignal(call_id=call_id)],
    )


async def calls(harness: Harness, number: str, ids: list[str]) -> None:
    """The calls as the ingress sends them (each joins the running case), 50 in flight."""
    gate = asyncio.Semaphore(50)

    async def one(call_id: str) -> None:
        async with gate:
            await harness.call(number, call_id)

    await asyncio.gather(*(one(call_id) for call_id in ids))


async def runs_after(harness: Harness, handle: WorkflowHandle[Any, Any], run_id: str) -> str:
    """The case's current run, once it is not `run_id` any more (it continued as new)."""
    latest = harness.client.get_workflow_handle(handle.id)
    for _ in range(400):
        desc = await latest.describe()
        if desc.run_id != run_id:
            assert desc.status == WorkflowExecutionStatus.RUNNING
            return str(desc.run_id)
        await asyncio.sleep(0.05)
    raise AssertionError("the case did not continue as new")


async def test_a_thousand_calls_from_one_number_make_one_bounded_case(harness: Harness) -> None:
    number = harness.number()
    night = next_local(await harness.now(), 2, time(22, 0))  # a Wednesday night
    await harness.skip_to(night)
    ids = [f"c-{uuid.uuid4().hex[:10]}" for _ in range(CALLS)]
    handle = await first_call(harness, number, ids[0])
    first_run = str(handle.result_run_id)
    await eventually(lambda: state(handle), lambda s: s.status == MissedCallStatus.WAITING_REPLY)

    # A retried webhook repeats ids: the last 50 come twice.
    await calls(harness, number, ids[1:] + ids[-50:])
    second_run = await runs_after(harness, handle, first_run)
    current = harness.client.get_workflow_handle(handle.id)
    s: MissedCallState = await eventually(lambda: state(current), lambda s: s.calls == CALLS)
    assert s.calls == CALLS  # each call once, none lost in a continue-as-new
    # The first MAX_CALL_IDS ids, in the order the case heard them (the calls ran at once).
    assert len(s.call_ids) == MAX_CALL_IDS == len(set(s.call_ids))
    assert s.call_ids[0] == ids[0] and set(s.call_ids) <= set(ids)
    assert s.status == MissedCallStatus.WAITING_REPLY
    assert len(s.history) <= MAX_HISTORY_LINES + 1
    assert len(json.dumps(asdict(s))) < 64_000
    assert len(harness.sms_to(number)) == 1  # one invitation, whatever the calls

    # No usable reply: a callback task, visible at the next opening; more calls meanwhile.
    await current.signal(names.SMS_REPLY_SIGNAL, SmsReplyInput("bonjour", number, "", "s1"))
    await harness.env.sleep(timedelta(hours=3))
    await eventually(
        lambda: state(current), lambda s: s.status == MissedCallStatus.CALLBACK_SCHEDULED
    )
    opening = next_local(await harness.now(), 3, time(8, 30))  # Thursday 8:30
    await harness.skip_to(opening + timedelta(minutes=1))
    attrs = await eventually(
        lambda: search_attributes(current), lambda a: bool(a.get(SA_NEEDS_AGENT))
    )
    assert attrs.get(SA_REASON) == CALLBACK_REASON
    later = [f"c-{uuid.uuid4().hex[:10]}" for _ in range(500)]
    await calls(harness, number, later)
    await runs_after(harness, handle, second_run)
    s = await eventually(lambda: state(current), lambda s: s.calls == CALLS + len(later))
    assert s.calls == CALLS + len(later)
    assert s.status == MissedCallStatus.WAITING_AGENT
    assert s.replies == ["bonjour"]
    assert (await search_attributes(current)).get(SA_NEEDS_AGENT) is True

    closed = await current.execute_update(
        names.RESOLVE_UPDATE,
        ResolveInput("agent-7", action="close", comment="rappelé"),
        result_type=ResolveResult,
    )
    assert closed.accepted
    result: MissedCallResult = await handle.result()  # follows the runs
    assert result.status == MissedCallStatus.CLOSED
    assert result.call_ids == s.call_ids
    assert len(harness.sms_to(number)) == 1


async def test_calls_queued_before_the_first_workflow_task_count_the_first_call_once(
    harness: Harness,
) -> None:
    """A worker busy elsewhere while a number calls in a loop: hundreds of signals are in the
    case's first activation, where signals run before the workflow. The first call (the input,
    and the signal of signal-with-start) counts once although its id has left the
    MAX_SEEN_IDS most recent ones by the time the workflow reads its input."""
    number = harness.number()
    ids = [f"q-{i:04d}" for i in range(MAX_SEEN_IDS + 100)]
    queue = f"late-{uuid.uuid4().hex[:8]}"  # no worker polls it yet
    cfg = harness.settings.ingress
    handle = await harness.client.start_workflow(
        MISSED_CALL_WORKFLOW,
        MissedCallInput(
            call_id=ids[0],
            caller_number=number,
            received_at=(await harness.now()).isoformat(),
            reply_timeout_s=cfg.missed_call_reply_timeout_s,
            merge_window_s=cfg.missed_call_merge_window_s,
        ),
        id=missed_call_workflow_id(phone_key(number, SECRET)),
        task_queue=queue,
        result_type=MissedCallResult,
        start_signal=MISSED_CALL_SIGNAL,
        start_signal_args=[MissedCallSignal(call_id=ids[0])],
    )
    gate = asyncio.Semaphore(50)

    async def signal(call_id: str) -> None:
        async with gate:
            await handle.signal(MISSED_CALL_SIGNAL, MissedCallSignal(call_id=call_id))

    await asyncio.gather(*(signal(call_id) for call_id in ids[1:]))
    # The worker comes; without activities it stops at the case's first step, enough to count.
    async with Worker(harness.client, task_queue=queue, workflows=[MissedCallWorkflow]):
        s: MissedCallState = await eventually(lambda: state(handle), lambda s: s.calls > 0)
    assert s.calls == len(ids)
    assert s.call_ids[0] == ids[0]
    # The history with the patch marker replays on today's code.
    replayed = await Replayer(workflows=[MissedCallWorkflow]).replay_workflow(
        await handle.fetch_history(), raise_on_replay_failure=False
    )
    assert replayed.replay_failure is None, replayed.replay_failure
