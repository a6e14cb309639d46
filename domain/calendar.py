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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from domain.models import ItemCount

WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_INDEX = {name: i for i, name in enumerate(WEEKDAY_NAMES)}

# Keys a sector may override from `defaults`, and the keys only a sector block may carry.
_OVERRIDABLE = (
    "min_lead_working_days",
    "cutoff",
    "max_items",
    "over_limit",
    "horizon_days",
    "closed_dates",
)
_SECTOR_OWN = ("name", "polygon_source", "weekdays", "capacity")
_SECTOR_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,31}$")
_HOURS_RANGE_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")

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


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, a.k.a. Meeus/Jones/Butcher)."""
    if year < 1583:
        raise ValueError(f"the Gregorian computus needs a year >= 1583 (got {year})")
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=128)
def _holidays(year: int) -> Mapping[date, str]:
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Jour de l'an",
        easter + timedelta(days=1): "Lundi de Pâques",
        date(year, 5, 1): "Fête du Travail",
        date(year, 5, 8): "Victoire 1945",
        easter + timedelta(days=39): "Ascension",
        easter + timedelta(days=50): "Lundi de Pentecôte",
        date(year, 7, 14): "Fête nationale",
        date(year, 8, 15): "Assomption",
        date(year, 11, 1): "Toussaint",
        date(year, 11, 11): "Armistice 1918",
        date(year, 12, 25): "Noël",
    }
    # Read-only: the mapping is shared by every caller through the cache.
    return MappingProxyType(dict(sorted(days.items())))


def french_public_holidays(year: int) -> Mapping[date, str]:
    """The 11 national public holidays of metropolitan France (without the Alsace-Moselle
    extras), date -> French name, in date order."""
    return _holidays(year)


def is_public_holiday(day: date) -> bool:
    return day in _holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday, public holidays excluded: the days the service processes requests."""
    return day.weekday() < 5 and not is_public_holiday(day)


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` (`day` itself when count is 0)."""
    if count < 0:
        raise ValueError(f"count must be >= 0 (got {count})")
    current = day
    remaining = count
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
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

    def is_collection_day(self, day: date) -> bool:
        return (
            day.weekday() in self.weekdays
            and not is_public_holiday(day)
            and day not in self.closed_dates
        )

    def weekday_names(self) -> list[str]:
        return [WEEKDAY_NAMES[i] for i in sorted(self.weekdays)]


@dataclass(frozen=True)
class CallCentreHours:
    """Opening hours of the call centre: weekday -> ranges of local time [start, end)."""

    hours: Mapping[int, tuple[tuple[time, time], ...]]
    closed_on_public_holidays: bool = True

    def is_open(self, at_local: datetime) -> bool:
        if self.closed_on_public_holidays and is_public_holiday(at_local.date()):
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
    _default_cache: dict[str, SectorRules] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceCalendar:
        """Build and validate. Raises `CalendarError` naming the offending key."""
        return _parse_calendar(data)

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
        while not is_working_day(day):
            day += timedelta(days=1)
        return day

    def earliest_date(self, sector: str, requested_at_local: datetime) -> date:
        """First date a pickup may take place: `min_lead_working_days` working days after the
        processing day (the crew needs that long to plan the round)."""
        rules = self.rules(sector)
        return add_working_days(
            self.processing_day(sector, requested_at_local), rules.min_lead_working_days
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
        while not is_working_day(day):
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
        if hours.closed_on_public_holidays and is_public_holiday(current):
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


# --------------------------------------------------------------------------- parsing


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


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CalendarError(f"{where}: expected a mapping (got {type(value).__name__})")
    return value


def _check_keys(
    block: Mapping[str, Any], where: str, allowed: tuple[str, ...], required: tuple[str, ...]
) -> None:
    unknown = sorted(str(k) for k in block if k not in allowed)
    if unknown:
        raise CalendarError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})"
        )
    missing = [k for k in required if k not in block]
    if missing:
        raise CalendarError(f"{where}: missing required key(s) {', '.join(missing)}")


def _int(value: Any, where: str, minimum: int, maximum: int) -> int:
    # bool is an int subclass: `capacity: yes` must not read as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalendarError(f"{where}: expected an integer (got {value!r})")
    if not minimum <= value <= maximum:
        raise CalendarError(f"{where}: expected {minimum}..{maximum} (got {value})")
    return value


def _str(value: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise CalendarError(f"{where}: expected a non-empty string (got {value!r})")
    return value.strip()


def _clock_time(value: Any, where: str) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 17:00 as the sexagesimal integer 1020.
        raise CalendarError(
            f'{where}: expected a quoted time "HH:MM" (got the number {value}; quote it)'
        )
    text = _str(value, where)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise CalendarError(f'{where}: expected a time "HH:MM" (got {value!r})')
    return time(int(match[1]), int(match[2]))


def _weekdays(value: Any, where: str) -> frozenset[int]:
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise CalendarError(
            f"{where}: expected a non-empty list of {', '.join(WEEKDAY_NAMES)} (got {value!r})"
        )
    days: set[int] = set()
    for item in value:
        key = item.strip().lower() if isinstance(item, str) else item
        if key not in _WEEKDAY_INDEX:
            raise CalendarError(
                f"{where}: {item!r} is not a weekday; expected one of {', '.join(WEEKDAY_NAMES)}"
            )
        days.add(_WEEKDAY_INDEX[key])
    return frozenset(days)


def _dates(value: Any, where: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise CalendarError(f"{where}: expected a list of dates YYYY-MM-DD (got {value!r})")
    out: set[date] = set()
    for item in value:
        if isinstance(item, datetime):
            raise CalendarError(f"{where}: expected a date YYYY-MM-DD, not a datetime ({item})")
        if isinstance(item, date):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise CalendarError(f"{where}: expected a date YYYY-MM-DD (got {item!r})") from None
    return frozenset(out)


def _parse_overridable(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "min_lead_working_days" in block:
        out["min_lead_working_days"] = _int(
            block["min_lead_working_days"], f"{where}.min_lead_working_days", 0, 60
        )
    if "cutoff" in block:
        out["cutoff"] = _clock_time(block["cutoff"], f"{where}.cutoff")
    if "max_items" in block:
        out["max_items"] = _int(block["max_items"], f"{where}.max_items", 1, 1000)
    if "over_limit" in block:
        value = block["over_limit"]
        if value not in OVER_LIMIT_POLICIES:
            raise CalendarError(
                f"{where}.over_limit: expected {' or '.join(OVER_LIMIT_POLICIES)} (got {value!r})"
            )
        out["over_limit"] = value
    if "horizon_days" in block:
        out["horizon_days"] = _int(block["horizon_days"], f"{where}.horizon_days", 1, 366)
    if "closed_dates" in block:
        out["closed_dates"] = _dates(block["closed_dates"], f"{where}.closed_dates")
    return out


def _parse_sector(
    sector_id: str, raw: Any, where: str, defaults: Mapping[str, Any], *, is_default: bool
) -> SectorRules:
    block = _mapping(raw, where)
    required = ("polygon_source", "weekdays", "capacity") + (() if is_default else ("name",))
    _check_keys(block, where, _SECTOR_OWN + _OVERRIDABLE, required)
    merged = {**defaults, **_parse_overridable(block, where)}
    return SectorRules(
        sector_id=sector_id,
        name=_str(block.get("name", ""), f"{where}.name", allow_empty=is_default),
        polygon_source=_str(block["polygon_source"], f"{where}.polygon_source"),
        weekdays=_weekdays(block["weekdays"], f"{where}.weekdays"),
        capacity=_int(block["capacity"], f"{where}.capacity", 0, 100_000),
        min_lead_working_days=merged["min_lead_working_days"],
        cutoff=merged["cutoff"],
        max_items=merged["max_items"],
        horizon_days=merged["horizon_days"],
        closed_dates=merged.get("closed_dates", frozenset()),
        over_limit=merged.get("over_limit", OVER_LIMIT_BOOK_WHAT_FITS),
    )


def _parse_call_centre(raw: Any) -> CallCentreHours:
    where = "call_centre"
    block = _mapping(raw, where)
    _check_keys(block, where, ("hours", "closed_on_public_holidays"), ("hours",))
    closed_on_holidays = block.get("closed_on_public_holidays", True)
    if not isinstance(closed_on_holidays, bool):
        raise CalendarError(
            f"{where}.closed_on_public_holidays: expected true or false "
            f"(got {closed_on_holidays!r})"
        )
    hours_block = _mapping(block["hours"], f"{where}.hours")
    hours: dict[int, tuple[tuple[time, time], ...]] = {}
    for day_name, ranges in hours_block.items():
        day_where = f"{where}.hours.{day_name}"
        if day_name not in _WEEKDAY_INDEX:
            raise CalendarError(
                f"{day_where}: not a weekday; expected one of {', '.join(WEEKDAY_NAMES)}"
            )
        if isinstance(ranges, str) or not isinstance(ranges, list):
            raise CalendarError(f'{day_where}: expected a list of "HH:MM-HH:MM" (got {ranges!r})')
        parsed: list[tuple[time, time]] = []
        for item in ranges:
            match = _HOURS_RANGE_RE.match(item) if isinstance(item, str) else None
            if not match:
                raise CalendarError(f'{day_where}: expected "HH:MM-HH:MM" (got {item!r})')
            start = _clock_time(match[1], day_where)
            end = _clock_time(match[2], day_where)
            if end <= start:
                raise CalendarError(f"{day_where}: range {item!r} ends before it starts")
            parsed.append((start, end))
        hours[_WEEKDAY_INDEX[day_name]] = tuple(sorted(parsed))
    if not any(hours.values()):
        # "Next opening" would never come: out-of-hours cases would wait for ever.
        raise CalendarError(f"{where}.hours: no opening range at all")
    return CallCentreHours(
        hours=MappingProxyType(hours), closed_on_public_holidays=closed_on_holidays
    )


def _parse_calendar(data: Mapping[str, Any]) -> ServiceCalendar:
    root = _mapping(data, "calendar")
    _check_keys(
        root,
        "calendar",
        (
            "version",
            "timezone",
            "reminder_time",
            "defaults",
            "call_centre",
            "default_sector",
            "sectors",
        ),
        ("timezone", "defaults", "call_centre", "sectors"),
    )
    if "version" in root and root["version"] != 1:
        raise CalendarError(f"version: expected 1 (got {root['version']!r})")
    timezone = _str(root["timezone"], "timezone")

    defaults_block = _mapping(root["defaults"], "defaults")
    _check_keys(
        defaults_block,
        "defaults",
        _OVERRIDABLE,
        ("min_lead_working_days", "cutoff", "max_items", "horizon_days"),
    )
    defaults = _parse_overridable(defaults_block, "defaults")

    default_sector = None
    if root.get("default_sector") is not None:
        default_sector = _parse_sector(
            "*", root["default_sector"], "default_sector", defaults, is_default=True
        )

    sectors_block = root["sectors"]
    if sectors_block is None:
        sectors_block = {}
    sectors_block = _mapping(sectors_block, "sectors")
    sectors: dict[str, SectorRules] = {}
    for raw_id, raw in sectors_block.items():
        # An unquoted INSEE code is read by YAML as an int; accept it, it is unambiguous.
        sector_id = (
            str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else raw_id
        )
        if not isinstance(sector_id, str) or not _SECTOR_ID_RE.match(sector_id):
            raise CalendarError(
                f"sectors: {raw_id!r} is not a valid sector id "
                '(expected an INSEE code such as "13205")'
            )
        if sector_id in sectors:
            raise CalendarError(f"sectors.{sector_id}: listed twice")
        sectors[sector_id] = _parse_sector(
            sector_id, raw, f"sectors.{sector_id}", defaults, is_default=False
        )
    if not sectors and default_sector is None:
        raise CalendarError(
            "sectors: no sector listed and no default_sector: nothing can be booked"
        )

    return ServiceCalendar(
        timezone=timezone,
        sectors=MappingProxyType(sectors),
        default_sector=default_sector,
        call_centre=_parse_call_centre(root["call_centre"]),
        reminder_time=(
            _clock_time(root["reminder_time"], "reminder_time")
            if "reminder_time" in root
            else DEFAULT_REMINDER_TIME
        ),
    )
