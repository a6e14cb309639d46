"""The daily route-sheet export on the real dev server: the Schedule is created at the calendar's
cut-off in its time zone (and updated, keeping a pause, by a second `ensure`), a direct trigger
runs RouteSheetExportWorkflow to completion, and the workflow run for Thursday's cut-off writes
Friday's sheets with their counts in its current details."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client, ScheduleUpdate, ScheduleUpdateInput
from temporalio.worker import Worker

from activities.route_sheets.export import RouteSheetActivities
from domain import names
from domain.route_sheets import RouteSheetExportInput, RouteSheetExportResult
from tests.activities.test_route_sheets import THURSDAY_CUTOFF, book_friday
from tests.workflows.test_voicemail import case_settings, store
from workers.settings import Settings
from workers.worker.schedules import ensure_route_sheet_schedule, route_sheet_times
from workflows.route_sheets import RouteSheetExportWorkflow


async def test_schedule_at_the_cut_off_and_a_triggered_run(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    schedule_id = f"route-sheets-{uuid.uuid4().hex[:6]}"
    settings = settings.model_copy(
        update={
            "route_sheets": settings.route_sheets.model_copy(
                update={"schedule_id": schedule_id, "output_dir": tmp_path / "sheets"}
            )
        }
    )
    assert route_sheet_times(settings) == ([(17, 0)], "Europe/Paris")
    booking_store = store(settings)
    booking_store.create_schema()
    activities = RouteSheetActivities(booking_store, settings.route_sheets)
    with ThreadPoolExecutor(2) as executor:
        async with Worker(
            client,
            task_queue=settings.temporal.task_queue,
            workflows=[RouteSheetExportWorkflow],
            activities=[activities.export_route_sheets],
            activity_executor=executor,
        ):
            assert await ensure_route_sheet_schedule(client, settings) == "created"
            handle = client.get_schedule_handle(schedule_id)
            desc = await handle.describe()
            [spec] = desc.schedule.spec.calendars
            assert [r.start for r in spec.hour] == [17] and [r.start for r in spec.minute] == [0]
            assert desc.schedule.spec.time_zone_name == "Europe/Paris"

            # Ops pause it in the UI; a worker restart updates it and keeps the pause.
            def pause(current: ScheduleUpdateInput) -> ScheduleUpdate:
                state = current.description.schedule.state
                state.paused, state.note = True, "pause ops"
                return ScheduleUpdate(current.description.schedule)

            await handle.update(pause)
            assert await ensure_route_sheet_schedule(client, settings) == "updated"
            assert (await handle.describe()).schedule.state.paused

            await handle.unpause()
            await handle.trigger()
            run_id = ""
            for _ in range(100):
                recent = (await handle.describe()).info.recent_actions
                if recent:
                    run_id = recent[-1].action.workflow_id
                    break
                await asyncio.sleep(0.1)
            assert run_id.startswith(schedule_id)
            result = await client.get_workflow_handle(
                run_id, result_type=RouteSheetExportResult
            ).result()
            assert isinstance(result, RouteSheetExportResult)
            await handle.delete()


async def test_workflow_writes_the_settled_rounds(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    booking_store = store(settings)
    booking_store.create_schema()
    book_friday(booking_store)
    rs = settings.route_sheets.model_copy(update={"output_dir": tmp_path / "sheets"})
    activities = RouteSheetActivities(booking_store, rs)
    with ThreadPoolExecutor(2) as executor:
        async with Worker(
            client,
            task_queue=settings.temporal.task_queue,
            workflows=[RouteSheetExportWorkflow],
            activities=[activities.export_route_sheets],
            activity_executor=executor,
        ):
            handle = await client.start_workflow(
                names.ROUTE_SHEETS_WORKFLOW,
                RouteSheetExportInput(now=THURSDAY_CUTOFF),
                id=f"route-sheets-{uuid.uuid4().hex[:6]}",
                task_queue=settings.temporal.task_queue,
                result_type=RouteSheetExportResult,
            )
            result = await handle.result()
            details = await handle.query("__temporal_workflow_metadata")
    assert [(s.day, s.sector, s.pickups, s.capacity, s.items) for s in result.sheets] == [
        ("2026-03-06", "13205", 3, 25, 7)
    ]
    assert (tmp_path / "sheets" / "2026-03-06" / "tournee-2026-03-06-13205.pdf").exists()
    text = str(details)
    assert "3/25 enlèvements, 7 objets" in text and "Boulevard" not in text
