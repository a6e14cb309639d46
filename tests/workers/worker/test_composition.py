"""What the worker processes register is exactly what the workflows call: one list of the
activities (workflows/calls.py), checked against the composition root queue by queue, so an
activity that no worker runs (a workflow would wait for it forever) or that no workflow calls
(dead code) fails here rather than in production."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from temporalio import activity
from temporalio.client import Client

from activities.config import usable_cores
from activities.live.session import SessionRegistry
from activities.speech.engine import SpeechEngine
from workers.settings import Settings
from workers.telephony.live import build_live_call_activities
from workers.worker.composition import (
    build_default_activities,
    build_stt_activities,
    build_workers,
    stt_activity_methods,
    stt_worker_queue,
)
from workflows.calls import ACTIVITY_NAMES_BY_QUEUE, Queue


def names(functions: Iterable[Callable[..., Any]]) -> list[str]:
    found = []
    for fn in functions:
        definition = activity._Definition.from_callable(fn)
        assert definition is not None and definition.name, fn
        found.append(definition.name)
    return found


def settings_in(base: Settings, tmp: Path) -> Settings:
    data = tmp / "var"
    return base.model_copy(
        update={
            "data_dir": data,
            "audio_dir": data / "audio",
            "booking": base.booking.model_copy(
                update={"database_url": f"sqlite:///{data / 'bookings.sqlite'}"}
            ),
            "sms": base.sms.model_copy(update={"ledger_path": data / "ledger.sqlite"}),
        }
    )


def test_default_workers_register_what_the_workflows_call(
    base_settings: Settings, tmp_path: Path
) -> None:
    # The SMS poller is registered only with a client (it signals the cases it routes to).
    client = cast(Client, object())
    registered = names(build_default_activities(settings_in(base_settings, tmp_path), client))
    assert len(registered) == len(set(registered)), "an activity registered twice"
    assert set(registered) == ACTIVITY_NAMES_BY_QUEUE[Queue.DEFAULT]


def test_stt_workers_register_what_the_workflows_call(stt: SpeechEngine) -> None:
    registered = names(stt_activity_methods(stt))
    assert sorted(registered) == sorted(ACTIVITY_NAMES_BY_QUEUE[Queue.STT])


def test_the_telephony_process_registers_the_dialogue(
    base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    acts = build_live_call_activities(
        settings_in(base_settings, tmp_path), SessionRegistry(), stt=stt
    )
    assert names([acts.run_live_call]) == sorted(ACTIVITY_NAMES_BY_QUEUE[Queue.MEDIA])


async def test_an_stt_worker_polls_its_own_queue_beside_the_shared_one(
    client: Client, base_settings: Settings, stt: SpeechEngine
) -> None:
    def on_queue(name: str) -> Settings:
        # A queue of this test's own: one client registers one worker per queue.
        temporal = base_settings.temporal.model_copy(update={"stt_task_queue": name})
        return base_settings.model_copy(update={"temporal": temporal})

    settings = on_queue(f"composition-{uuid.uuid4().hex[:8]}")
    shared = settings.temporal.stt_task_queue
    own = stt_worker_queue(settings)
    # New at every process start: a restarted worker's follow-ups cannot wait on its old queue.
    assert own.startswith(f"{shared}@") and own != stt_worker_queue(settings)
    acts = stt_activity_methods(stt, worker_queue=own)
    workers = build_workers(client, settings, "stt", stt_activities=acts, stt_worker_queue_name=own)
    assert [w.task_queue for w in workers] == [shared, own]
    # Without a queue of its own, only the shared one (the transcription then names none).
    alone = on_queue(f"{shared}-alone")
    assert [w.task_queue for w in build_workers(client, alone, "stt", stt_activities=acts)] == [
        alone.temporal.stt_task_queue
    ]


def test_an_stt_worker_loads_one_model_replica_per_transcription_at_once(
    base_settings: Settings, tmp_path: Path
) -> None:
    settings = settings_in(base_settings, tmp_path)
    settings = settings.model_copy(
        update={"stt": settings.stt.model_copy(update={"concurrency": 2})}
    )
    [transcribe, *_] = build_stt_activities(settings)
    speech = transcribe.__self__._speech  # type: ignore[attr-defined]
    # Two calls at once run on two replicas instead of queueing for one (README, issue 15).
    assert speech.model().model.num_workers == 2
    # Each with twice its share of the cores, capped at the cores: a message alone uses them.
    cores = usable_cores()
    assert speech.settings.cpu_threads == max(1, min(cores, 2 * (cores // 2)))
