from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from activities.bookings.calendar_file import load_calendar
from corpus import CORPUS_DIR
from domain.calendar import CalendarError
from tests.activities.bookings.common import CALENDAR


def test_shipped_calendar_loads() -> None:
    cal = load_calendar(CORPUS_DIR / "calendar.yaml")
    assert cal.timezone == "Europe/Paris"
    assert {"13201", "13205", "13206", "13208"} <= set(cal.sectors)
    weekdays = {tuple(cal.rules(s).weekday_names()) for s in ("13201", "13205", "13206", "13208")}
    assert len(weekdays) == 4  # different collection days per demo sector
    assert cal.rules("13207").capacity > 0  # default_sector
    assert cal.rules("13001").min_lead_working_days == 2
    assert cal.is_call_centre_open(datetime(2026, 3, 7, 9, 0))


def test_calendar_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "calendar.yaml"
    data = copy.deepcopy(CALENDAR)
    text_ = yaml.safe_dump(data).replace("cutoff: '17:00'", "cutoff: 17:00")
    bad.write_text(text_, encoding="utf-8")
    with pytest.raises(CalendarError, match=r"calendar\.yaml: defaults\.cutoff.*quote"):
        load_calendar(bad)
    with pytest.raises(CalendarError, match=r"missing\.yaml"):
        load_calendar(tmp_path / "missing.yaml")
    data["timezone"] = "Europe/Marseille"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(CalendarError, match=r"calendar\.yaml: timezone"):
        load_calendar(bad)
