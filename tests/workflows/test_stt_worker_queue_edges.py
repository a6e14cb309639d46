"""The per-worker STT queue (issue 15) at its edges, on the real dev server, with stand-in
activities (no Whisper): a worker lost mid-vote, a vote failing on its worker, an STT process
whose votes hold its threads. Written by a review of the change; the slot tests failed
before the own queue got threads of its own."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.enums.v1 import TimeoutType as ApiTimeoutType
from temporalio.client import Client
from temporalio.worker import Worker

from domain import names
from domain.address_models import ItemRefineInput
from domain.models import TranscribeInput, TranscribeResult, Understanding
from workers.settings import Settings
from workers.worker.composition import build_workers, run_workers
from workflows import calls
from workflows.common import SHORT_RETRY
from workflows.pipeline_steps import ActivitySteps

# REFINE_ITEMS as calls.py declares it, but a 3-s start-to-close instead of 2 min, so that a
# worker lost mid-activity is seen in seconds.
QUICK_REFINE = calls.ActivityCall(
    names.REFINE_ITEMS,
    ItemRefineInput,
    Understanding,
    SHORT_RETRY,
    start_to_close=timedelta(seconds=3),
    queue=calls.Queue.STT,
)


@workflow.defn(name="SttEdgeVoteOnWorkerQueue", sandboxed=False)
class VoteOnWorkerQueue:
    @workflow.run
    async def run(self, queues: list[str]) -> Understanding:
        shared, own = queues
        steps = ActivitySteps(shared, own)
        inp = ItemRefineInput(
            audio_path="x.wav", text="t", segments=[], understanding=Understanding(intent="booking")
        )
        return await steps._on_stt(QUICK_REFINE, inp)


async def test_a_worker_lost_mid_vote_falls_back_after_start_to_close(
    client: Client, unique_queue: str
) -> None:
    """The worker that took the vote on its own queue never answers (gone, or stuck): the
    attempt times out (start-to-close), the retry is scheduled on the same own queue, nobody
    takes it there, and only then the schedule-to-start timeout sends it to the shared queue.
    With the real 2-min start-to-close the fallback costs 2 min + backoff + 5 s."""
    shared, own = f"{unique_queue}-stt", f"{unique_queue}-stt@w1"
    release = threading.Event()
    seen: list[tuple[str, int]] = []

    @activity.defn(name=names.REFINE_ITEMS)
    def stuck(inp: ItemRefineInput) -> Understanding:
        seen.append(("own", activity.info().attempt))
        release.wait(30)  # the lost worker: never answers in time
        return Understanding(intent="own")

    @activity.defn(name=names.REFINE_ITEMS)
    def fine(inp: ItemRefineInput) -> Understanding:
        seen.append(("shared", activity.info().attempt))
        return Understanding(intent="shared")

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=4)
    wf = Worker(client, task_queue=unique_queue, workflows=[VoteOnWorkerQueue])
    # One slot on the own queue: once its attempt is stuck, the worker takes nothing more,
    # as a dead one.
    lost = Worker(
        client,
        task_queue=own,
        activities=[stuck],
        activity_executor=pool,
        max_concurrent_activities=1,
    )
    other = Worker(client, task_queue=shared, activities=[fine], activity_executor=pool)
    stop = asyncio.Event()
    running = asyncio.create_task(run_workers([wf, lost, other], stop))
    try:
        started = time.monotonic()
        handle = await client.start_workflow(
            VoteOnWorkerQueue.run,
            [shared, own],
            id=f"review-vote-{uuid.uuid4().hex[:6]}",
            task_queue=unique_queue,
        )
        result = await asyncio.wait_for(handle.result(), 60)
        took = time.monotonic() - started
    finally:
        release.set()
        stop.set()
        await running
        pool.shutdown()
    timeouts = []
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            f = e.activity_task_timed_out_event_attributes.failure
            timeouts.append(
                (
                    ApiTimeoutType.Name(f.timeout_failure_info.timeout_type),
                    ApiTimeoutType.Name(f.cause.timeout_failure_info.timeout_type),
                )
            )
    print(f"fallback after {took:.1f} s; attempts {seen}; timeouts {timeouts}")
    assert result.intent == "shared"
    assert seen == [("own", 1), ("shared", 1)]
    # The one timed-out event: schedule-to-start of attempt 2, caused by attempt 1's
    # start-to-close.
    assert timeouts == [("TIMEOUT_TYPE_SCHEDULE_TO_START", "TIMEOUT_TYPE_START_TO_CLOSE")]
    assert took >= 3 + 1 + 5 - 0.5  # start-to-close + first backoff + WORKER_QUEUE_WAIT


@workflow.defn(name="SttEdgeTranscribeOnShared", sandboxed=False)
class TranscribeOnShared:
    @workflow.run
    async def run(self, shared: str) -> TranscribeResult:
        return await calls.TRANSCRIBE(TranscribeInput(audio_path="x.wav"), task_queue=shared)


@workflow.defn(name="SttEdgeVoteOnly", sandboxed=False)
class VoteOnly:
    @workflow.run
    async def run(self, own: str) -> Understanding:
        inp = ItemRefineInput(
            audio_path="x.wav", text="t", segments=[], understanding=Understanding(intent="booking")
        )
        return await calls.REFINE_ITEMS(inp, task_queue=own)


def one_slot(base_settings: Settings, unique_queue: str) -> tuple[Settings, str, str]:
    """(settings with one STT thread and slot per queue, the shared STT queue, the process's
    own queue)."""
    shared = f"{unique_queue}-stt"
    temporal = base_settings.temporal.model_copy(
        update={"stt_task_queue": shared, "task_queue": unique_queue}
    )
    stt = base_settings.stt.model_copy(update={"concurrency": 1})
    settings = base_settings.model_copy(update={"temporal": temporal, "stt": stt})
    return settings, shared, f"{shared}@p1"


@activity.defn(name=names.SCORE_ADDRESS_CANDIDATES)
def no_score(inp: object) -> None:
    return None


async def vote_started(client: Client, own: str, unique_queue: str, ran: list[str]) -> None:
    """A vote started on the process's own queue, and running (it appends to `ran`)."""
    await client.start_workflow(
        VoteOnly.run, own, id=f"review-vote-{uuid.uuid4().hex[:6]}", task_queue=unique_queue
    )
    for _ in range(100):
        if ran:
            break
        await asyncio.sleep(0.1)


