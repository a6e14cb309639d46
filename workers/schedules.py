"""Temporal Schedules of the project: the daily purge (personal-data retention).

`ensure_purge_schedule` is idempotent: it creates the schedule, or brings an existing one in
line with the settings (time, retention periods, task queue) while keeping its paused/note
state, so that ops may pause it in the UI without a worker restart undoing that."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from domain.retention import PURGE_WORKFLOW, PurgeInput
from workers.settings import Settings


def purge_schedule(settings: Settings, state: ScheduleState | None = None) -> Schedule:
    retention = settings.retention
    hour, minute = (int(part) for part in retention.run_at.split(":"))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PURGE_WORKFLOW,
            PurgeInput(booking_days=retention.booking_days, audio_days=retention.audio_days),
            id=retention.schedule_id,  # the server appends the scheduled time
            task_queue=settings.temporal.task_queue,
            execution_timeout=timedelta(hours=6),
            static_summary="Purge quotidienne (audio, réservations anciennes)",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])
            ],
            time_zone_name=retention.time_zone,
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP,
            # A server down at 03:30 still runs the purge when it is back the same day.
            catchup_window=timedelta(hours=23),
        ),
        state=state or ScheduleState(note="encombot: rétention des données personnelles"),
    )


async def ensure_purge_schedule(client: Client, settings: Settings) -> str:
    """Create or update the purge schedule; returns "created" or "updated"."""
    schedule_id = settings.retention.schedule_id
    try:
        await client.create_schedule(schedule_id, purge_schedule(settings))
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(purge_schedule(settings, current.description.schedule.state))

    await client.get_schedule_handle(schedule_id).update(updater)
    return "updated"
