from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import (
    CalendarError,
    ServiceCalendar,
    UnknownSectorError,
    add_working_days,
    fit_items,
    french_public_holidays,
    is_public_holiday,
    is_working_day,
    next_opening,
    reminder_at,
)
from domain.models import ItemCount

PARIS = ZoneInfo("Europe/Paris")

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


def test_alsace_moselle_has_its_own_holidays() -> None:
    national = french_public_holidays(2026)
    for subdivision in ("57", "6AE"):
        extra = set(french_public_holidays(2026, subdivision)) - set(national)
        assert extra == {date(2026, 4, 3), date(2026, 12, 26)}  # Good Friday, St Stephen


def test_the_calendar_file_names_its_subdivision() -> None:
    moselle = make(holiday_subdivision="Moselle")
    assert moselle.holiday_subdivision == "57"
    assert moselle.call_centre.holiday_subdivision == "57"
    # Wednesday 1 April 2026, lead 2 working days, a sector collecting every working day:
    # nationally Thursday 2 and Friday 3; in Moselle Friday 3 is Good Friday and Monday 6
    # Easter Monday, so Thursday 2 and Tuesday 7.
    assert first(make(), "13201", at("2026-04-01")) == date(2026, 4, 3)
    assert first(moselle, "13201", at("2026-04-01")) == date(2026, 4, 7)
    assert not moselle.is_call_centre_open(datetime(2026, 4, 3, 10, 0))
    assert make().is_call_centre_open(datetime(2026, 4, 3, 10, 0))


def test_an_unknown_subdivision_is_refused() -> None:
    with pytest.raises(CalendarError, match="holiday_subdivision"):
        make(holiday_subdivision="Atlantide")


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
        (["reminder_time"], 1080, False, r"reminder_time.*quote"),
        (["reminder_time"], "6 pm", False, r"reminder_time.*HH:MM"),
        (["defaults", "over_limit"], "split", False, r"defaults\.over_limit.*escalate"),
        (["sectors", "13205", "over_limit"], True, False, r"sectors\.13205\.over_limit"),
        (["call_centre", "hours"], {}, False, r"call_centre\.hours: no opening range"),
        (["call_centre", "hours"], {"mon": []}, False, r"call_centre\.hours: no opening"),
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


# --------------------------------------------------------------------------- holidays, no pickup


def test_no_pickup_on_any_public_holiday() -> None:
    data = copy.deepcopy(BASE)
    data["defaults"]["horizon_days"] = 366
    data["defaults"]["min_lead_working_days"] = 0
    # A sector collecting every day of the week: only the holidays can be missing.
    data["sectors"]["daily"] = {
        "name": "every day",
        "polygon_source": "test",
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "capacity": 1,
    }
    cal = ServiceCalendar.from_dict(data)
    start = at("2026-01-02", "08:00")  # Friday, before the cut-off
    dates = set(cal.candidate_dates("daily", start))
    holidays = {
        date(2026, 4, 6): "Easter Monday",
        date(2026, 5, 1): "1 May",
        date(2026, 5, 8): "8 May",
        date(2026, 5, 14): "Ascension",
        date(2026, 5, 25): "Whit Monday",
        date(2026, 7, 14): "14 July",
        date(2026, 8, 15): "15 August (a Saturday)",
        date(2026, 11, 1): "1 November (a Sunday)",
        date(2026, 11, 11): "11 November",
        date(2026, 12, 25): "Christmas",
        date(2027, 1, 1): "New Year's Day",
    }
    for day, name in holidays.items():
        assert day not in dates, name
        assert day - timedelta(days=1) in dates, f"eve of {name}"
        assert day + timedelta(days=1) in dates, f"day after {name}"
    # Horizon 366 days from Friday 2 January 2026: up to Sunday 3 January 2027 inclusive.
    window = {start.date() + timedelta(days=i) for i in range(367)}
    assert window - dates == set(holidays)
    expected = set(french_public_holidays(2026)) - {date(2026, 1, 1)} | {date(2027, 1, 1)}
    assert expected == set(holidays)