async def test_a_transcription_an_stt_process_takes_runs_while_its_votes_hold_their_threads(
    client: Client, base_settings: Settings, unique_queue: str
) -> None:
    """The shared-queue Worker and the own-queue Worker have `stt_slots` slots each: with the
    one vote slot busy, the process still takes a transcription from the shared queue, and it
    must run at once (a thread of its own), not wait in the pool with its heartbeat clock
    running and no other STT process able to take it."""
    settings, shared, own = one_slot(base_settings, unique_queue)
    release = threading.Event()
    ran: list[str] = []

    @activity.defn(name=names.REFINE_ITEMS)
    def vote(inp: ItemRefineInput) -> Understanding:
        ran.append("vote")
        release.wait(30)
        return Understanding(intent="booking")

    @activity.defn(name=names.TRANSCRIBE)
    def transcribe(inp: TranscribeInput) -> TranscribeResult:
        ran.append("transcribe")
        return TranscribeResult(text="t", segments=[], duration_s=1.0)

    acts = [transcribe, vote, no_score]
    stt_workers = build_workers(
        client, settings, "stt", stt_activities=acts, stt_worker_queue_name=own
    )
    wf = Worker(client, task_queue=unique_queue, workflows=[TranscribeOnShared, VoteOnly])
    stop = asyncio.Event()
    running = asyncio.create_task(run_workers([wf, *stt_workers], stop))
    try:
        await vote_started(client, own, unique_queue, ran)
        assert ran == ["vote"]  # the one thread is busy
        handle = await client.start_workflow(
            TranscribeOnShared.run,
            shared,
            id=f"review-tr-{uuid.uuid4().hex[:6]}",
            task_queue=unique_queue,
        )
        await asyncio.wait_for(handle.result(), 10)
        # Done while the vote still holds its thread (with one pool of `stt_slots` threads
        # for both queues it was taken, then waited for the vote).
        assert not release.is_set() and ran == ["vote", "transcribe"]
    finally:
        release.set()
        stop.set()
        await running


