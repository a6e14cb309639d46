"""The booking store on PostgreSQL (skipped when the server at ENCOMBOT_TEST_POSTGRES_URL is
unreachable): concurrent bookings never overbook, lose or double a booking."""

from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from activities.bookings import reservation
from activities.bookings.engine import make_engine
from activities.bookings.schema import create_schema
from activities.bookings.store import BookingStore
from domain.booking_models import CancelStatus
from domain.calendar import ServiceCalendar
from domain.models import BookingStatus, BookResult
from tests.activities.bookings.common import (
    CALENDAR,
    CLOCK,
    D1,
    D2,
    D3,
    D4,
    NOW,
    SECTOR,
    assert_slot_counters_match,
    booking_rows,
    calendar,
    request,
    run_concurrently,
)

PG_URL = os.environ.get(
    "ENCOMBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


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


def _stampede(
    engine: Engine,
    n: int,
    first_day_places: int,
    horizon: int,
    capacity: int,
    attempts: int = 1,
) -> tuple[list[BookResult], Counter[str], float]:
    """`n` calls booked at once, each submitted `attempts` times concurrently (an activity
    retry racing the first attempt after a lost heartbeat). Checks that no booking is lost
    or doubled and returns each call's result, the count per day (or status) and the time."""
    data = copy.deepcopy(CALENDAR)
    data["defaults"]["horizon_days"] = horizon
    data["sectors"][SECTOR]["capacity"] = capacity
    store = BookingStore(engine, ServiceCalendar.from_dict(data))
    store.set_capacity(SECTOR, D1, first_day_places)
    # A fresh input per attempt, as a retry deserialises its own copy.
    inputs = [
        request(f"stampede-{i}", str(i + 1)) for i in range(n) for _attempt in range(attempts)
    ]
    started = time.perf_counter()
    all_results = run_concurrently(store, inputs)
    elapsed = time.perf_counter() - started
    results = []
    for i in range(n):
        group = all_results[i * attempts : (i + 1) * attempts]
        # Every attempt of a call gives the same answer: one booking, not two.
        assert len({(r.status, r.reference, r.pickup_date) for r in group}) == 1, group
        results.append(group[0])
    by_date = Counter(r.pickup_date or str(r.status) for r in results)
    booked = [r for r in results if r.status == BookingStatus.BOOKED]
    assert len(results) == n
    assert {r.status for r in results} <= {BookingStatus.BOOKED, BookingStatus.NO_SLOT}
    assert len({r.reference for r in booked}) == len(booked)  # none doubled
    assert booking_rows(engine) == len(booked)  # none lost, none extra
    for i, r in enumerate(results):
        stored = store.get_by_call(f"stampede-{i}")
        if r.status == BookingStatus.BOOKED:
            assert stored is not None and stored.reference == r.reference
            assert stored.pickup_date.isoformat() == r.pickup_date
        else:
            assert stored is None
    assert_slot_counters_match(store)
    print(
        f"\n{n} concurrent bookings x {attempts} attempt(s) = {len(inputs)} submissions, "
        f"{first_day_places} places on {D1}: {elapsed:.2f} s "
        f"({len(inputs) / elapsed:.0f} submissions/s); "
        f"bookings {len(booked)} (rows {booking_rows(engine)}); "
        f"by date: {dict(sorted(by_date.items()))}"
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
@pytest.mark.parametrize("attempts", [1, 2], ids=["once", "retried"])
def test_pg_200_concurrent_bookings_for_50_places(pg_engine: Engine, attempts: int) -> None:
    # Exactly 50 on the first day, the other 150 on the next collection days (60 places each).
    _, by_date, elapsed = _stampede(
        pg_engine, 200, first_day_places=50, horizon=45, capacity=60, attempts=attempts
    )
    assert by_date == {
        D1.isoformat(): 50,
        D2.isoformat(): 60,
        D3.isoformat(): 60,
        D4.isoformat(): 30,
    }
    assert elapsed < 30 * attempts


@pytest.mark.postgres
def test_pg_200_retried_bookings_for_50_places_overflow_escalates(pg_engine: Engine) -> None:
    # Horizon 10 days: 50 + 60 + 60 places for 200 calls -> 30 no_slot, which the workflow
    # hands to an agent (EscalationReason.NO_SLOT); each call submitted twice.
    _, by_date, _ = _stampede(
        pg_engine, 200, first_day_places=50, horizon=10, capacity=60, attempts=2
    )
    assert by_date == {
        D1.isoformat(): 50,
        D2.isoformat(): 60,
        D3.isoformat(): 60,
        BookingStatus.NO_SLOT.value: 30,
    }


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
    monkeypatch.setattr(reservation, "advisory_lock", lambda conn, key: None)
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
    cancelled = store.cancel(first.reference, "caller_sms", now=CLOCK)
    assert cancelled.status == CancelStatus.CANCELLED
    slot = store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 0
    assert store.book(request("c2", "2"), NOW).pickup_date == D1.isoformat()


@pytest.mark.postgres
def test_pg_concurrent_cancels_free_the_place_once(pg_engine: Engine) -> None:
    store = BookingStore(pg_engine, calendar(), clock=lambda: CLOCK)
    store.set_capacity(SECTOR, D1, 2)
    refs = [store.book(request(f"c{i}", str(i)), NOW).reference for i in range(2)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def cancel(ref: str, request_id: str) -> None:
        result = store.cancel(ref, "caller_sms", request_id=request_id)
        with lock:
            outcomes.append(f"{ref}:{result.status}")

    # Booking 0: 10 different requests (ANNULER sent twice, an agent...): one cancels.
    # Booking 1: one request retried 10 times: every attempt answers `cancelled`.
    threads = [threading.Thread(target=cancel, args=(refs[0], f"req-{i}")) for i in range(10)]
    threads += [threading.Thread(target=cancel, args=(refs[1], "req-same")) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(outcomes) == {
        f"{refs[0]}:cancelled": 1,
        f"{refs[0]}:already_cancelled": 9,
        f"{refs[1]}:cancelled": 10,
    }
    slot = store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 0  # freed once each, never below
    for ref in refs:
        stored = store.get_by_reference(ref)
        assert stored is not None
        assert [e["action"] for e in store.events(stored.id)] == ["booked", "cancelled"]
    assert_slot_counters_match(store)