def test_easter_based_holidays_move_with_easter() -> None:
    # 2027: Easter 28 March -> Easter Monday 29 March, Ascension 6 May, Whit Monday 17 May.
    assert {d for d, n in french_public_holidays(2027).items() if d.month in (3, 5)} >= {
        date(2027, 3, 29),
        date(2027, 5, 6),
        date(2027, 5, 17),
    }
    assert not is_public_holiday(date(2027, 4, 6))  # Easter Monday 2026's date
    cal = make()
    # Monday 3 May 2027: Wed 5 (lead 2); Thursday 6 is Ascension -> Tuesday 11.
    assert first(cal, "13205", at("2027-05-03")) == date(2027, 5, 11)


# --------------------------------------------------------------------------- reminder


@pytest.mark.parametrize(
    ("pickup", "expected_utc", "why"),
    [
        ("2026-03-30", "2026-03-29T16:00:00+00:00", "eve is the spring-forward Sunday (CEST)"),
        ("2026-03-29", "2026-03-28T17:00:00+00:00", "eve is the Saturday before (CET)"),
        ("2026-03-31", "2026-03-30T16:00:00+00:00", "first full CEST week"),
        ("2026-10-26", "2026-10-25T17:00:00+00:00", "eve is the fall-back Sunday (CET)"),
        ("2026-10-25", "2026-10-24T16:00:00+00:00", "eve is the Saturday before (CEST)"),
        ("2026-04-07", "2026-04-06T16:00:00+00:00", "eve is Easter Monday: still sent"),
        ("2026-07-15", "2026-07-14T16:00:00+00:00", "eve is 14 July"),
        ("2027-01-02", "2027-01-01T17:00:00+00:00", "eve is New Year's Day"),
        ("2026-03-01", "2026-02-28T17:00:00+00:00", "month boundary"),
    ],
)
def test_reminder_on_the_eve_at_18_local(pickup: str, expected_utc: str, why: str) -> None:
    due = reminder_at(date.fromisoformat(pickup), make())
    assert due is not None
    assert due.isoformat() == expected_utc, why
    assert due.tzinfo is UTC
    local = due.astimezone(PARIS)
    assert (local.date(), local.time()) == (
        date.fromisoformat(pickup) - timedelta(days=1),
        time(18, 0),
    ), why


def test_reminder_time_is_configurable_and_dst_gap_safe() -> None:
    due = reminder_at(date(2026, 10, 26), make(reminder_time="19:30"))
    assert due is not None and due.isoformat() == "2026-10-25T18:30:00+00:00"
    # 02:30 does not exist on 29 March 2026 in Paris: the real instant after the gap.
    gap = reminder_at(date(2026, 3, 30), make(reminder_time="02:30"))
    assert gap is not None and gap.isoformat() == "2026-03-29T01:30:00+00:00"
    assert make().reminder_time == time(18, 0)  # default


def test_no_reminder_when_booked_after_it() -> None:
    cal = make()
    pickup = date(2026, 3, 30)
    before = datetime(2026, 3, 29, 15, 59, tzinfo=UTC)  # 17:59 CEST
    assert reminder_at(pickup, cal, booked_at=before) is not None
    assert reminder_at(pickup, cal, booked_at=datetime(2026, 3, 29, 16, 0, tzinfo=UTC)) is None
    # Naive: local time.
    assert reminder_at(pickup, cal, booked_at=datetime(2026, 3, 29, 17, 59)) is not None
    assert reminder_at(pickup, cal, booked_at=datetime(2026, 3, 29, 18, 0)) is None
    assert reminder_at(pickup, cal, booked_at=datetime(2026, 3, 30, 9, 0)) is None


