"""The service calendar file (corpus/calendar.yaml): read, validated by domain/calendar.py."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from domain.calendar import CalendarError, ServiceCalendar


def load_calendar(path: str | Path) -> ServiceCalendar:
    """Read and validate the YAML calendar. Errors (`CalendarError`) start with the file name."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise CalendarError(f"{path}: cannot read the calendar: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path}: invalid YAML: {exc}") from exc
    try:
        calendar = ServiceCalendar.from_dict(data)
    except CalendarError as exc:
        raise CalendarError(f"{path}: {exc}") from exc
    try:
        ZoneInfo(calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(
            f"{path}: timezone: {calendar.timezone!r} is not a known IANA time zone"
        ) from exc
    return calendar
