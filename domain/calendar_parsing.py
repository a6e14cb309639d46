"""Reading a service calendar from its plain mapping (corpus/calendar.yaml once parsed):
every key checked, every error a `CalendarError` naming the key, so that a typo never falls
back to a default silently. Pure: the YAML itself is read in
`activities.bookings.calendar_file.load_calendar`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any

import holidays

from domain.calendar import (
    DEFAULT_REMINDER_TIME,
    OVER_LIMIT_BOOK_WHAT_FITS,
    OVER_LIMIT_POLICIES,
    WEEKDAY_NAMES,
    CalendarError,
    CallCentreHours,
    SectorRules,
    ServiceCalendar,
    holiday_subdivision,
)

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


def _subdivision(value: Any) -> str:
    text = _str(value, "holiday_subdivision", allow_empty=True)
    try:
        return holiday_subdivision(text)
    except ValueError:
        known = ", ".join(holidays.France.subdivisions)
        raise CalendarError(
            f"holiday_subdivision: unknown subdivision {text!r} (expected one of {known}, "
            "or a name such as Moselle, Alsace, La Réunion)"
        ) from None


def parse_calendar(data: Mapping[str, Any]) -> ServiceCalendar:
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
            "holiday_subdivision",
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

    subdivision = _subdivision(root.get("holiday_subdivision", ""))
    sectors = {k: replace(v, holiday_subdivision=subdivision) for k, v in sectors.items()}
    if default_sector is not None:
        default_sector = replace(default_sector, holiday_subdivision=subdivision)
    return ServiceCalendar(
        timezone=timezone,
        sectors=MappingProxyType(sectors),
        default_sector=default_sector,
        holiday_subdivision=subdivision,
        call_centre=replace(
            _parse_call_centre(root["call_centre"]), holiday_subdivision=subdivision
        ),
        reminder_time=(
            _clock_time(root["reminder_time"], "reminder_time")
            if "reminder_time" in root
            else DEFAULT_REMINDER_TIME
        ),
    )
