"""The crews' route sheets (domain/route_sheets.py, domain/route_map.py): the nearest-neighbour
round, the load against capacity, which days a run at the cut-off settles, the CSV rows (no
number unless asked) and the map."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from zoneinfo import ZoneInfo

from activities.bookings.calendar_file import load_calendar
from corpus import CORPUS_DIR
from domain.models import ItemCount
from domain.route_map import route_svg
from domain.route_sheets import (
    Depot,
    Stop,
    csv_fields,
    csv_rows,
    days_due,
    km,
    order_route,
    sheet,
    summary_row,
)

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = load_calendar(CORPUS_DIR / "calendar.yaml")


def stop(ref: str, lon: float | None, lat: float | None, *items: tuple[str, int]) -> Stop:
    return Stop(
        reference=ref,
        housenumber="12",
        street="rue d'Aubagne",
        postcode="13005",
        city="Marseille",
        lon=lon,
        lat=lat,
        items=[ItemCount(i, n) for i, n in items] or [ItemCount("canapé", 1)],
        caller_number="+33612345678",
    )


# Points on a line west to east, given out of order, plus one with no position.
LINE = [
    stop("E", 5.40, 43.29),
    stop("A", 5.36, 43.29),
    stop("C", 5.38, 43.29),
    stop("Z", None, None),
    stop("B", 5.37, 43.29),
    stop("D", 5.39, 43.29),
]


def test_nearest_neighbour_from_the_first_pickup_or_the_depot() -> None:
    # No depot: from the first by reference (A, the west end), then always the nearest.
    assert [s.reference for s in order_route(LINE)] == ["A", "B", "C", "D", "E", "Z"]
    # From a depot east of E: the round runs back west; the unplaced stop stays last.
    east = Depot(5.45, 43.29)
    assert [s.reference for s in order_route(LINE, east)] == ["E", "D", "C", "B", "A", "Z"]
    # Same bookings, same sheet, whatever order the store gave them in.
    assert order_route(list(reversed(LINE))) == order_route(LINE)
    assert order_route([]) == []


def test_route_length_and_haversine() -> None:
    # One degree of longitude at 43.29° N is about 81 km.
    assert 80.5 < km((5.0, 43.29), (6.0, 43.29)) < 81.5
    s = sheet("13205", CALENDAR, date(2026, 3, 6), LINE)
    assert 3.0 < s.route_km() < 3.4  # A → E: 0.04° of longitude


def test_load_against_capacity_and_item_totals() -> None:
    stops = [
        stop("A", 5.36, 43.29, ("canapé", 1), ("chaise", 2)),
        stop("B", 5.37, 43.29, ("chaise", 4)),
    ]
    s = sheet("13205", CALENDAR, date(2026, 3, 6), stops)
    assert (s.name, s.capacity, s.used, s.total_items) == ("Marseille 5e arrondissement", 25, 2, 7)
    assert s.load_percent == 8 and not s.over_capacity
    assert [(i.item, i.count) for i in s.items_by_kind()] == [("chaise", 6), ("canapé", 1)]
    assert summary_row(s) == {
        "date": "2026-03-06",
        "secteur": "13205",
        "nom": "Marseille 5e arrondissement",
        "enlevements": "2",
        "capacite": "25",
        "charge_pct": "8",
        "objets": "7",
    }
    # Capacity lowered by an agent below what is booked: flagged.
    assert sheet("13205", CALENDAR, date(2026, 3, 6), stops, capacity=1).over_capacity
    # A sector that left the calendar keeps its sheet (calendar without default_sector aside,
    # the corpus one takes any id).
    assert sheet("13299", CALENDAR, date(2026, 3, 4), stops).capacity == 20


def test_csv_rows_leave_the_number_out_unless_the_service_keeps_it() -> None:
    plain = sheet("13205", CALENDAR, date(2026, 3, 6), LINE)
    assert "telephone" not in csv_fields(plain.with_numbers)
    rows = csv_rows(plain)
    assert [r["ordre"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0] == {
        "ordre": "1",
        "reference": "A",
        "adresse": "12 rue d'Aubagne",
        "code_postal": "13005",
        "commune": "Marseille",
        "longitude": "5.360000",
        "latitude": "43.290000",
        "objets": "1 canapé",
        "nombre_objets": "1",
    }
    assert all(s.caller_number == "" for s in plain.stops)
    kept = sheet("13205", CALENDAR, date(2026, 3, 6), LINE, with_numbers=True)
    assert csv_rows(kept)[0]["telephone"] == "+33612345678"


def test_days_due_are_the_rounds_the_cut_off_settles() -> None:
    # 13205 collects on Tuesdays and Fridays; cut-off 17:00 on the last working day before.
    thursday_17 = datetime(2026, 3, 5, 17, 0, tzinfo=PARIS)
    assert days_due(CALENDAR, "13205", thursday_17) == [date(2026, 3, 6)]
    assert days_due(CALENDAR, "13205", thursday_17.replace(hour=16)) == []  # not yet settled
    # Friday's run settles Monday's round (13201 collects on Mondays) and not Tuesday's.
    friday_17 = datetime(2026, 3, 6, 17, 0, tzinfo=PARIS)
    assert days_due(CALENDAR, "13201", friday_17) == [date(2026, 3, 9)]
    assert days_due(CALENDAR, "13205", friday_17) == []
    # Before Easter Monday (a holiday): Thursday's run settles Friday 3 April (13205).
    assert days_due(CALENDAR, "13205", datetime(2026, 4, 2, 18, 0, tzinfo=PARIS)) == [
        date(2026, 4, 3)
    ]


def test_map_is_an_svg_of_the_numbered_round() -> None:
    s = sheet("13205", CALENDAR, date(2026, 3, 6), LINE, depot=Depot(5.35, 43.28, "Dépôt Nord"))
    svg = route_svg(s)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert labels[:1] == ["Dépôt Nord"]
    assert [lbl for lbl in labels if lbl and lbl.isdigit()] == ["1", "2", "3", "4", "5"]
    [line] = root.iter(f"{ns}polyline")
    assert len(line.get("points", "").split()) == 6  # depot + 5 placed stops
    assert any("m" in (lbl or "") or "km" in (lbl or "") for lbl in labels)  # scale bar
    assert route_svg(sheet("13205", CALENDAR, date(2026, 3, 6), [stop("Z", None, None)])) == ""
