"""The dates and instants the booking activities are given, as local datetimes."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from temporalio.exceptions import ApplicationError

from domain.calendar import as_local
from domain.errors import BOOKING_REJECTED


def parse_requested_at(value: str, tz: ZoneInfo) -> datetime:
    """`BookInput.requested_on` as a local datetime: "YYYY-MM-DD" is the start of that day
    (before any cut-off); a full ISO datetime with an offset is converted to local time, so a
    workflow may pass the time the voicemail was received and get the cut-off applied."""
    text_value = value.strip()
    if len(text_value) == 10:
        return datetime.combine(date.fromisoformat(text_value), time(0, 0))
    parsed = datetime.fromisoformat(text_value)
    return parsed.astimezone(tz) if parsed.tzinfo else parsed


def parse_instant(value: str, tz: ZoneInfo) -> datetime | None:
    """An instant given to an activity (ISO 8601, with an offset or naive local time) in the
    zone `tz`; None when empty. Not ISO 8601: a non-retryable error (a retry cannot fix it)."""
    if not value.strip():
        return None
    try:
        return as_local(datetime.fromisoformat(value.strip()), tz)
    except ValueError:
        raise ApplicationError(
            f"Date invalide : {value!r} (attendu ISO 8601).",
            type=BOOKING_REJECTED,
            non_retryable=True,
        ) from None
