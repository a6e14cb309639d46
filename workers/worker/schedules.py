"""Temporal Schedules of the project: the daily purge (personal-data retention), the SMS poll
(callers' replies, every `sms.poll_interval_s` seconds) and the crews' route sheets (daily at
the calendar's cut-offs).

`ensure_purge_schedule` and `ensure_sms_poll_schedule` are idempotent: they create the
schedule, or bring an existing one in line with the settings (time, retention periods, task
queue) while keeping its paused/note state, so that ops may pause it in the UI without a
worker restart undoing that."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.bookings.calendar_file import load_calendar
from domain.names import ROUTE_SHEETS_WORKFLOW, SMS_POLL_WORKFLOW
from domain.retention import PURGE_WORKFLOW, PurgeInput
from domain.route_sheets import RouteSheetExportInput
from domain.sms_models import SmsPollInput
from workers.settings import Settings


def purge_schedule(settings: Settings, state: ScheduleState | None = None) -> Schedule:
    retention = settings.retention
    hour, minute = (int(part) for part in retention.run_at.split(":"))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PURGE_WORKFLOW,
            PurgeInput(
                booking_days=retention.booking_days,
                audio_days=retention.audio_days,
                sms_days=retention.sms_days,
                case_days=retention.case_days,
            ),
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


async def _create_or_update(
    client: Client, schedule_id: str, build: Callable[[ScheduleState | None], Schedule]
) -> str:
    """Create the schedule, or bring an existing one in line with `build` while keeping its
    state (paused, note) as ops left it in the UI; returns "created" or "updated"."""
    try:
        await client.create_schedule(schedule_id, build(None))
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(build(current.description.schedule.state))

    await client.get_schedule_handle(schedule_id).update(updater)
    return "updated"


async def ensure_purge_schedule(client: Client, settings: Settings) -> str:
    """Create or update the purge schedule; returns "created" or "updated"."""
    return await _create_or_update(
        client, settings.retention.schedule_id, lambda state: purge_schedule(settings, state)
    )


def sms_poll_schedule(settings: Settings, state: ScheduleState | None = None) -> Schedule:
    sms = settings.sms
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SMS_POLL_WORKFLOW,
            SmsPollInput(max_messages=sms.poll_max_messages),
            id=sms.poll_schedule_id,  # the server appends the scheduled time
            task_queue=settings.temporal.task_queue,
            # Longer than one poll with its retries; shorter than a pile-up of stuck runs.
            execution_timeout=timedelta(minutes=5),
            static_summary="Lecture des SMS reçus (réponses des appelants)",
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=sms.poll_interval_s))]
        ),
        policy=SchedulePolicy(
            # A slow poll is never joined by a second one reading the same messages.
            overlap=ScheduleOverlapPolicy.SKIP,
            # Polls missed while the server was down are not replayed: the next one reads
            # everything that waits.
            catchup_window=timedelta(minutes=1),
        ),
        state=state or ScheduleState(note="encombot: réponses SMS des appelants"),
    )


async def ensure_sms_poll_schedule(client: Client, settings: Settings) -> str:
    """Create or update the SMS poll schedule; returns "created" or "updated". With
    `sms.poll_enabled = false` (the webhook is the only way in) an existing schedule is
    deleted ("deleted"), else nothing is done ("disabled")."""
    schedule_id = settings.sms.poll_schedule_id
    handle = client.get_schedule_handle(schedule_id)
    if not settings.sms.poll_enabled:
        try:
            await handle.delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return "disabled"
        return "deleted"
    return await _create_or_update(
        client, schedule_id, lambda state: sms_poll_schedule(settings, state)
    )


def route_sheet_times(settings: Settings) -> tuple[list[tuple[int, int]], str]:
    """((hour, minute) of each daily run, time zone): the configured times, else every
    distinct cut-off of the calendar, when the rounds of the next collection day settle."""
    calendar = load_calendar(settings.booking.calendar_file)
    if settings.route_sheets.run_at:
        texts = settings.route_sheets.run_at
    else:
        rules = [calendar.rules(s) for s in calendar.sectors]
        if calendar.default_sector is not None:
            rules.append(calendar.default_sector)
        texts = sorted({r.cutoff.strftime("%H:%M") for r in rules})
    times = []
    for text in texts:
        hour, _, minute = text.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError(f"route_sheets.run_at: {text!r} is not HH:MM")
        times.append((int(hour), int(minute)))
    return sorted(set(times)), calendar.timezone


def route_sheet_schedule(settings: Settings, state: ScheduleState | None = None) -> Schedule:
    times, time_zone = route_sheet_times(settings)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ROUTE_SHEETS_WORKFLOW,
            RouteSheetExportInput(),
            id=settings.route_sheets.schedule_id,  # the server appends the scheduled time
            task_queue=settings.temporal.task_queue,
            execution_timeout=timedelta(hours=1),
            static_summary="Feuilles de route des équipes (tournées du prochain jour de collecte)",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(hour=[ScheduleRange(h)], minute=[ScheduleRange(m)])
                for h, m in times
            ],
            time_zone_name=time_zone,
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP,
            # A run missed while the server was down still publishes that evening's rounds,
            # but never the next morning's, when the crews are already out.
            catchup_window=timedelta(hours=6),
        ),
        state=state or ScheduleState(note="encombot: feuilles de route des équipes"),
    )


async def ensure_route_sheet_schedule(client: Client, settings: Settings) -> str:
    """Create or update the route-sheet schedule ("created" / "updated"); with
    `route_sheets.schedule_enabled = false` an existing one is deleted ("deleted"), else
    nothing is done ("disabled")."""
    schedule_id = settings.route_sheets.schedule_id
    if not settings.route_sheets.schedule_enabled:
        try:
            await client.get_schedule_handle(schedule_id).delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return "disabled"
        return "deleted"
    return await _create_or_update(
        client, schedule_id, lambda state: route_sheet_schedule(settings, state)
    )
