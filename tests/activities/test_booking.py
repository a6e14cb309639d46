from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from temporalio.exceptions import ApplicationError

import activities.booking as booking_mod
from activities.booking import (
    REFERENCE_ALPHABET,
    BookingActivities,
    BookingRejected,
    BookingStore,
    create_schema,
    load_calendar,
    make_engine,
)
from corpus import CORPUS_DIR
from domain.calendar import CalendarError, ServiceCalendar
from domain.errors import BOOKING_REJECTED
from domain.models import AddressMatch, BookingStatus, BookInput, BookResult, ItemCount

PG_URL = os.environ.get(
    "ENCOMBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECTOR = "13205"
# Monday 2 March 2026, 10:00 local: the 13205 sector (tue/thu) gets Thu 5, Tue 10, Thu 12,
# Tue 17 March... as candidates (horizon 14 days: up to Mon 16 March, so D1..D3).
NOW = datetime(2026, 3, 2, 10, 0)
D1, D2, D3, D4 = date(2026, 3, 5), date(2026, 3, 10), date(2026, 3, 12), date(2026, 3, 17)

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
        return int(
            conn.execute(select(func.count()).select_from(booking_mod._BOOKINGS)).scalar_one()
        )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[BookingStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'bookings.sqlite'}")
    create_schema(engine)
    yield BookingStore(engine, calendar())
    engine.dispose()


# --------------------------------------------------------------------------- SQLite


def test_make_engine_creates_parent_dirs_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bookings.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    assert path.exists()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    create_schema(engine)  # idempotent
    BookingStore(engine, calendar()).create_schema()
    engine.dispose()


def test_book_then_replay_is_idempotent(sqlite_store: BookingStore) -> None:
    first = sqlite_store.book(request("call-1"), NOW)
    assert first.status == BookingStatus.BOOKED
    assert first.pickup_date == D1.isoformat()
    assert len(first.reference) == 6 and set(first.reference) <= set(REFERENCE_ALPHABET)
    again = sqlite_store.book(request("call-1"), NOW)
    assert again.status == BookingStatus.BOOKED
    assert (again.reference, again.pickup_date) == (first.reference, first.pickup_date)
    assert booking_rows(sqlite_store.engine) == 1
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 1
    stored = sqlite_store.get_by_call("call-1")
    assert stored is not None and stored.reference == first.reference
    assert stored.items == [ItemCount("canapé", 1)]
    assert stored.created_at is not None and stored.created_at.tzinfo is not None
    by_ref = sqlite_store.get_by_reference(first.reference.lower())
    assert by_ref is not None and by_ref.call_id == "call-1"
    assert [e["action"] for e in sqlite_store.events(stored.id)] == ["booked"]


def test_other_call_same_address_is_already_booked(sqlite_store: BookingStore) -> None:
    first = sqlite_store.book(request("call-1"), NOW)
    # Another call, same address spelt differently: no second booking.
    second = sqlite_store.book(request("call-2", street="Rue  d'AUBAGNE"), NOW)
    assert second.status == BookingStatus.ALREADY_BOOKED
    assert (second.reference, second.pickup_date) == (first.reference, first.pickup_date)
    assert booking_rows(sqlite_store.engine) == 1
    assert sqlite_store.get_by_call("call-2") is None
    # Another house number books normally.
    assert sqlite_store.book(request("call-3", housenumber="14"), NOW).status == "booked"
    # After the pickup date has passed, the address can book again.
    later = sqlite_store.book(request("call-4"), datetime(2026, 3, 6, 10, 0))
    assert later.status == BookingStatus.BOOKED and later.reference != first.reference


def test_capacity_exhaustion_moves_to_next_collection_day(sqlite_store: BookingStore) -> None:
    sqlite_store.set_capacity(SECTOR, D1, 2)
    dates = [sqlite_store.book(request(f"c{i}", str(i)), NOW).pickup_date for i in range(6)]
    # 2 places on D1, then the calendar capacity (3) on D2, then D3.
    assert dates == [D1.isoformat()] * 2 + [D2.isoformat()] * 3 + [D3.isoformat()]
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and (slot.capacity, slot.used, slot.remaining) == (2, 2, 0)


def test_set_capacity_keeps_places_taken(sqlite_store: BookingStore) -> None:
    sqlite_store.book(request("c1"), NOW)
    sqlite_store.set_capacity(SECTOR, D1, 1)
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and (slot.capacity, slot.used) == (1, 1)
    assert sqlite_store.book(request("c2", "2"), NOW).pickup_date == D2.isoformat()


def test_no_slot_within_horizon(sqlite_store: BookingStore) -> None:
    for day in (D1, D2, D3, D4):
        sqlite_store.set_capacity(SECTOR, day, 0)
    result = sqlite_store.book(request("c1"), NOW)
    assert result.status == BookingStatus.NO_SLOT
    assert "14 days" in result.reason
    assert result.reference == ""
    assert booking_rows(sqlite_store.engine) == 0


def test_too_many_items(sqlite_store: BookingStore) -> None:
    result = sqlite_store.book(request("c1", count=6), NOW)
    assert result.status == BookingStatus.TOO_MANY_ITEMS
    assert "at most 5" in result.reason
    assert booking_rows(sqlite_store.engine) == 0
    ok = sqlite_store.book(request("c2", count=5), NOW)
    assert ok.status == BookingStatus.BOOKED


def test_cancel_frees_the_place(sqlite_store: BookingStore) -> None:
    sqlite_store.set_capacity(SECTOR, D1, 1)
    first = sqlite_store.book(request("c1", "1"), NOW)
    assert sqlite_store.book(request("c2", "2"), NOW).pickup_date == D2.isoformat()
    cancelled = sqlite_store.cancel(first.reference, "agent:marie", reason="caller asked")
    assert cancelled is not None and cancelled.status == "cancelled"
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 0
    assert sqlite_store.book(request("c3", "3"), NOW).pickup_date == D1.isoformat()
    # Cancelling twice changes nothing.
    again = sqlite_store.cancel(first.reference, "caller")
    assert again is not None and again.status == "cancelled"
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 1
    events = sqlite_store.events(cancelled.id)
    assert [(e["actor"], e["action"]) for e in events] == [
        ("bot", "booked"),
        ("agent:marie", "cancelled"),
    ]
    assert events[1]["detail"] == {"reason": "caller asked"}
    # The address is free again for another call.
    assert sqlite_store.book(request("c4", "1"), NOW).status == BookingStatus.BOOKED
    assert sqlite_store.cancel("XXXXXX", "bot") is None
    with pytest.raises(ValueError, match="actor"):
        sqlite_store.cancel(first.reference, "someone")


def test_reference_collision_is_retried(
    sqlite_store: BookingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = iter(["AAAAAA", "AAAAAA", "CCCCCC"])
    monkeypatch.setattr(booking_mod, "new_reference", lambda: next(refs))
    assert sqlite_store.book(request("c1", "1"), NOW).reference == "AAAAAA"
    second = sqlite_store.book(request("c2", "2"), NOW)
    assert second.reference == "CCCCCC"
    # The place taken before the failed INSERT survived the savepoint rollback, once.
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 2


def test_invalid_input_is_rejected(sqlite_store: BookingStore) -> None:
    bad_items = request("c1")
    bad_items.items = []
    with pytest.raises(BookingRejected, match="no items"):
        sqlite_store.book(bad_items, NOW)
    zero = request("c1", count=0)
    with pytest.raises(BookingRejected, match="invalid item"):
        sqlite_store.book(zero, NOW)
    strict = BookingStore(
        sqlite_store.engine, ServiceCalendar.from_dict({**CALENDAR, "default_sector": None})
    )
    unknown = request("c1")
    unknown.sector = "13055"
    with pytest.raises(BookingRejected, match="13055"):
        strict.book(unknown, NOW)


def test_sqlite_concurrent_writers_never_overbook(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bookings.sqlite'}")
    create_schema(engine)
    store = BookingStore(engine, calendar(horizon_days=45))
    store.set_capacity(SECTOR, D1, 5)
    results = run_concurrently(store, [request(f"c{i}", str(i)) for i in range(30)])
    by_date = Counter(r.pickup_date for r in results)
    assert all(r.status == BookingStatus.BOOKED for r in results)
    assert by_date[D1.isoformat()] == 5
    assert all(n <= 3 for d, n in by_date.items() if d != D1.isoformat())
    assert booking_rows(engine) == 30
    assert_slot_counters_match(store)
    engine.dispose()


# --------------------------------------------------------------------------- calendar file


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


# --------------------------------------------------------------------------- activity


def test_activity_uses_requested_on_or_clock(sqlite_store: BookingStore) -> None:
    acts = BookingActivities(sqlite_store, clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert acts.book(request("c1", "1")).pickup_date == D1.isoformat()
    inp = request("c2", "2")
    inp.requested_on = "2026-03-09"  # Monday a week later
    assert acts.book(inp).pickup_date == "2026-03-12"
    # A datetime with offset: 16:30 UTC is 17:30 in Paris, after the cut-off.
    late = request("c3", "3")
    late.requested_on = "2026-03-02T16:30:00+00:00"
    assert acts.book(late).pickup_date == D1.isoformat()  # Tue processing -> Thu 5 still
    late2 = request("c4", "4")
    late2.requested_on = "2026-03-03T16:30:00+00:00"  # Tue 17:30 -> Wed -> Fri -> Tue 10
    assert acts.book(late2).pickup_date == D2.isoformat()


def test_activity_never_books_in_the_past_for_an_old_request(sqlite_store: BookingStore) -> None:
    # Resolved by an agent a week after the voicemail: the lead time counts from now.
    acts = BookingActivities(sqlite_store, clock=lambda: datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    old = request("c-old", "5")
    old.requested_on = "2026-03-02T09:00:00+00:00"
    assert acts.book(old).pickup_date == "2026-03-12"


def test_activity_rejects_invalid_input_non_retryably(sqlite_store: BookingStore) -> None:
    acts = BookingActivities(sqlite_store, clock=lambda: NOW.replace(tzinfo=UTC))
    empty = request("c1")
    empty.items = []
    with pytest.raises(ApplicationError) as info:
        acts.book(empty)
    assert info.value.type == BOOKING_REJECTED and info.value.non_retryable
    bad_date = request("c2")
    bad_date.requested_on = "02/03/2026"
    with pytest.raises(ApplicationError) as info:
        acts.book(bad_date)
    assert info.value.type == BOOKING_REJECTED and info.value.non_retryable
    strict = BookingStore(
        sqlite_store.engine, ServiceCalendar.from_dict({**CALENDAR, "default_sector": None})
    )
    unknown = request("c3")
    unknown.sector = "13055"
    with pytest.raises(ApplicationError) as info:
        BookingActivities(strict).book(unknown)
    assert info.value.type == BOOKING_REJECTED and info.value.non_retryable


def test_activity_database_errors_stay_retryable() -> None:
    engine = make_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    acts = BookingActivities(BookingStore(engine, calendar()))
    with pytest.raises(OperationalError):
        acts.book(request("c1"))
    engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL


def _pg_reachable() -> str | None:
    try:
        engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL unreachable at {PG_URL}: {exc.__class__.__name__}"
    return None


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    schema = f"encombot_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        PG_URL,
        connect_args={"options": f"-c search_path={schema}"},
        pool_size=20,
        max_overflow=10,
        pool_timeout=60,
    )
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
    bookings, slots = booking_mod._BOOKINGS, booking_mod._SLOTS
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


def _stampede(
    engine: Engine, n: int, first_day_places: int, horizon: int, capacity: int
) -> tuple[list[BookResult], Counter[str], float]:
    data = copy.deepcopy(CALENDAR)
    data["defaults"]["horizon_days"] = horizon
    data["sectors"][SECTOR]["capacity"] = capacity
    store = BookingStore(engine, ServiceCalendar.from_dict(data))
    store.set_capacity(SECTOR, D1, first_day_places)
    inputs = [request(f"stampede-{i}", str(i + 1)) for i in range(n)]
    started = time.perf_counter()
    results = run_concurrently(store, inputs)
    elapsed = time.perf_counter() - started
    by_date = Counter(r.pickup_date or str(r.status) for r in results)
    booked = [r for r in results if r.status == BookingStatus.BOOKED]
    assert len(results) == n
    assert {r.status for r in results} <= {BookingStatus.BOOKED, BookingStatus.NO_SLOT}
    assert len({r.reference for r in booked}) == len(booked)  # none doubled
    assert booking_rows(engine) == len(booked)  # none lost, none extra
    for r, inp in zip(results, inputs, strict=True):
        stored = store.get_by_call(inp.call_id)
        if r.status == BookingStatus.BOOKED:
            assert stored is not None and stored.reference == r.reference
        else:
            assert stored is None
    assert_slot_counters_match(store)
    print(
        f"\n{n} concurrent bookings for {first_day_places} places on {D1}: "
        f"{elapsed:.2f} s ({n / elapsed:.0f} bookings/s); by date: {dict(sorted(by_date.items()))}"
    )
    return results, by_date, elapsed


@pytest.mark.postgres
def test_pg_50_concurrent_bookings_for_10_places(pg_engine: Engine) -> None:
    # Horizon 10 days: Thu 5 (10 places), Tue 10 and Thu 12 (15 each) -> 40 booked, 10 no_slot.
    _, by_date, _ = _stampede(pg_engine, 50, first_day_places=10, horizon=10, capacity=15)
    assert by_date == {
        D1.isoformat(): 10,
        D2.isoformat(): 15,
        D3.isoformat(): 15,
        BookingStatus.NO_SLOT.value: 10,
    }


@pytest.mark.postgres
def test_pg_200_concurrent_bookings_for_50_places(pg_engine: Engine) -> None:
    _, by_date, elapsed = _stampede(pg_engine, 200, first_day_places=50, horizon=45, capacity=60)
    assert by_date == {
        D1.isoformat(): 50,
        D2.isoformat(): 60,
        D3.isoformat(): 60,
        D4.isoformat(): 30,
    }
    assert elapsed < 30


def _duplicate_pairs(engine: Engine, pairs: int) -> list[tuple[BookResult, BookResult]]:
    store = BookingStore(engine, calendar(horizon_days=45))
    # Both attempts of a call go through the barrier together: a retried activity racing the
    # first attempt (e.g. after a worker lost its heartbeat).
    inputs = []
    for i in range(pairs):
        inputs += [request(f"dup-{i}", str(i + 1)), request(f"dup-{i}", str(i + 1))]
    results = run_concurrently(store, inputs)
    out = [(results[2 * i], results[2 * i + 1]) for i in range(pairs)]
    for a, b in out:
        assert a.status == b.status == BookingStatus.BOOKED
        assert (a.reference, a.pickup_date) == (b.reference, b.pickup_date)
    assert booking_rows(engine) == pairs
    assert_slot_counters_match(store)
    return out


@pytest.mark.postgres
def test_pg_same_call_submitted_concurrently_books_once(pg_engine: Engine) -> None:
    _duplicate_pairs(pg_engine, 1)
    _duplicate_pairs(pg_engine, 20)


@pytest.mark.postgres
def test_pg_unique_call_id_is_the_last_line_of_defence(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the advisory locks, concurrent attempts of one call collide on the UNIQUE
    # call_id: the loser rolls back (its place included) and replays the winner's booking.
    monkeypatch.setattr(BookingStore, "_advisory_lock", staticmethod(lambda conn, key: None))
    store = BookingStore(pg_engine, calendar(horizon_days=45))
    inputs = []
    for i in range(20):
        # Different house numbers per attempt: the address check cannot answer first.
        inputs += [request(f"dup-{i}", str(i + 1)), request(f"dup-{i}", str(i + 101))]
    results = run_concurrently(store, inputs)
    for i in range(20):
        a, b = results[2 * i], results[2 * i + 1]
        assert a.status == b.status == BookingStatus.BOOKED
        assert a.reference == b.reference
    assert booking_rows(pg_engine) == 20
    assert_slot_counters_match(store)


@pytest.mark.postgres
def test_pg_concurrent_calls_for_one_address_book_once(pg_engine: Engine) -> None:
    store = BookingStore(pg_engine, calendar(horizon_days=45))
    results = run_concurrently(store, [request(f"addr-{i}") for i in range(10)])
    statuses = Counter(r.status for r in results)
    assert statuses == {BookingStatus.BOOKED: 1, BookingStatus.ALREADY_BOOKED: 9}
    assert len({r.reference for r in results}) == 1
    assert booking_rows(pg_engine) == 1


@pytest.mark.postgres
def test_pg_cancel_and_replay(pg_engine: Engine) -> None:
    store = BookingStore(pg_engine, calendar())
    store.set_capacity(SECTOR, D1, 1)
    first = store.book(request("c1", "1"), NOW)
    assert store.book(request("c1", "1"), NOW).reference == first.reference
    cancelled = store.cancel(first.reference, "caller")
    assert cancelled is not None and cancelled.status == "cancelled"
    slot = store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 0
    assert store.book(request("c2", "2"), NOW).pickup_date == D1.isoformat()
