"""What the booking tests share: a small calendar (one sector, 3 places a day), a booking
request, and an SQLite store in a temporary directory."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from activities.bookings.engine import make_engine
from activities.bookings.schema import BOOKINGS, SLOTS, create_schema
from activities.bookings.store import BookingStore
from domain.calendar import ServiceCalendar
from domain.models import AddressMatch, BookInput, BookResult, ItemCount

SECTOR = "13205"
# Monday 2 March 2026, 10:00 local: the 13205 sector (tue/thu) gets Thu 5, Tue 10, Thu 12,
# Tue 17 March... as candidates (horizon 14 days: up to Mon 16 March, so D1..D3).
NOW = datetime(2026, 3, 2, 10, 0)
D1, D2, D3, D4 = date(2026, 3, 5), date(2026, 3, 10), date(2026, 3, 12), date(2026, 3, 17)
# The store's clock (audit stamps, default moment of a cancellation): Monday 2 March 10:00.
CLOCK = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Cancellation deadline for D1 (Thursday 5 March): the cut-off on Wednesday 4, 17:00 CET.
D1_DEADLINE = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)

CALENDAR: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "defaults": {
        "min_lead_working_days": 2,
        "cutoff": "17:00",
        "max_items": 5,
        "horizon_days": 14,
    },
    "call_centre": {"hours": {"mon": ["08:30-18:30"]}},
    "default_sector": {"polygon_source": "communes:{id}", "weekdays": ["wed"], "capacity": 20},
    "sectors": {
        SECTOR: {
            "name": "Marseille 5e",
            "polygon_source": "arrondissements:13205",
            "weekdays": ["tue", "thu"],
            "capacity": 3,
        }
    },
}


def calendar(**defaults: Any) -> ServiceCalendar:
    data = copy.deepcopy(CALENDAR)
    data["defaults"].update(defaults)
    return ServiceCalendar.from_dict(data)


def request(
    call_id: str, housenumber: str = "12", street: str = "rue d'Aubagne", count: int = 1
) -> BookInput:
    return BookInput(
        call_id=call_id,
        sector=SECTOR,
        address=AddressMatch(
            housenumber=housenumber,
            street=street,
            postcode="13005",
            citycode=SECTOR,
            city="Marseille",
            lon=5.39,
            lat=43.29,
            score=0.95,
            sector=SECTOR,
        ),
        items=[ItemCount("canapé", count)],
        caller_number="+33612345678",
    )


def booking_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(BOOKINGS)).scalar_one())


def sqlite_store_at(tmp_path: Path) -> Iterator[BookingStore]:
    """The body of the `sqlite_store` fixtures: a store on a file in nested directories."""
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'bookings.sqlite'}")
    create_schema(engine)
    yield BookingStore(engine, calendar(), clock=lambda: CLOCK)
    engine.dispose()


def run_concurrently(
    store: BookingStore, inputs: list[BookInput], now: datetime = NOW
) -> list[BookResult]:
    results: list[BookResult | None] = [None] * len(inputs)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(inputs))

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = store.book(inputs[i], now)
        except BaseException as exc:  # surfaced below: a lost booking must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def assert_slot_counters_match(store: BookingStore) -> None:
    bookings, slots = BOOKINGS, SLOTS
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(bookings.c.pickup_date, func.count())
            .where(bookings.c.status == "booked")
            .group_by(bookings.c.pickup_date)
        ).all()
        booked = {d: n for d, n in rows}
        usage = {
            r.pickup_date: (r.used, r.capacity)
            for r in conn.execute(select(slots).where(slots.c.sector == SECTOR))
        }
    for day, (used, capacity) in usage.items():
        assert used == booked.get(day, 0), (day, used, booked)
        assert used <= capacity, (day, used, capacity)
