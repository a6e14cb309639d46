"""`export_route_sheets`: the daily run of the crews' sheets (Schedule `encombot-route-sheets`,
workflows/route_sheets.py). At the cut-off the rounds of the next collection day are settled
(nobody but an agent may cancel any more, no new booking can take that day): for each sector
whose round it settles, one CSV, one printable HTML and one PDF, plus a summary CSV of the day's
load against capacity, under `<output_dir>/<day>/`.

Idempotent: a retry or a rerun rewrites the same files with what the store holds then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.bookings.listing import sectors_booked
from activities.bookings.store import BookingStore
from activities.config import RouteSheetSettings
from activities.route_sheets.build import sheets_for
from activities.route_sheets.pdf import sheet_pdf
from activities.route_sheets.render import (
    file_stem,
    sheet_csv,
    sheet_html,
    summary_csv,
    write_private,
)
from domain.calendar import as_local
from domain.errors import CONFIG_ERROR
from domain.route_sheets import (
    RouteSheetExportInput,
    RouteSheetExportResult,
    SectorSheet,
    SheetSummary,
    days_due,
)


class RouteSheetActivities:
    def __init__(
        self,
        store: BookingStore,
        settings: RouteSheetSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    @activity.defn(name="export_route_sheets")
    def export_route_sheets(self, inp: RouteSheetExportInput) -> RouteSheetExportResult:
        now = self._now(inp.now)
        plan = self.plan(now, inp.day, inp.sector)
        result = RouteSheetExportResult(days=sorted(d.isoformat() for d in plan))
        for day, sectors in sorted(plan.items()):
            sheets = sheets_for(
                self.store.engine,
                self.store.calendar,
                day,
                self.settings,
                sector=inp.sector,
                sectors=sectors,
            )
            sheets = [s for s in sheets if s.sector in sectors or s.stops]
            result.files += self.write_day(day, sheets, now)
            result.sheets += [
                SheetSummary(day.isoformat(), s.sector, s.used, s.capacity, s.total_items)
                for s in sheets
            ]
        return result

    def plan(self, now: datetime, day: str = "", sector: str = "") -> dict[date, set[str]]:
        """Which sectors' sheets each day gets: for `day`, every sector with a pickup (and the
        calendar's own); else, the days whose rounds `now` settles, per sector."""
        calendar, engine = self.store.calendar, self.store.engine
        if day:
            try:
                wanted = date.fromisoformat(day)
            except ValueError:
                raise ApplicationError(
                    f"Date invalide : {day!r} (AAAA-MM-JJ).", type=CONFIG_ERROR, non_retryable=True
                ) from None
            known = {s for s in calendar.sectors if calendar.rules(s).is_collection_day(wanted)}
            chosen = known | sectors_booked(engine, wanted, wanted)
            return {wanted: {s for s in chosen if not sector or s == sector}}
        today = now.date()
        candidates = set(calendar.sectors) | sectors_booked(
            engine, today + timedelta(days=1), today + timedelta(days=14)
        )
        plan: dict[date, set[str]] = {}
        for sector_id in sorted(candidates):
            if sector and sector_id != sector:
                continue
            if not calendar.has_sector(sector_id):
                continue
            for due in days_due(calendar, sector_id, now):
                plan.setdefault(due, set()).add(sector_id)
        return plan

    def write_day(self, day: date, sheets: list[SectorSheet], now: datetime) -> list[str]:
        folder = Path(self.settings.output_dir) / day.isoformat()
        written: list[str] = []

        def put(name: str, data: bytes) -> None:
            write_private(folder / name, data)
            written.append(f"{day.isoformat()}/{name}")
            if activity.in_activity():
                activity.heartbeat(len(written))

        for sheet in sheets:
            stem = file_stem(sheet)
            put(f"{stem}.csv", sheet_csv(sheet).encode("utf-8"))
            put(f"{stem}.html", sheet_html(sheet, now).encode("utf-8"))
            if self.settings.pdf:
                put(f"{stem}.pdf", sheet_pdf(sheet, now))
        put(f"recapitulatif-{day.isoformat()}.csv", summary_csv(sheets).encode("utf-8"))
        return written

    def _now(self, value: str) -> datetime:
        tz = self.store.tz
        if not value.strip():
            return self.clock().astimezone(tz)
        try:
            return as_local(datetime.fromisoformat(value.strip()), tz)
        except ValueError:
            raise ApplicationError(
                f"Instant invalide : {value!r} (ISO 8601).", type=CONFIG_ERROR, non_retryable=True
            ) from None
