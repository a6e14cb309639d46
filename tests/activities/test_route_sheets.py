"""The route-sheet export (activities/route_sheets): at Thursday's cut-off, Friday's round of
the sector is written as CSV (route order, items, counts), printable HTML and PDF, with the
day's load against capacity in a summary; the caller's number only when the service keeps it;
a cancelled booking is off the sheet; an agent's capacity change shows."""

from __future__ import annotations

import csv
import io
import stat
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from activities.bookings.calendar_file import load_calendar
from activities.bookings.engine import make_engine
from activities.bookings.store import BookingStore
from activities.config import RouteSheetSettings
from activities.route_sheets.export import RouteSheetActivities
from corpus import CORPUS_DIR
from domain.models import AddressMatch, BookInput, ItemCount
from domain.route_sheets import RouteSheetExportInput

PARIS = ZoneInfo("Europe/Paris")
FRIDAY = date(2026, 3, 6)  # 13205 collects on Tuesdays and Fridays
THURSDAY_CUTOFF = datetime(2026, 3, 5, 17, 0, tzinfo=PARIS).isoformat()
# (house number, lon, lat, items): given west, east, middle.
PICKUPS = [
    ("1", 5.370, 43.290, [ItemCount("canapé", 1)]),
    ("3", 5.390, 43.290, [ItemCount("chaise", 4)]),
    ("2", 5.380, 43.290, [ItemCount("matelas", 1), ItemCount("sommier", 1)]),
]


@pytest.fixture
def store(tmp_path: Path) -> BookingStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'bookings.sqlite'}")
    s = BookingStore(engine, load_calendar(CORPUS_DIR / "calendar.yaml"))
    s.create_schema()
    return s


def book_friday(store: BookingStore) -> list[str]:
    refs = []
    for number, lon, lat, items in PICKUPS:
        result = store.book(
            BookInput(
                call_id=f"rs-{uuid.uuid4().hex[:8]}",
                sector="13205",
                address=AddressMatch(
                    number, "Boulevard Chave", "13005", "13205", "Marseille", lon, lat, 1.0, "13205"
                ),
                items=items,
                caller_number="+33612345678",
            ),
            datetime(2026, 3, 2, 10, 0, tzinfo=PARIS),
        )
        assert result.pickup_date == FRIDAY.isoformat(), result
        refs.append(result.reference)
    return refs


def export(store: BookingStore, out: Path, **options: object) -> RouteSheetActivities:
    settings = RouteSheetSettings(output_dir=out, **options)  # type: ignore[arg-type]
    return RouteSheetActivities(store, settings, clock=lambda: datetime(2026, 3, 5, 16, tzinfo=UTC))


def test_cut_off_export_writes_the_round_with_its_load(store: BookingStore, tmp_path: Path) -> None:
    west, east, middle = book_friday(store)
    acts = export(store, tmp_path / "sheets")
    result = acts.export_route_sheets(RouteSheetExportInput(now=THURSDAY_CUTOFF))
    assert result.days == ["2026-03-06"]
    assert [(s.sector, s.pickups, s.capacity, s.items) for s in result.sheets] == [
        ("13205", 3, 25, 7)
    ]
    folder = tmp_path / "sheets" / "2026-03-06"
    stem = "tournee-2026-03-06-13205"
    assert sorted(result.files) == sorted(
        f"2026-03-06/{n}"
        for n in (f"{stem}.csv", f"{stem}.html", f"{stem}.pdf", "recapitulatif-2026-03-06.csv")
    )
    rows = list(csv.DictReader(io.StringIO((folder / f"{stem}.csv").read_text("utf-8"))))
    # Nearest neighbour from the first reference... whichever it is, the middle one is never
    # visited between the two ends.
    order = [r["reference"] for r in rows]
    assert sorted(order) == sorted([west, east, middle])
    assert order.index(middle) == 1 or order[0] == middle
    by_ref = {r["reference"]: r for r in rows}
    assert by_ref[middle]["objets"] == "1 matelas, 1 sommier"
    assert by_ref[middle]["nombre_objets"] == "2"
    assert (
        by_ref[east]["adresse"] == "3 Boulevard Chave" and by_ref[east]["latitude"] == "43.290000"
    )
    assert "telephone" not in rows[0]  # off by default
    summary = list(
        csv.DictReader(io.StringIO((folder / "recapitulatif-2026-03-06.csv").read_text()))
    )
    assert summary == [
        {
            "date": "2026-03-06",
            "secteur": "13205",
            "nom": "Marseille 5e arrondissement",
            "enlevements": "3",
            "capacite": "25",
            "charge_pct": "12",
            "objets": "7",
        }
    ]
    html = (folder / f"{stem}.html").read_text("utf-8")
    assert "3 / 25 enlèvements" in html and "Vendredi 6 mars" in html and "<svg" in html
    assert "+33612345678" not in html
    assert (folder / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    assert stat.S_IMODE((folder / f"{stem}.csv").stat().st_mode) == 0o640


def test_before_the_cut_off_nothing_is_settled(store: BookingStore, tmp_path: Path) -> None:
    book_friday(store)
    acts = export(store, tmp_path / "sheets")
    early = datetime(2026, 3, 5, 16, 59, tzinfo=PARIS).isoformat()
    assert acts.export_route_sheets(RouteSheetExportInput(now=early)).files == []


def test_numbers_when_kept_cancellations_and_capacity_changes(
    store: BookingStore, tmp_path: Path
) -> None:
    west, east, middle = book_friday(store)
    store.cancel(east, "agent:a1")
    store.set_capacity("13205", FRIDAY, 2)
    acts = export(store, tmp_path / "sheets", include_caller_number=True, pdf=False)
    result = acts.export_route_sheets(RouteSheetExportInput(day="2026-03-06", sector="13205"))
    [summary] = result.sheets
    assert (summary.pickups, summary.capacity, summary.items) == (2, 2, 3)
    stem = tmp_path / "sheets" / "2026-03-06" / "tournee-2026-03-06-13205"
    rows = list(csv.DictReader(io.StringIO(stem.with_suffix(".csv").read_text("utf-8"))))
    assert {r["reference"] for r in rows} == {west, middle}
    assert {r["telephone"] for r in rows} == {"+33612345678"}
    assert not stem.with_suffix(".pdf").exists()
    assert "2 / 2 enlèvements" in stem.with_suffix(".html").read_text("utf-8")
