"""The service calendar: which days each collection sector is served, how many places a day,
and how far ahead a request may book.

Pure: built from a plain mapping (the YAML is read in
`activities.bookings.calendar_file.load_calendar`); no I/O. The booking rules take datetimes
already in the calendar's local time (`ServiceCalendar.timezone`). The functions that answer
with an instant (`reminder_at`, `next_opening`, `ServiceCalendar.cancel_deadline`) use
`zoneinfo` for the calendar's zone: tzdata is read once and cached, and the result depends on
the arguments only, so a workflow may call them too (import this module inside
`imports_passed_through()`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from domain.models import ItemCount

WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# What a request with more items than `max_items` gets: the first items up to the limit are
# booked and the SMS names the rest, or nothing is booked and a person takes over.
OVER_LIMIT_BOOK_WHAT_FITS = "book_what_fits"
OVER_LIMIT_ESCALATE = "escalate"
OVER_LIMIT_POLICIES = (OVER_LIMIT_BOOK_WHAT_FITS, OVER_LIMIT_ESCALATE)
DEFAULT_REMINDER_TIME = time(18, 0)


class CalendarError(ValueError):
    """The calendar data is invalid. The message names the key path and what was expected."""


class UnknownSectorError(LookupError):
    """No rules for this sector and the calendar has no `default_sector`."""

    def __init__(self, sector: str) -> None:
        super().__init__(
            f"unknown collection sector {sector!r} and no default_sector in the calendar"
        )
        self.sector = sector


# --------------------------------------------------------------------------- public holidays


@lru_cache(maxsize=256)
def _holidays(year: int, subdivision: str = "") -> Mapping[date, str]:
    # The `holidays` package (python-holidays): the 11 national days, Easter-based ones included,
    # plus a subdivision's own (Alsace-Moselle: Good Friday, 26 December; overseas: abolition
    # of slavery…). Read-only: the mapping is shared by every caller through the cache.
    days = holidays.country_holidays("FR", subdiv=subdivision or None, years=year, language="fr")
    return MappingProxyType(dict(sorted(days.items())))


def holiday_subdivision(name: str) -> str:
    """The `holidays` code of a French subdivision ("57", "6AE", "974"…) from its code or
    name ("Moselle", "Alsace", "La Réunion"); "" for the national calendar. ValueError when
    unknown."""
    if not name:
        return ""
    if name in holidays.France.subdivisions:
        return name
    aliases = holidays.France.subdivisions_aliases
    if name in aliases:
        return str(aliases[name])
    raise ValueError(name)


def french_public_holidays(year: int, subdivision: str = "") -> Mapping[date, str]:
    """The public holidays of France (of `subdivision` when given: its own days added),
    date -> French name, in date order."""
    return _holidays(year, subdivision)


def is_public_holiday(day: date, subdivision: str = "") -> bool:
    return day in _holidays(day.year, subdivision)


def is_working_day(day: date, subdivision: str = "") -> bool:
    """Monday to Friday, public holidays excluded: the days the service processes requests."""
    return day.weekday() < 5 and not is_public_holiday(day, subdivision)


def add_working_days(day: date, count: int, subdivision: str = "") -> date:
    """The `count`-th working day after `day` (`day` itself when count is 0)."""
    if count < 0:
        raise ValueError(f"count must be >= 0 (got {count})")
    current = day
    remaining = count
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current, subdivision):
            remaining -= 1
    return current


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class SectorRules:
    sector_id: str
    name: str
    polygon_source: str
    weekdays: frozenset[int]  # date.weekday() values: 0 = Monday
    capacity: int  # places per collection day
    min_lead_working_days: int
    cutoff: time  # requests at or after this local time count from the next day
    max_items: int  # total items (sum of counts) per pickup
    horizon_days: int  # calendar days after the request date searched for a slot
    closed_dates: frozenset[date] = frozenset()  # exceptional no-collection days
    over_limit: str = OVER_LIMIT_BOOK_WHAT_FITS  # an OVER_LIMIT_POLICIES value
    holiday_subdivision: str = ""  # the calendar's (ServiceCalendar.holiday_subdivision)

    def is_collection_day(self, day: date) -> bool:
        return (
            day.weekday() in self.weekdays
            and not is_public_holiday(day, self.holiday_subdivision)
            and day not in self.closed_dates
        )

    def weekday_names(self) -> list[str]:
        return [WEEKDAY_NAMES[i] for i in sorted(self.weekdays)]


@dataclass(frozen=True)
class CallCentreHours:
    """Opening hours of the call centre: weekday -> ranges of local time [start, end)."""

    hours: Mapping[int, tuple[tuple[time, time], ...]]
    closed_on_public_holidays: bool = True
    holiday_subdivision: str = ""  # the calendar's (ServiceCalendar.holiday_subdivision)

    def is_closed_for_holiday(self, day: date) -> bool:
        return self.closed_on_public_holidays and is_public_holiday(day, self.holiday_subdivision)

    def is_open(self, at_local: datetime) -> bool:
        if self.is_closed_for_holiday(at_local.date()):
            return False
        now = at_local.time().replace(tzinfo=None)
        return any(start <= now < end for start, end in self.hours.get(at_local.weekday(), ()))


@dataclass(frozen=True)
class ServiceCalendar:
    timezone: str  # IANA name, e.g. "Europe/Paris"; validated against tzdata by the loader
    sectors: Mapping[str, SectorRules]
    default_sector: SectorRules | None  # template (sector_id "*") for sectors not listed
    call_centre: CallCentreHours
    # Local time of the reminder SMS, on the eve of the pickup.
    reminder_time: time = DEFAULT_REMINDER_TIME
    # Public holidays of a subdivision on top of the national ones (`holidays` code: "57"
    # Moselle, "6AE" Alsace, "974" La Réunion…); "" the national calendar.
    holiday_subdivision: str = ""
    _default_cache: dict[str, SectorRules] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceCalendar:
        """Build and validate. Raises `CalendarError` naming the offending key."""
        from domain.calendar_parsing import parse_calendar

        return parse_calendar(data)

    def has_sector(self, sector: str) -> bool:
        return sector in self.sectors or self.default_sector is not None

    def rules(self, sector: str) -> SectorRules:
        """Rules of `sector`: its own block, else `default_sector` with the id filled in."""
        listed = self.sectors.get(sector)
        if listed is not None:
            return listed
        if self.default_sector is None or not sector:
            raise UnknownSectorError(sector)
        cached = self._default_cache.get(sector)
        if cached is None:
            cached = _with_id(self.default_sector, sector)
            self._default_cache[sector] = cached
        return cached

    def processing_day(self, sector: str, requested_at_local: datetime) -> date:
        """The working day on which the request counts as received: the request date, the
        next day when at or after the cut-off, then the first working day from there."""
        rules = self.rules(sector)
        day = requested_at_local.date()
        if requested_at_local.time().replace(tzinfo=None) >= rules.cutoff:
            day += timedelta(days=1)
        while not is_working_day(day, self.holiday_subdivision):
            day += timedelta(days=1)
        return day

    def earliest_date(self, sector: str, requested_at_local: datetime) -> date:
        """First date a pickup may take place: `min_lead_working_days` working days after the
        processing day (the crew needs that long to plan the round)."""
        rules = self.rules(sector)
        return add_working_days(
            self.processing_day(sector, requested_at_local),
            rules.min_lead_working_days,
            self.holiday_subdivision,
        )

    def last_date(self, sector: str, requested_at_local: datetime) -> date:
        return requested_at_local.date() + timedelta(days=self.rules(sector).horizon_days)

    def candidate_dates(self, sector: str, requested_at_local: datetime) -> Iterator[date]:
        """Collection days of `sector`, in order, from the earliest allowed date up to the
        horizon (inclusive), public holidays and closed dates skipped."""
        rules = self.rules(sector)
        day = self.earliest_date(sector, requested_at_local)
        last = self.last_date(sector, requested_at_local)
        while day <= last:
            if rules.is_collection_day(day):
                yield day
            day += timedelta(days=1)

    def is_call_centre_open(self, at_local: datetime) -> bool:
        return self.call_centre.is_open(at_local)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key

    def cancel_deadline(self, sector: str, pickup_date: date) -> datetime:
        """Last moment (aware, calendar zone) a caller may cancel: the sector's daily cut-off
        on the last working day before the pickup. The round sheet is drawn up that day, as
        a request after the cut-off counts from the next working day; a later cancellation
        would leave a crew in front of an empty pavement and a place nobody can reuse."""
        day = pickup_date - timedelta(days=1)
        while not is_working_day(day, self.holiday_subdivision):
            day -= timedelta(days=1)
        return _local(day, self.rules(sector).cutoff, self.tz)


# --------------------------------------------------------------------------- instants


def _local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    # A wall time inside the spring-forward gap does not exist: fold=0 reads it with the
    # offset before the change, and the UTC round trip turns it into the real instant just
    # after the gap (02:30 on the last Sunday of March -> 03:30 CEST).
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC).astimezone(tz)


def as_local(at: datetime, tz: ZoneInfo) -> datetime:
    """`at` in the zone `tz`; a naive `at` is taken as already local."""
    return at.astimezone(tz) if at.tzinfo is not None else at.replace(tzinfo=tz)


def reminder_at(
    pickup_date: date, calendar: ServiceCalendar, *, booked_at: datetime | None = None
) -> datetime | None:
    """When the reminder SMS is due (aware, UTC): the eve of the pickup at the calendar's
    `reminder_time`, local time, whatever the UTC offset that evening (DST-safe: Sunday
    29 March 2026 18:00 is 16:00 UTC, Sunday 25 October 2026 18:00 is 17:00 UTC).

    With `booked_at` (aware, or naive local), None when that moment is not after it: a
    booking made on the eve after the reminder time gets no reminder, its confirmation SMS
    just went out. A lead time >= 1 working day with a cut-off before the reminder time rules
    it out; a zero lead time or a late cut-off do not."""
    tz = calendar.tz
    due = _local(pickup_date - timedelta(days=1), calendar.reminder_time, tz).astimezone(UTC)
    if booked_at is not None and due <= as_local(booked_at, tz):
        return None
    return due


def next_opening(at: datetime, calendar: ServiceCalendar) -> datetime:
    """`at` itself (in the calendar zone) when the call centre is open then, else the start
    of its next opening range: Saturday 19:00 -> Monday 08:30; the eve of a public holiday
    (when `closed_on_public_holidays`) -> the day after it. `at` aware, or naive local."""
    tz = calendar.tz
    local = as_local(at, tz)
    hours = calendar.call_centre
    if hours.is_open(local.replace(tzinfo=None)):
        return local
    day, now = local.date(), local.time().replace(tzinfo=None)
    # The loader refuses hours with no range at all, so a week plus a run of holidays is
    # enough; the bound only guards against a calendar built without the loader.
    for offset in range(370):
        current = day + timedelta(days=offset)
        if hours.is_closed_for_holiday(current):
            continue
        for start, _end in hours.hours.get(current.weekday(), ()):
            if offset or start > now:
                opening = _local(current, start, tz)
                if opening > local:
                    return opening
    raise ValueError("the call centre never opens: call_centre.hours has no range")


def fit_items(items: list[ItemCount], max_items: int) -> tuple[list[ItemCount], list[ItemCount]]:
    """Split a request at the per-pickup limit: (kept, left out), in request order, counts
    summed; an item whose count crosses the limit is split (3 chairs with 1 place left:
    1 kept, 2 left out)."""
    kept: list[ItemCount] = []
    left_out: list[ItemCount] = []
    room = max_items
    for item in items:
        take = max(0, min(item.count, room))
        room -= take
        if take:
            kept.append(ItemCount(item=item.item, count=take))
        if item.count > take:
            left_out.append(ItemCount(item=item.item, count=item.count - take))
    return kept, left_out


def _with_id(template: SectorRules, sector_id: str) -> SectorRules:
    return SectorRules(
        sector_id=sector_id,
        name=template.name,
        polygon_source=template.polygon_source.replace("{id}", sector_id),
        weekdays=template.weekdays,
        capacity=template.capacity,
        min_lead_working_days=template.min_lead_working_days,
        cutoff=template.cutoff,
        max_items=template.max_items,
        horizon_days=template.horizon_days,
        closed_dates=template.closed_dates,
        over_limit=template.over_limit,
    )
