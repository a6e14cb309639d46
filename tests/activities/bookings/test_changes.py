"""An agent's changes to a booking in the store (activities/bookings/changes.py), on SQLite and
PostgreSQL: a move takes a place on the new day and frees the old one atomically, never
overbooks under concurrency (threads, and processes on SQLite), crossing moves do not deadlock,
a retried move changes nothing twice, the audit trail names the agent; item changes keep the
sector's limit."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from activities.bookings.changes import BookingChanges
from activities.bookings.engine import make_engine, writer
from activities.bookings.schema import create_schema
from activities.bookings.store import BookingStore
from domain.booking_changes import ChangeStatus
from domain.models import ItemCount
from tests.activities.bookings.common import (
    CLOCK,
    D1,
    D2,
    D3,
    D4,
    NOW,
    SECTOR,
    assert_slot_counters_match,
    calendar,
    request,
)
from tests.conftest import postgres_url

PARIS = ZoneInfo("Europe/Paris")
AT = NOW.replace(tzinfo=PARIS)  # Monday 2 March 2026, 10:00
_HOUSES = itertools.count(100)


def _sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bookings.sqlite'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def _postgres() -> Iterator[Engine]:
    admin = make_engine(postgres_url(), connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL unreachable at {postgres_url()}: {type(exc).__name__}")
    schema = f"encombot_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        postgres_url(), connect_args={"options": f"-c search_path={schema}"}, pool_size=20
    )
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from (_sqlite(tmp_path) if request.param == "sqlite" else _postgres())


def stores(engine: Engine) -> tuple[BookingStore, BookingChanges]:
    store = BookingStore(engine, calendar(), clock=lambda: CLOCK)
    return store, BookingChanges(writer(engine), store.calendar, lambda: CLOCK)


def book(store: BookingStore, n: int, day: date = D1) -> list[str]:
    """`n` bookings on `day` (the days before it made full for the occasion)."""
    references = []
    for _ in range(n):
        number = str(next(_HOUSES))  # one address per booking: no "already booked"
        result = store.book(request(f"c-{uuid.uuid4().hex[:8]}", number), NOW)
        assert result.pickup_date == day.isoformat(), result
        references.append(result.reference)
    return references


def test_move_takes_the_new_place_and_frees_the_old(engine: Engine) -> None:
    store, changes = stores(engine)
    [ref] = book(store, 1)
    done = changes.move(ref, D2, "agent:a7", AT, reason="absent jeudi", request_id="r1")
    assert (done.status, done.previous_date, done.pickup_date) == ("done", str(D1), str(D2))
    stored = store.get_by_reference(ref)
    assert stored is not None and stored.pickup_date == D2
    assert store.slot(SECTOR, D1).used == 0  # type: ignore[union-attr]
    assert store.slot(SECTOR, D2).used == 1  # type: ignore[union-attr]
    [moved] = [e for e in store.events(stored.id) if e["action"] == "moved"]
    assert moved["actor"] == "agent:a7"
    assert moved["detail"] == {
        "from": str(D1),
        "to": str(D2),
        "reason": "absent jeudi",
        "request_id": "r1",
    }
    # The activity retried after its commit: the same answer, nothing moved twice.
    again = changes.move(ref, D2, "agent:a7", AT, request_id="r1")
    assert again.status == "done" and store.slot(SECTOR, D2).used == 1  # type: ignore[union-attr]
    assert changes.move(ref, D2, "agent:a7", AT).status == ChangeStatus.UNCHANGED
    assert_slot_counters_match(store)


def test_move_refuses_days_the_bot_could_not_book(engine: Engine) -> None:
    store, changes = stores(engine)
    [ref] = book(store, 1)
    wednesday = date(2026, 3, 11)
    refused = changes.move(ref, wednesday, "agent:a7", AT)
    assert refused.status == ChangeStatus.NOT_A_COLLECTION_DAY
    assert "mardi" not in refused.message and "tue, thu" in refused.message
    # Beyond the horizon, and before the lead time (Tuesday 3 is a collection day).
    assert changes.move(ref, D4, "agent:a7", AT).status == ChangeStatus.OUT_OF_WINDOW
    assert changes.move(ref, date(2026, 3, 3), "agent:a7", AT).status == ChangeStatus.OUT_OF_WINDOW
    # A day whose round is planned: Thursday 5 after Wednesday's 17:00 cut-off.
    assert changes.move(ref, D2, "agent:a7", AT).status == "done"
    late = datetime(2026, 3, 4, 17, 30, tzinfo=PARIS)
    back = changes.move(ref, D1, "agent:a7", late)
    assert back.status == ChangeStatus.OUT_OF_WINDOW and "réservable" in back.message
    with pytest.raises(ValueError, match="actor"):
        changes.move(ref, D2, "someone", AT)
    assert changes.move("ZZZZZZ", D2, "agent:a7", AT).status == ChangeStatus.NOT_FOUND
    store.cancel(ref, "agent:a7")
    assert changes.move(ref, D2, "agent:a7", AT).status == ChangeStatus.NOT_BOOKED
    assert_slot_counters_match(store)


def test_move_into_a_full_day_is_refused_and_keeps_the_booking(engine: Engine) -> None:
    store, changes = stores(engine)
    refs = book(store, 3)  # D1 full (3 places)
    [on_d2] = book(store, 1, D2)
    store.set_capacity(SECTOR, D2, 1)  # D2 full too
    full = changes.move(refs[0], D2, "agent:a7", AT)
    assert full.status == ChangeStatus.FULL and "complet" in full.message
    assert store.get_by_reference(refs[0]).pickup_date == D1  # type: ignore[union-attr]
    assert changes.move(on_d2, D1, "agent:a7", AT).status == ChangeStatus.FULL
    assert_slot_counters_match(store)


def test_change_items_keeps_the_sector_limit(engine: Engine) -> None:
    store, changes = stores(engine)
    [ref] = book(store, 1)
    items = [ItemCount("canapé", 1), ItemCount("chaise", 4)]
    done = changes.change_items(ref, items, "agent:a7", request_id="i1")
    assert done.status == "done" and done.items == items
    stored = store.get_by_reference(ref)
    assert stored is not None and stored.items == items
    events = [e for e in store.events(stored.id) if e["action"] == "items_changed"]
    assert [e["actor"] for e in events] == ["agent:a7"]
    assert events[0]["detail"]["from"] == [{"item": "canapé", "count": 1}]
    too_many = changes.change_items(ref, [ItemCount("chaise", 6)], "agent:a7")
    assert too_many.status == ChangeStatus.TOO_MANY_ITEMS and "5 au plus" in too_many.message
    assert changes.change_items(ref, items, "agent:a7").status == ChangeStatus.UNCHANGED
    assert changes.change_items(ref, items, "agent:a7", request_id="i1").status == "done"
    assert len([e for e in store.events(stored.id) if e["action"] == "items_changed"]) == 1


def _race(n: int, work: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_concurrent_moves_into_the_last_place_never_overbook(engine: Engine) -> None:
    store, changes = stores(engine)
    store.set_capacity(SECTOR, D1, 12)
    refs = book(store, 12)
    store.set_capacity(SECTOR, D2, 2)
    [already] = book(store, 1, D2)  # one place of D2 taken: one left
    results = _race(12, lambda i: changes.move(refs[i], D2, f"agent:a{i}", AT))
    statuses = sorted(r.status for r in results)
    assert statuses == ["done"] + ["full"] * 11, statuses
    assert store.slot(SECTOR, D2).used == 2  # type: ignore[union-attr]
    assert store.slot(SECTOR, D1).used == 11  # type: ignore[union-attr]
    assert_slot_counters_match(store)
    assert already


def test_crossing_moves_neither_deadlock_nor_lose_a_place(engine: Engine) -> None:
    """Half the bookings go D1 -> D2 while the other half go D2 -> D1, all at once: on
    PostgreSQL the two days' rows are locked in date order, so nobody waits on a cycle."""
    store, changes = stores(engine)
    for day in (D1, D2, D3):
        store.set_capacity(SECTOR, day, 20)
    on_d1 = book(store, 10)
    store.set_capacity(SECTOR, D1, 10)
    on_d2 = book(store, 10, D2)
    for day in (D1, D2):
        store.set_capacity(SECTOR, day, 20)
    moves = [(r, D2) for r in on_d1] + [(r, D1) for r in on_d2]
    results = _race(len(moves), lambda i: changes.move(moves[i][0], moves[i][1], "agent:x", AT))
    assert all(r.status == "done" for r in results), results
    assert store.slot(SECTOR, D1).used == store.slot(SECTOR, D2).used == 10  # type: ignore[union-attr]
    assert_slot_counters_match(store)


def _move_in_process(url: str, reference: str, agent: str, out: Any) -> None:
    engine = make_engine(url)
    store = BookingStore(engine, calendar(), clock=lambda: CLOCK)
    changes = BookingChanges(writer(engine), store.calendar, lambda: CLOCK)
    out.put(changes.move(reference, D2, agent, AT).status)


def test_sqlite_moves_from_separate_processes_never_overbook(tmp_path: Path) -> None:
    """Workers are processes: the last place of a day goes to one of them, through the SQLite
    write lock, whatever the interleaving."""
    url = f"sqlite:///{tmp_path / 'bookings.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    store, _ = stores(engine)
    store.set_capacity(SECTOR, D1, 6)
    refs = book(store, 6)
    store.set_capacity(SECTOR, D2, 1)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    procs = [
        context.Process(target=_move_in_process, args=(url, ref, f"agent:p{i}", out))
        for i, ref in enumerate(refs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    statuses = sorted(out.get(timeout=5) for _ in procs)
    assert statuses == ["done"] + ["full"] * 5
    assert store.slot(SECTOR, D2).used == 1  # type: ignore[union-attr]
    assert_slot_counters_match(store)
    engine.dispose()