# --------------------------------------------------------------------------- call-centre opening


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.mark.parametrize(
    ("at_local", "expected", "why"),
    [
        ("2026-03-07T19:00", "2026-03-09T08:30:00+01:00", "Saturday evening -> Monday"),
        ("2026-03-08T12:00", "2026-03-09T08:30:00+01:00", "Sunday -> Monday"),
        ("2026-03-09T07:00", "2026-03-09T08:30:00+01:00", "Monday early -> same morning"),
        ("2026-03-09T18:30", "2026-03-10T08:30:00+01:00", "closing time is closed"),
        ("2026-03-28T19:00", "2026-03-30T08:30:00+02:00", "across spring-forward"),
        ("2026-10-24T19:00", "2026-10-26T08:30:00+01:00", "across fall-back"),
        ("2026-04-04T19:00", "2026-04-07T08:30:00+02:00", "Saturday before Easter Monday"),
        ("2026-05-13T19:00", "2026-05-15T08:30:00+02:00", "eve of Ascension"),
        ("2026-05-23T19:00", "2026-05-26T08:30:00+02:00", "Whit weekend"),
        ("2026-07-13T19:00", "2026-07-15T08:30:00+02:00", "eve of 14 July"),
        ("2026-08-14T19:00", "2026-08-17T08:30:00+02:00", "15 August is a Saturday"),
        ("2026-10-31T19:00", "2026-11-02T08:30:00+01:00", "1 November is a Sunday"),
        ("2026-11-10T19:00", "2026-11-12T08:30:00+01:00", "eve of 11 November"),
        ("2026-12-24T19:00", "2026-12-26T08:30:00+01:00", "Christmas Eve -> Saturday 26"),
        ("2026-12-31T19:00", "2027-01-02T08:30:00+01:00", "New Year's Eve -> Saturday 2"),
    ],
)
def test_next_opening(at_local: str, expected: str, why: str) -> None:
    got = next_opening(local(at_local), make())
    assert got.isoformat() == expected, why
    assert not make().is_call_centre_open(local(at_local).replace(tzinfo=None)), why


def test_next_opening_when_open_is_now() -> None:
    cal = make()
    now = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 10:00 CET, Monday
    assert next_opening(now, cal) == now
    assert next_opening(now, cal).tzinfo == PARIS
    assert next_opening(datetime(2026, 3, 9, 10, 0), cal) == now  # naive: local


def test_next_opening_with_a_lunch_break_and_holiday_hours() -> None:
    cal = make(
        call_centre={
            "closed_on_public_holidays": False,
            "hours": {"tue": ["13:30-17:00", "08:30-12:00"], "sun": ["02:30-04:00"]},
        }
    )
    assert next_opening(local("2026-07-14T12:15"), cal).isoformat() == (
        "2026-07-14T13:30:00+02:00"  # 14 July, but this centre opens on holidays
    )
    assert next_opening(local("2026-07-14T17:00"), cal).isoformat() == ("2026-07-19T02:30:00+02:00")
    # 02:30 does not exist on 29 March 2026: the first real instant of the range, 03:30 CEST.
    spring = next_opening(local("2026-03-28T23:00"), cal)
    assert spring.astimezone(UTC).isoformat() == "2026-03-29T01:30:00+00:00"
    assert cal.is_call_centre_open(spring.replace(tzinfo=None))


def test_cancel_deadline_in_local_time() -> None:
    cal = make()
    # Tuesday 31 March 2026 -> Monday 30 March 17:00 CEST.
    assert cal.cancel_deadline("13205", date(2026, 3, 31)).astimezone(UTC) == datetime(
        2026, 3, 30, 15, 0, tzinfo=UTC
    )
    # Friday 15 May 2026 -> Wednesday 13 (Thursday 14 is Ascension).
    assert cal.cancel_deadline("13205", date(2026, 5, 15)).isoformat() == (
        "2026-05-13T17:00:00+02:00"
    )


# --------------------------------------------------------------------------- item limit


def test_fit_items_keeps_request_order_and_splits_counts() -> None:
    items = [ItemCount("canapé", 2), ItemCount("chaise", 4), ItemCount("matelas", 1)]
    assert fit_items(items, 5) == (
        [ItemCount("canapé", 2), ItemCount("chaise", 3)],
        [ItemCount("chaise", 1), ItemCount("matelas", 1)],
    )
    assert fit_items(items, 7) == (items, [])
    assert fit_items(items, 2) == ([ItemCount("canapé", 2)], items[1:])
    assert items[1] == ItemCount("chaise", 4)  # input left alone


def test_over_limit_defaults_and_overrides() -> None:
    cal = make()
    assert cal.rules("13205").over_limit == "book_what_fits"
    data = copy.deepcopy(BASE)
    data["defaults"]["over_limit"] = "escalate"
    data["sectors"]["13201"]["over_limit"] = "book_what_fits"
    cal = ServiceCalendar.from_dict(data)
    assert cal.rules("13201").over_limit == "book_what_fits"
    assert cal.rules("13205").over_limit == "escalate"
    assert cal.rules("13055").over_limit == "escalate"
