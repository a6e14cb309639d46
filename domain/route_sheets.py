"""The crews' route sheets: one per sector and collection day, the pickups in the order of a
sensible round (nearest neighbour over the positions, from the depot or the first pickup),
with the load against the sector's capacity; which days a run at the cut-off must publish;
the rows of the CSV.

Pure: no I/O (the store reads the bookings, activities/route_sheets writes the files)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise

from domain.calendar import ServiceCalendar, UnknownSectorError
from domain.labels import items_label
from domain.models import ItemCount

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Stop:
    reference: str
    housenumber: str
    street: str
    postcode: str
    city: str
    lon: float | None
    lat: float | None
    items: list[ItemCount]
    caller_number: str = ""  # "" unless the service keeps it on the sheets

    @property
    def address(self) -> str:
        return " ".join(p for p in (self.housenumber, self.street) if p)

    @property
    def item_count(self) -> int:
        return sum(i.count for i in self.items)

    @property
    def position(self) -> tuple[float, float] | None:
        return (self.lon, self.lat) if self.lon is not None and self.lat is not None else None


@dataclass(frozen=True)
class Depot:
    lon: float
    lat: float
    label: str = "Dépôt"


@dataclass
class SectorSheet:
    sector: str
    name: str
    day: date
    capacity: int  # places (pickups) that day
    stops: list[Stop] = field(default_factory=list)  # in route order
    depot: Depot | None = None
    with_numbers: bool = False

    @property
    def used(self) -> int:
        return len(self.stops)

    @property
    def total_items(self) -> int:
        return sum(s.item_count for s in self.stops)

    @property
    def over_capacity(self) -> bool:
        return self.used > self.capacity

    @property
    def load_percent(self) -> int:
        return round(100 * self.used / self.capacity) if self.capacity else 0

    def route_km(self) -> float:
        points = [s.position for s in self.stops if s.position is not None]
        if self.depot is not None:
            points.insert(0, (self.depot.lon, self.depot.lat))
        return sum(km(a, b) for a, b in pairwise(points))

    def items_by_kind(self) -> list[ItemCount]:
        totals: dict[str, int] = {}
        for stop in self.stops:
            for item in stop.items:
                totals[item.item] = totals.get(item.item, 0) + item.count
        return [ItemCount(k, v) for k, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points, in km (haversine)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def order_route(stops: list[Stop], depot: Depot | None = None) -> list[Stop]:
    """The stops in nearest-neighbour order from the depot (or, without one, from the first
    stop by reference, so that the same bookings always give the same sheet). Stops without a
    position (anonymised or never geocoded) come last, by reference: the crew finds them by
    the address. Ties go to the smaller reference."""
    placed = sorted((s for s in stops if s.position is not None), key=lambda s: s.reference)
    unplaced = sorted((s for s in stops if s.position is None), key=lambda s: s.reference)
    if not placed:
        return unplaced
    route: list[Stop] = []
    if depot is not None:
        here = (depot.lon, depot.lat)
    else:
        route.append(placed.pop(0))
        here = route[0].position  # type: ignore[assignment]
    while placed:
        nearest = min(placed, key=lambda s: (km(here, s.position), s.reference))  # type: ignore[arg-type]
        placed.remove(nearest)
        route.append(nearest)
        here = nearest.position  # type: ignore[assignment]
    return route + unplaced


def sheet(
    sector: str,
    calendar: ServiceCalendar,
    day: date,
    stops: list[Stop],
    *,
    capacity: int | None = None,
    depot: Depot | None = None,
    with_numbers: bool = False,
) -> SectorSheet:
    """The sheet of `sector` on `day`. `capacity`: the day's places when an agent changed
    them (slot_usage), else the calendar's. A sector the calendar no longer knows keeps its
    sheet (the crew still has to go), with no name and the places as stored."""
    try:
        rules = calendar.rules(sector)
        name, planned = rules.name, rules.capacity
    except UnknownSectorError:
        name, planned = "", 0
    kept = [s if with_numbers else _without_number(s) for s in stops]
    return SectorSheet(
        sector=sector,
        name=name,
        day=day,
        capacity=planned if capacity is None else capacity,
        stops=order_route(kept, depot),
        depot=depot,
        with_numbers=with_numbers,
    )


def _without_number(stop: Stop) -> Stop:
    if not stop.caller_number:
        return stop
    return Stop(
        reference=stop.reference,
        housenumber=stop.housenumber,
        street=stop.street,
        postcode=stop.postcode,
        city=stop.city,
        lon=stop.lon,
        lat=stop.lat,
        items=stop.items,
    )


CSV_FIELDS = (
    "ordre",
    "reference",
    "adresse",
    "code_postal",
    "commune",
    "longitude",
    "latitude",
    "objets",
    "nombre_objets",
)
SUMMARY_FIELDS = ("date", "secteur", "nom", "enlevements", "capacite", "charge_pct", "objets")


def csv_fields(with_numbers: bool) -> tuple[str, ...]:
    return (*CSV_FIELDS, "telephone") if with_numbers else CSV_FIELDS


def csv_rows(s: SectorSheet) -> list[dict[str, str]]:
    rows = []
    for n, stop in enumerate(s.stops, start=1):
        row = {
            "ordre": str(n),
            "reference": stop.reference,
            "adresse": stop.address,
            "code_postal": stop.postcode,
            "commune": stop.city,
            "longitude": "" if stop.lon is None else f"{stop.lon:.6f}",
            "latitude": "" if stop.lat is None else f"{stop.lat:.6f}",
            "objets": items_label(stop.items),
            "nombre_objets": str(stop.item_count),
        }
        if s.with_numbers:
            row["telephone"] = stop.caller_number
        rows.append(row)
    return rows


def summary_row(s: SectorSheet) -> dict[str, str]:
    return {
        "date": s.day.isoformat(),
        "secteur": s.sector,
        "nom": s.name,
        "enlevements": str(s.used),
        "capacite": str(s.capacity),
        "charge_pct": str(s.load_percent),
        "objets": str(s.total_items),
    }


def days_due(calendar: ServiceCalendar, sector: str, now_local: datetime) -> list[date]:
    """The collection days of `sector` whose round is settled by `now_local`: those whose
    cancellation deadline (the cut-off on the last working day before them) falls on this
    local day, at or before now. A run at the cut-off on Friday publishes Saturday's, and
    Monday's, rounds; a run before the cut-off publishes nothing yet for that sector."""
    rules = calendar.rules(sector)
    today = now_local.date()
    due = []
    for offset in range(1, 15):
        day = today + timedelta(days=offset)
        if not rules.is_collection_day(day):
            continue
        deadline = calendar.cancel_deadline(sector, day)
        if deadline.date() == today and deadline <= now_local:
            due.append(day)
        elif deadline.date() > today:
            break
    return due


# --------------------------------------------------------------------------- Temporal I/O


@dataclass
class RouteSheetExportInput:
    """The export workflow's and activity's input. `now` (ISO 8601 with an offset): the moment
    of the run (the workflow's clock); `day` (ISO date): publish that day's rounds instead of
    the ones settled at `now` (a rerun by hand); `sector`: only that one."""

    now: str = ""
    day: str = ""
    sector: str = ""


@dataclass
class SheetSummary:
    day: str
    sector: str
    pickups: int
    capacity: int
    items: int


@dataclass
class RouteSheetExportResult:
    days: list[str] = field(default_factory=list)
    sheets: list[SheetSummary] = field(default_factory=list)
    # Paths written, relative to the output folder.
    files: list[str] = field(default_factory=list)
