"""Bad-input proof of issue 9: 1,000 generated malformed or unusual audio inputs
(tests/fakes/bad_audio.py: truncated, random bytes, zero-length, hours long, stereo,
8/16/44.1/48 kHz, 8-bit, float, µ-law, A-law, mp3, ogg/vorbis, ogg/opus, flac, aac, WAV
headers that lie, files that are not audio) submitted at once to one worker process.

Each must end as a processed message or an `audio_unusable` escalation, within a bounded time,
with no worker crash (the same process, never restarted) and no retry storm (every
transcription attempted exactly once: a property of the file is not retried). Slow (about 10
minutes on 2 cores): marked `slow`, run by `make test-slow` and `.ci/run`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from corpus import DEMO_DIR
from domain import names
from tests.conftest import ARTIFACTS
from tests.fakes.bad_audio import SPEECH, UNUSABLE, generate
from tests.harness import Submitted, System, mobile_number

pytestmark = [
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="function"),
    pytest.mark.timeout(3600),
]

COUNT = int(os.environ.get("ENCOMBOT_PROOF_BAD_INPUTS", "1000"))
# A transcription attempt on any of these inputs, refused or not, ends within this (the
# longest valid input is a 16 s message; the hours-long ones are cut at max_duration_s).
ATTEMPT_BOUND_S = 120.0


async def transcription_attempts(system: System, workflow_id: str) -> list[tuple[int, float]]:
    """(attempt, seconds from start to close) of each transcription in the history."""
    handle = system.client.get_workflow_handle(workflow_id)
    scheduled: dict[int, str] = {}
    started: dict[int, tuple[int, float]] = {}
    out = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = attrs.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs_s = event.activity_task_started_event_attributes
            if scheduled.get(attrs_s.scheduled_event_id) == names.TRANSCRIBE:
                started[attrs_s.scheduled_event_id] = (
                    attrs_s.attempt,
                    event.event_time.ToDatetime().timestamp(),
                )
        elif event.event_type in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        ):
            attrs_c = (
                event.activity_task_completed_event_attributes
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                else event.activity_task_failed_event_attributes
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                else event.activity_task_timed_out_event_attributes
            )
            if attrs_c.scheduled_event_id in started:
                attempt, t0 = started[attrs_c.scheduled_event_id]
                out.append((attempt, event.event_time.ToDatetime().timestamp() - t0))
    return out


async def test_a_thousand_bad_inputs(tmp_path: Path) -> None:
    sources = sorted((DEMO_DIR / "audio").glob("*.wav"))
    inputs = generate(tmp_path / "inputs", sources, count=COUNT)
    assert len(inputs) >= COUNT
    tag = f"bad-{uuid.uuid4().hex[:6]}"
    async with System(tmp_path / "system", ovh=False) as system:
        worker = system.start_worker("all")
        batch = [
            Submitted(
                call_id=f"{tag}-{i:04d}",
                workflow_id=f"voicemail-{tag}-{i:04d}",
                caller_number=mobile_number(i),
                audio=item.path,
                expected=item.expect,
            )
            for i, item in enumerate(inputs)
        ]
        started = time.monotonic()
        await system.submit(batch)
        settled = await system.wait_settled([b.workflow_id for b in batch], 2400, poll_s=5)
        wall = time.monotonic() - started

        assert worker.alive and worker.starts == 1, worker.tail()
        outcome = Counter()
        for item, bad in zip(batch, inputs, strict=True):
            s = settled[item.workflow_id]
            unusable = s.status == "waiting_agent" and s.reason == "audio_unusable"
            outcome[(bad.expect, "audio_unusable" if unusable else s.status)] += 1
            if bad.expect == UNUSABLE:
                assert unusable, (bad.path.name, s)
            elif bad.expect == SPEECH:
                assert not unusable, (bad.path.name, s)

        gate = asyncio.Semaphore(16)

        async def attempts(workflow_id: str) -> list[tuple[int, float]]:
            async with gate:
                return await transcription_attempts(system, workflow_id)

        histories = await asyncio.gather(*(attempts(b.workflow_id) for b in batch))
        per_input = [h for h in histories]
        assert all(len(h) == 1 for h in per_input), [
            (b.workflow_id, h) for b, h in zip(batch, per_input, strict=True) if len(h) != 1
        ][:5]
        assert all(h[0][0] == 1 for h in per_input), "a transcription was retried"
        durations = sorted(h[0][1] for h in per_input)
        assert durations[-1] <= ATTEMPT_BOUND_S

        figures = {
            "inputs": len(batch),
            "kinds": dict(Counter(b.kind.split("-")[0] for b in inputs)),
            "outcomes": {f"{k[0]}->{k[1]}": n for k, n in sorted(outcome.items())},
            "wall_s": round(wall, 1),
            "transcription_attempt_s": {
                "p50": round(statistics.median(durations), 3),
                "p95": round(durations[int(0.95 * (len(durations) - 1))], 3),
                "max": round(durations[-1], 3),
            },
            "worker_restarts": worker.starts - 1,
        }
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "resilience-bad_input.json").write_text(json.dumps(figures, indent=1))
        print(figures)