async def test_a_vote_that_fails_on_its_worker_is_not_sent_again_to_the_shared_queue(
    client: Client, unique_queue: str
) -> None:
    """Only a schedule-to-start timeout falls back: a vote that ran on the worker's own queue
    and failed is the step's failure, not a second series of attempts elsewhere. (No test of
    the change covers this: `worker_gone` returning True for any error passes them all.)"""
    from temporalio.client import WorkflowFailureError
    from temporalio.exceptions import ActivityError, ApplicationError

    shared, own = f"{unique_queue}-stt", f"{unique_queue}-stt@w1"
    seen: list[str] = []

    @activity.defn(name=names.REFINE_ITEMS)
    def failing(inp: ItemRefineInput) -> Understanding:
        seen.append("own")
        raise ApplicationError("bug", non_retryable=True)

    @activity.defn(name=names.REFINE_ITEMS)
    def fine(inp: ItemRefineInput) -> Understanding:
        seen.append("shared")
        return Understanding(intent="shared")

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=4)
    wf = Worker(client, task_queue=unique_queue, workflows=[VoteOnWorkerQueue])
    here = Worker(client, task_queue=own, activities=[failing], activity_executor=pool)
    other = Worker(client, task_queue=shared, activities=[fine], activity_executor=pool)
    stop = asyncio.Event()
    running = asyncio.create_task(run_workers([wf, here, other], stop))
    try:
        handle = await client.start_workflow(
            VoteOnWorkerQueue.run,
            [shared, own],
            id=f"review-fail-{uuid.uuid4().hex[:6]}",
            task_queue=unique_queue,
        )
        try:
            await asyncio.wait_for(handle.result(), 60)
            failed: BaseException | None = None
        except WorkflowFailureError as err:
            failed = err.cause
    finally:
        stop.set()
        await running
        pool.shutdown()
    assert seen == ["own"]
    assert isinstance(failed, ActivityError)


# TRANSCRIBE as calls.py declares it, but a 2-s heartbeat timeout instead of 2 min.
QUICK_TRANSCRIBE = calls.ActivityCall(
    names.TRANSCRIBE,
    TranscribeInput,
    TranscribeResult,
    SHORT_RETRY,
    start_to_close=timedelta(minutes=1),
    heartbeat=timedelta(seconds=2),
    queue=calls.Queue.STT,
)


@workflow.defn(name="SttEdgeQuickTranscribe", sandboxed=False)
class QuickTranscribe:
    @workflow.run
    async def run(self, shared: str) -> TranscribeResult:
        return await QUICK_TRANSCRIBE(TranscribeInput(audio_path="x.wav"), task_queue=shared)


async def test_a_transcription_taken_beside_a_long_vote_runs_once(
    client: Client, base_settings: Settings, unique_queue: str
) -> None:
    """With one pool for both queues, the transcription taken while the one thread was on a
    vote did not heartbeat while it waited; past its heartbeat timeout (2 min in calls.py, 2 s
    here, the vote 6 s here) the attempt was lost and retried, and the stale attempt still ran
    when a thread freed: the same transcription computed twice. Now it runs at once, once."""
    settings, shared, own = one_slot(base_settings, unique_queue)
    ran: list[str] = []

    @activity.defn(name=names.REFINE_ITEMS)
    def vote(inp: ItemRefineInput) -> Understanding:
        ran.append("vote")
        time.sleep(6)
        return Understanding(intent="booking")

    @activity.defn(name=names.TRANSCRIBE)
    def transcribe(inp: TranscribeInput) -> TranscribeResult:
        ran.append(f"transcribe#{activity.info().attempt}")
        activity.heartbeat()
        return TranscribeResult(text="t", segments=[], duration_s=1.0)

    acts = [transcribe, vote, no_score]
    stt_workers = build_workers(
        client, settings, "stt", stt_activities=acts, stt_worker_queue_name=own
    )
    wf = Worker(client, task_queue=unique_queue, workflows=[QuickTranscribe, VoteOnly])
    stop = asyncio.Event()
    running = asyncio.create_task(run_workers([wf, *stt_workers], stop))
    try:
        await vote_started(client, own, unique_queue, ran)
        handle = await client.start_workflow(
            QuickTranscribe.run,
            shared,
            id=f"review-tr-{uuid.uuid4().hex[:6]}",
            task_queue=unique_queue,
        )
        await asyncio.wait_for(handle.result(), 60)
        await asyncio.sleep(1)
    finally:
        stop.set()
        await running
    print(f"ran in this process: {ran}")
    assert [r for r in ran if r.startswith("transcribe")] == ["transcribe#1"]
