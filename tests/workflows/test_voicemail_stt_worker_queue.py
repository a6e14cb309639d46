"""The audio votes of a message go to the worker that transcribed it, which keeps its decoded
audio (issue 15, workflows/pipeline_steps.py); when that worker is gone they go to the shared
STT queue and another worker decodes again: the case ends the same (real dev server, real
Whisper, demo01).

With ENCOMBOT_RECORD_HISTORIES=1 both cases' histories are written to
tests/workflows/histories/i15-stt-worker-queue/ (with the session's test-only codec key), which
test_replay.py replays on every run: the `stt-worker-queue` patch's marker included."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client, WorkflowHandle

from activities.speech.engine import SpeechEngine
from activities.speech.feature_cache import FeatureCache
from domain.models import Status, VoicemailResult
from domain.names import booking_follow_up_workflow_id
from tests.workflows.recording import record_history
from tests.workflows.test_voicemail import case_settings, store, submit
from workers.settings import Settings
from workers.worker.composition import stt_activity_methods, workers_running

HISTORIES = Path(__file__).parent / "histories" / "i15-stt-worker-queue"
GONE_HISTORIES = Path(__file__).parent / "histories" / "i15-stt-worker-gone-remembered"
VOTES = {"refine_items", "score_address_candidates"}


async def _queues(handle: WorkflowHandle[Any, Any]) -> tuple[list[tuple[str, str]], int]:
    """(activity, task queue) of each STT activity scheduled, in order; and how many activity
    attempts ended on a schedule-to-start timeout."""
    history = await handle.fetch_history()
    scheduled = []
    timed_out = 0
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = e.activity_task_scheduled_event_attributes
            if a.activity_type.name in VOTES | {"transcribe_voicemail"}:
                scheduled.append((a.activity_type.name, a.task_queue.name))
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            info = e.activity_task_timed_out_event_attributes.failure.timeout_failure_info
            timed_out += info.timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
    return scheduled, timed_out


def _cache(act: Any) -> FeatureCache:
    cache = act.__self__._features.cache
    assert cache is not None
    return cache


async def _book(
    client: Client, settings: Settings, call_id: str, histories: Path = HISTORIES
) -> tuple[Any, VoicemailResult]:
    handle, started = await submit(client, settings, "demo01", call_id)
    assert started
    result: VoicemailResult = await asyncio.wait_for(handle.result(), 240)
    await client.get_workflow_handle(booking_follow_up_workflow_id(call_id)).terminate("test over")
    await record_history(handle, settings, histories, "VoicemailWorkflow")
    return handle, result


async def test_the_votes_go_to_the_worker_that_transcribed(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    shared = settings.temporal.stt_task_queue
    own = f"{shared}@w1"
    acts = stt_activity_methods(stt, worker_queue=own)
    call_id = f"vmwq-{uuid.uuid4().hex[:6]}"
    async with workers_running(
        client, settings, "all", stt_activities=acts, stt_worker_queue_name=own
    ):
        handle, result = await _book(client, settings, call_id)
    assert result.status == Status.BOOKED
    scheduled, timed_out = await _queues(handle)
    assert scheduled == [
        ("transcribe_voicemail", shared),
        ("refine_items", own),
        ("score_address_candidates", own),
    ]
    assert timed_out == 0
    cache = _cache(acts[0])
    # The transcription decoded (the one miss); the address vote read what it kept.
    assert cache.misses == 1 and cache.hits >= 1
    assert len(cache) == 0  # and, the last of the message, dropped it


async def test_the_votes_fall_back_to_the_shared_queue_when_that_worker_is_gone(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    shared = settings.temporal.stt_task_queue
    gone = f"{shared}@gone"
    # The worker that transcribed names its own queue, then is gone: nobody polls that queue.
    # The votes are taken on the shared queue by another worker, whose cache is empty.
    transcribing = stt_activity_methods(stt, worker_queue=gone)
    other = stt_activity_methods(stt)
    acts = [transcribing[0], *other[1:]]
    call_id = f"vmwq-{uuid.uuid4().hex[:6]}"
    async with workers_running(client, settings, "all", stt_activities=acts):
        handle, result = await _book(client, settings, call_id, GONE_HISTORIES)
    assert result.status == Status.BOOKED
    scheduled, timed_out = await _queues(handle)
    # The address vote, after the items' found the worker gone, is not sent there again.
    assert scheduled == [
        ("transcribe_voicemail", shared),
        ("refine_items", gone),
        ("refine_items", shared),
        ("score_address_candidates", shared),
    ]
    assert timed_out == 1
    cache = _cache(other[1])
    # Decoded again there, once (a second vote reads what the first kept).
    assert cache.misses == 1
    booking = store(settings).get_by_call(call_id)
    assert booking is not None and "Chave" in booking.street
