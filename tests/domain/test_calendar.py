from __future__ import annotations

import copy
from datetime import date, datetime, time
from typing import Any

import pytest

from domain.calendar import (
    CalendarError,
    ServiceCalendar,
    UnknownSectorError,
    add_working_days,
    easter_sunday,
    french_public_holidays,
    is_public_holiday,
    is_working_day,
)

BASE: dict[str, Any] = {
    "version": 1,
    "timezone": "Europe/Paris",
    "defaults": {
        "min_lead_working_days": 2,
        "cutoff": "17:00",
        "max_items": 5,
        "horizon_days": 45,
    },
    "call_centre": {
        "hours": {d: ["08:30-18:30"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
    },
    "default_sector": {"polygon_source": "communes:{id}", "weekdays": ["wed"], "capacity": 20},
    "sectors": {
        "13205": {
            "name": "Marseille 5e",
            "polygon_source": "arrondissements:13205",
            "weekdays": ["tue", "thu"],
            "capacity": 25,
        },
        # Collects every working day: isolates lead time and cut-off from the weekday choice.
        "13201": {
            "name": "Marseille 1er",
            "polygon_source": "arrondissements:13201",
            "weekdays": ["mon", "tue", "wed", "thu", "fri"],
            "capacity": 30,
            "max_items": 4,
        },
    },
}


def make(**changes: Any) -> ServiceCalendar:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return ServiceCalendar.from_dict(data)


def at(day: str, hhmm: str = "10:00") -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(hhmm))


def first(cal: ServiceCalendar, sector: str, when: datetime) -> date:
    return next(iter(cal.candidate_dates(sector, when)))


# --------------------------------------------------------------------------- holidays


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2019, date(2019, 4, 21)),
        (2038, date(2038, 4, 25)),  # latest possible date
        (2285, date(2285, 3, 22)),  # earliest possible date
    ],
)
def test_easter_sunday(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected


def test_french_public_holidays_2026() -> None:
    days = french_public_holidays(2026)
    assert len(days) == 11
    assert list(days) == sorted(days)
    assert days[date(2026, 4, 6)] == "Lundi de Pâques"
    assert days[date(2026, 5, 14)] == "Ascension"  # Easter + 39
    assert days[date(2026, 5, 25)] == "Lundi de Pentecôte"  # Easter + 50
    for fixed in ("01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25"):
        assert date.fromisoformat(f"2026-{fixed}") in days


def test_moving_holidays_other_years() -> None:
    assert is_public_holiday(date(2025, 5, 29))  # Ascension 2025
    assert is_public_holiday(date(2024, 5, 20))  # Whit Monday 2024
    assert not is_public_holiday(date(2025, 5, 28))


def test_working_days() -> None:
    assert is_working_day(date(2026, 3, 2))  # Monday
    assert not is_working_day(date(2026, 3, 7))  # Saturday
    assert not is_working_day(date(2026, 7, 14))  # Tuesday, Fête nationale
    assert add_working_days(date(2026, 3, 5), 2) == date(2026, 3, 9)  # Thu -> Mon
    assert add_working_days(date(2026, 3, 5), 0) == date(2026, 3, 5)
    # Whit Monday in between: Fri + 2 working days = Wed.
    assert add_working_days(date(2026, 5, 22), 2) == date(2026, 5, 27)


# --------------------------------------------------------------------------- candidate dates


def test_first_collection_day_after_lead_time() -> None:
    cal = make()
    # Monday request, 2 working days -> Wednesday at the earliest -> Thursday (tue/thu sector).
    assert first(cal, "13205", at("2026-03-02")) == date(2026, 3, 5)
    assert cal.earliest_date("13205", at("2026-03-02")) == date(2026, 3, 4)


def test_cut_off_pushes_to_next_day() -> None:
    cal = make()
    assert first(cal, "13201", at("2026-03-02", "16:59")) == date(2026, 3, 4)
    assert first(cal, "13201", at("2026-03-02", "17:00")) == date(2026, 3, 5)
    assert first(cal, "13201", at("2026-03-02", "23:30")) == date(2026, 3, 5)


def test_cut_off_is_configurable_per_sector() -> None:
    data = copy.deepcopy(BASE)
    data["sectors"]["13201"]["cutoff"] = "12:00"
    cal = ServiceCalendar.from_dict(data)
    assert first(cal, "13201", at("2026-03-02", "12:30")) == date(2026, 3, 5)
    assert first(cal, "13205", at("2026-03-02", "12:30")) == date(2026, 3, 5)


def test_lead_time_over_a_weekend() -> None:
    cal = make()
    # Thursday: Friday (1), Monday (2).
    assert first(cal, "13201", at("2026-03-05")) == date(2026, 3, 9)
    # Friday: Monday (1), Tuesday (2).
    assert first(cal, "13201", at("2026-03-06")) == date(2026, 3, 10)
    # Friday after the cut-off and Saturday: processed Monday, then Tuesday (1), Wednesday (2).
    assert first(cal, "13201", at("2026-03-06", "18:00")) == date(2026, 3, 11)
    assert first(cal, "13201", at("2026-03-07")) == date(2026, 3, 11)
    assert first(cal, "13201", at("2026-03-08")) == date(2026, 3, 11)


def test_holiday_on_a_collection_day_is_skipped() -> None:
    cal = make()
    # Monday 11 May 2026: earliest Wednesday 13; Thursday 14 is Ascension -> Tuesday 19.
    dates = list(cal.candidate_dates("13205", at("2026-05-11")))
    assert date(2026, 5, 14) not in dates
    assert dates[0] == date(2026, 5, 19)


def test_holiday_in_lead_time_is_not_a_working_day() -> None:
    cal = make()
    # Friday 22 May 2026: Monday 25 is Whit Monday -> Tue (1), Wed (2) -> Thursday 28.
    assert first(cal, "13205", at("2026-05-22")) == date(2026, 5, 28)
    assert first(cal, "13201", at("2026-05-22")) == date(2026, 5, 27)


def test_candidates_stop_at_the_horizon() -> None:
    data = copy.deepcopy(BASE)
    data["defaults"]["horizon_days"] = 10
    cal = ServiceCalendar.from_dict(data)
    # Request Mon 2 March: up to Thu 12 March inclusive.
    assert list(cal.candidate_dates("13205", at("2026-03-02"))) == [
        date(2026, 3, 5),
        date(2026, 3, 10),
        date(2026, 3, 12),
    ]


def test_closed_dates_are_skipped() -> None:
    data = copy.deepcopy(BASE)
    data["sectors"]["13205"]["closed_dates"] = ["2026-03-05", date(2026, 3, 10)]
    cal = ServiceCalendar.from_dict(data)
    assert first(cal, "13205", at("2026-03-02")) == date(2026, 3, 12)


def test_candidates_are_ordered_and_are_collection_days() -> None:
    cal = make()
    dates = list(cal.candidate_dates("13205", at("2026-12-18")))
    assert dates == sorted(dates)
    assert all(d.weekday() in (1, 3) for d in dates)
    assert date(2026, 12, 25) not in dates and date(2027, 1, 1) not in dates
    assert dates[-1] <= date(2027, 2, 1)  # 18 Dec + 45 days


def test_default_sector_applies_to_unlisted_ids() -> None:
    cal = make()
    rules = cal.rules("13055")
    assert rules.sector_id == "13055"
    assert rules.weekday_names() == ["wed"]
    assert rules.capacity == 20
    assert rules.polygon_source == "communes:13055"
    assert rules.max_items == 5
    assert cal.rules("13201").max_items == 4  # listed sector override
    assert first(cal, "13055", at("2026-03-02")) == date(2026, 3, 4)


def test_unknown_sector_without_default() -> None:
    cal = make(default_sector=None)
    assert not cal.has_sector("13055")
    with pytest.raises(UnknownSectorError, match="13055"):
        cal.rules("13055")


def test_call_centre_hours() -> None:
    cal = make()
    assert cal.is_call_centre_open(at("2026-03-07", "10:00"))  # Saturday
    assert not cal.is_call_centre_open(at("2026-03-08", "10:00"))  # Sunday
    assert not cal.is_call_centre_open(at("2026-03-02", "08:29"))
    assert cal.is_call_centre_open(at("2026-03-02", "08:30"))
    assert not cal.is_call_centre_open(at("2026-03-02", "18:30"))
    assert not cal.is_call_centre_open(at("2026-07-14", "10:00"))  # holiday


# --------------------------------------------------------------------------- validation


def _broken(path: list[str], value: Any, *, delete: bool = False) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "delete", "message"),
    [
        (
            ["sectors", "13205", "weekdays"],
            ["tuesday"],
            False,
            r"sectors\.13205\.weekdays.*'tuesday'",
        ),
        (["sectors", "13205", "weekdays"], "tue", False, r"sectors\.13205\.weekdays.*list"),
        (["sectors", "13205", "weekdays"], [], False, r"sectors\.13205\.weekdays"),
        (["sectors", "13205", "capacity"], -1, False, r"sectors\.13205\.capacity.*0\.\."),
        (["sectors", "13205", "capacity"], True, False, r"sectors\.13205\.capacity.*integer"),
        (["sectors", "13205", "capacity"], None, True, r"sectors\.13205: missing.*capacity"),
        (["sectors", "13205", "name"], None, True, r"sectors\.13205: missing.*name"),
        (["sectors", "13205", "colour"], "red", False, r"sectors\.13205: unknown key.*colour"),
        (["sectors", "13205", "max_items"], 0, False, r"sectors\.13205\.max_items"),
        (["defaults", "cutoff"], 1020, False, r"defaults\.cutoff.*quote"),
        (["defaults", "cutoff"], "25:00", False, r"defaults\.cutoff.*HH:MM"),
        (["defaults", "horizon_days"], None, True, r"defaults: missing.*horizon_days"),
        (["defaults", "min_lead_working_days"], "2", False, r"min_lead_working_days.*integer"),
        (["defaults", "closed_dates"], ["2026-13-01"], False, r"defaults\.closed_dates"),
        (["timezone"], "", False, r"timezone.*non-empty"),
        (["call_centre", "hours", "mon"], ["18:30-08:30"], False, r"call_centre\.hours\.mon"),
        (["call_centre", "hours", "lundi"], ["08:30-12:00"], False, r"call_centre\.hours\.lundi"),
        (["sectors", "13 205"], {}, False, r"not a valid sector id"),
        (["version"], 2, False, r"version"),
        (["holidays"], [], False, r"calendar: unknown key.*holidays"),
    ],
)
def test_validation_errors_name_the_key(
    path: list[str], value: Any, delete: bool, message: str
) -> None:
    with pytest.raises(CalendarError, match=message):
        ServiceCalendar.from_dict(_broken(path, value, delete=delete))


def test_no_sector_at_all_is_an_error() -> None:
    with pytest.raises(CalendarError, match="nothing can be booked"):
        make(sectors={}, default_sector=None)


def test_unquoted_sector_id_is_accepted() -> None:
    data = copy.deepcopy(BASE)
    data["sectors"][13206] = data["sectors"].pop("13205")
    cal = ServiceCalendar.from_dict(data)
    assert "13206" in cal.sectors
