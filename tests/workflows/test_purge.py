"""Retention: the purge workflow on the real dev server (with a `now` override instead of time
skipping) deletes old audio and anonymises old bookings, idempotently; the daily Schedule is
created idempotently, keeps an operator's pause, carries an encrypted input and runs."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
)

from activities.speech.engine import SpeechEngine
from domain.models import AddressMatch, BookingStatus, BookInput, ItemCount
from domain.retention import PURGE_WORKFLOW, PurgeInput, PurgeResult
from tests.workflows.test_voicemail import CALLER, case_settings, running_worker, store
from workers.codec.payload import ENCODING
from workers.settings import Settings
from workers.worker.schedules import ensure_purge_schedule


def address(housenumber: str) -> AddressMatch:
    return AddressMatch(
        housenumber=housenumber,
        street="Boulevard Chave",
        postcode="13005",
        citycode="13205",
        city="Marseille",
        lon=5.393,
        lat=43.297,
        score=1.0,
        sector="13205",
    )


def touch(path: Path, when: datetime, content: bytes = b"RIFF....WAVE") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


async def test_purge_deletes_old_audio_and_anonymises_old_bookings(
    client: Client,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    settings = settings.model_copy(update={"audio_dir": tmp_path / "audio"})
    now = datetime.now(UTC)
    purge_now = now + timedelta(days=60)  # the override: no time skipping needed

    bookings = store(settings)
    bookings.create_schema()
    items = [ItemCount("canapé", 1), ItemCount("chaise", 2)]
    old = bookings.book(
        BookInput("call-old", "13205", address("12"), items, caller_number=CALLER), now
    )
    recent = bookings.book(
        BookInput("call-recent", "13205", address("14"), items, caller_number=CALLER),
        now + timedelta(days=50),
    )
    assert old.status == recent.status == BookingStatus.BOOKED
    audio = settings.audio_dir
    old_wav = touch(audio / "2026" / "11" / "call-old.wav", purge_now - timedelta(days=40))
    new_wav = touch(audio / "call-new.wav", purge_now - timedelta(days=5))
    outside = touch(tmp_path / "elsewhere.wav", purge_now - timedelta(days=90))
    link = audio / "link.wav"
    link.symlink_to(outside)
    os.utime(link, (0, (purge_now - timedelta(days=40)).timestamp()), follow_symlinks=False)

    # case_days=0: other tests' cases on the shared server are not this test's to close.
    inp = PurgeInput(booking_days=30, audio_days=30, case_days=0, now=purge_now.isoformat())
    async with running_worker(client, settings, stt):
        first: PurgeResult = await client.execute_workflow(
            PURGE_WORKFLOW,
            inp,
            id=f"purge-{uuid.uuid4().hex[:6]}",
            task_queue=settings.temporal.task_queue,
            result_type=PurgeResult,
        )
        second: PurgeResult = await client.execute_workflow(
            PURGE_WORKFLOW,
            inp,
            id=f"purge-{uuid.uuid4().hex[:6]}",
            task_queue=settings.temporal.task_queue,
            result_type=PurgeResult,
        )

    assert first.pickup_before == (purge_now - timedelta(days=30)).date().isoformat()
    assert (first.audio_deleted, first.bookings_anonymised, first.errors) == (2, 1, [])
    assert (second.audio_deleted, second.bookings_anonymised) == (0, 0)  # idempotent
    assert not old_wav.exists() and not old_wav.parent.exists()  # emptied folders go too
    assert not link.is_symlink() and outside.exists()  # a link, never its target
    assert new_wav.exists()

    gone = bookings.get_by_reference(old.reference)
    assert gone is not None
    assert (gone.housenumber, gone.street, gone.caller_number, gone.lon, gone.lat) == (
        "",
        "",
        "",
        None,
        None,
    )
    # What statistics need stays.
    assert gone.sector == "13205" and gone.pickup_date.isoformat() == old.pickup_date
    assert gone.items == items and gone.status == "booked" and gone.postcode == "13005"
    events = bookings.events(gone.id)
    assert [e["action"] for e in events] == ["booked", "anonymised"]
    assert events[-1]["actor"] == "bot"
    kept = bookings.get_by_reference(recent.reference)
    assert kept is not None and kept.street == "Boulevard Chave" and kept.caller_number == CALLER


async def test_purge_schedule_is_idempotent_keeps_a_pause_and_runs(
    client: Client,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    schedule_id = f"encombot-purge-{uuid.uuid4().hex[:6]}"
    retention = settings.retention.model_copy(
        update={"schedule_id": schedule_id, "booking_days": 45, "run_at": "04:15"}
    )
    settings = settings.model_copy(update={"retention": retention, "audio_dir": tmp_path / "audio"})
    handle = client.get_schedule_handle(schedule_id)
    try:
        assert await ensure_purge_schedule(client, settings) == "created"
        await handle.pause(note="maintenance")
        assert await ensure_purge_schedule(client, settings) == "updated"
        desc = await handle.describe()
        assert desc.schedule.state.paused and desc.schedule.state.note == "maintenance"
        [calendar] = desc.schedule.spec.calendars
        assert [r.start for r in calendar.hour] == [4] and [r.start for r in calendar.minute] == [
            15
        ]
        assert desc.schedule.spec.time_zone_name == "Europe/Paris"
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == PURGE_WORKFLOW
        assert action.task_queue == settings.temporal.task_queue
        [raw] = action.args
        assert isinstance(raw, Payload) and raw.metadata["encoding"] == ENCODING
        [args] = await client.data_converter.decode([raw], [PurgeInput])
        assert args == PurgeInput(booking_days=45, audio_days=30)

        await handle.unpause()
        async with running_worker(client, settings, stt):
            await handle.trigger()
            for _ in range(100):
                desc = await handle.describe()
                if desc.info.recent_actions:
                    break
                await asyncio.sleep(0.1)
            run = desc.info.recent_actions[-1].action
            assert isinstance(run, ScheduleActionExecutionStartWorkflow)
            purge = client.get_workflow_handle(run.workflow_id, result_type=PurgeResult)
            result = await asyncio.wait_for(purge.result(), 60)
        assert result.errors == []
    finally:
        await handle.delete()
