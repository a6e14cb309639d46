"""The booking store on SQLite: idempotent bookings, capacity, the item limit, cancellation
and its deadline, the audit trail, concurrent writers."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from activities.bookings import reservation
from activities.bookings.engine import make_engine
from activities.bookings.references import REFERENCE_ALPHABET
from activities.bookings.schema import create_schema
from activities.bookings.store import BookingRejected, BookingStore
from domain.booking_models import CancelStatus
from domain.calendar import CalendarError, ServiceCalendar
from domain.models import BookingStatus, ItemCount
from tests.activities.bookings.common import (
    CALENDAR,
    CLOCK,
    D1,
    D1_DEADLINE,
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
    sqlite_store_at,
)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[BookingStore]:
    yield from sqlite_store_at(tmp_path)


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


def test_too_many_items_escalates_when_configured(sqlite_store: BookingStore) -> None:
    store = BookingStore(sqlite_store.engine, calendar(over_limit="escalate"))
    result = store.book(request("c1", count=6), NOW)
    assert result.status == BookingStatus.TOO_MANY_ITEMS
    assert "at most 5" in result.reason
    assert result.left_out == []
    assert booking_rows(store.engine) == 0
    ok = store.book(request("c2", count=5), NOW)
    assert ok.status == BookingStatus.BOOKED and ok.left_out == []


def test_too_many_items_books_what_fits_by_default(sqlite_store: BookingStore) -> None:
    inp = request("c1")
    # 2 + 3 + 2 = 7 items for 5: the wardrobe's count is split, the last item left out.
    inp.items = [ItemCount("canapé", 2), ItemCount("armoire", 3), ItemCount("matelas", 2)]
    result = sqlite_store.book(inp, NOW)
    assert result.status == BookingStatus.BOOKED
    assert result.items == [ItemCount("canapé", 2), ItemCount("armoire", 3)]
    assert result.left_out == [ItemCount("matelas", 2)]
    assert "7 items, at most 5" in result.reason and "2 left out" in result.reason
    stored = sqlite_store.get_by_call("c1")
    assert stored is not None and stored.items == result.items
    [event] = sqlite_store.events(stored.id)
    assert event["detail"]["requested"] == [
        {"item": "canapé", "count": 2},
        {"item": "armoire", "count": 3},
        {"item": "matelas", "count": 2},
    ]
    # A retried activity gets the same answer, left-out items included.
    again = sqlite_store.book(inp, NOW)
    assert (again.reference, again.items, again.left_out) == (
        result.reference,
        result.items,
        result.left_out,
    )
    split = request("c2", "2")
    split.items = [ItemCount("chaise", 4), ItemCount("chaise", 3)]
    got = sqlite_store.book(split, NOW)
    assert got.items == [ItemCount("chaise", 4), ItemCount("chaise", 1)]
    assert got.left_out == [ItemCount("chaise", 2)]


def test_over_limit_per_sector_override() -> None:
    data = copy.deepcopy(CALENDAR)
    data["defaults"]["over_limit"] = "escalate"
    data["sectors"][SECTOR]["over_limit"] = "book_what_fits"
    cal = ServiceCalendar.from_dict(data)
    assert cal.rules(SECTOR).over_limit == "book_what_fits"
    assert cal.rules("13055").over_limit == "escalate"  # default_sector inherits defaults
    data["defaults"]["over_limit"] = "refuse"
    with pytest.raises(CalendarError, match=r"defaults\.over_limit.*book_what_fits or escalate"):
        ServiceCalendar.from_dict(data)


def test_book_result_carries_the_reminder_time(sqlite_store: BookingStore) -> None:
    result = sqlite_store.book(request("c1"), NOW)
    # Eve of Thursday 5 March, 18:00 CET.
    assert result.reminder_at == "2026-03-04T17:00:00+00:00"
    assert sqlite_store.book(request("c1"), NOW).reminder_at == result.reminder_at
    # The other call at the same address gets the existing booking, and no second reminder.
    other = sqlite_store.book(request("c2"), NOW)
    assert other.status == BookingStatus.ALREADY_BOOKED and other.reminder_at == ""
    # Booked on the eve after 18:00 (possible with a zero lead time and a late cut-off).
    late = BookingStore(
        sqlite_store.engine, calendar(min_lead_working_days=0, cutoff="23:00"), clock=lambda: CLOCK
    )
    same_day = late.book(request("c3", "3"), datetime(2026, 3, 4, 19, 0))
    assert same_day.pickup_date == D1.isoformat() and same_day.reminder_at == ""


def test_cancel_frees_the_place(sqlite_store: BookingStore) -> None:
    sqlite_store.set_capacity(SECTOR, D1, 1)
    first = sqlite_store.book(request("c1", "1"), NOW)
    assert sqlite_store.book(request("c2", "2"), NOW).pickup_date == D2.isoformat()
    cancelled = sqlite_store.cancel(first.reference, "agent:marie", reason="caller asked")
    assert cancelled.status == CancelStatus.CANCELLED
    assert (cancelled.reference, cancelled.pickup_date) == (first.reference, first.pickup_date)
    assert cancelled.deadline == D1_DEADLINE.isoformat()
    stored = sqlite_store.get_by_reference(first.reference)
    assert stored is not None and stored.status == "cancelled"
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 0
    assert sqlite_store.book(request("c3", "3"), NOW).pickup_date == D1.isoformat()
    # Cancelling twice changes nothing.
    again = sqlite_store.cancel(first.reference, "caller_sms")
    assert again.status == CancelStatus.ALREADY_CANCELLED
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 1
    events = sqlite_store.events(stored.id)
    assert [(e["actor"], e["action"]) for e in events] == [
        ("bot", "booked"),
        ("agent:marie", "cancelled"),
    ]
    assert events[1]["detail"] == {"reason": "caller asked"}
    # The address is free again for another call.
    assert sqlite_store.book(request("c4", "1"), NOW).status == BookingStatus.BOOKED
    assert sqlite_store.cancel("XXXXXX", "bot").status == CancelStatus.NOT_FOUND
    with pytest.raises(ValueError, match="actor"):
        sqlite_store.cancel(first.reference, "someone")
    with pytest.raises(ValueError, match="actor"):
        sqlite_store.cancel(first.reference, "caller")  # the channel must be named
    with pytest.raises(ValueError, match="reference or a call_id"):
        sqlite_store.cancel("", "bot")


def test_cancel_deadline_is_the_cut_off_of_the_last_working_day(
    sqlite_store: BookingStore,
) -> None:
    booked = sqlite_store.book(request("c1"), NOW)
    ref = booked.reference
    late = sqlite_store.cancel(ref, "caller_sms", now=D1_DEADLINE)
    assert late.status == CancelStatus.TOO_LATE and late.deadline == D1_DEADLINE.isoformat()
    assert sqlite_store.cancel(ref, "bot", now=D1_DEADLINE).status == CancelStatus.TOO_LATE
    stored = sqlite_store.get_by_reference(ref)
    assert stored is not None and stored.status == "booked"
    assert [e["action"] for e in sqlite_store.events(stored.id)] == ["booked"]
    # An agent may still cancel (they arrange it with the crew).
    assert sqlite_store.cancel(ref, "agent:42", now=D1_DEADLINE).status == "cancelled"
    # One minute before the deadline a caller can.
    other = sqlite_store.book(request("c2", "2"), NOW)
    minute_before = datetime(2026, 3, 4, 15, 59, tzinfo=UTC)
    assert sqlite_store.cancel(other.reference, "caller_sms", now=minute_before).status == (
        CancelStatus.CANCELLED
    )
    # A Monday pickup: the deadline is Friday's cut-off, not Sunday's.
    cal = sqlite_store.calendar
    assert cal.cancel_deadline(SECTOR, date(2026, 3, 9)).isoformat() == (
        "2026-03-06T17:00:00+01:00"
    )
    # Tuesday after Easter Monday (6 April 2026): Friday 3 April.
    assert cal.cancel_deadline(SECTOR, date(2026, 4, 7)).isoformat() == (
        "2026-04-03T17:00:00+02:00"
    )


def test_collected_booking_cannot_be_cancelled(sqlite_store: BookingStore) -> None:
    booked = sqlite_store.book(request("c1"), NOW)
    collected = sqlite_store.mark_collected(booked.reference, "agent:crew-7")
    assert collected is not None and collected.status == "collected"
    assert sqlite_store.mark_collected(booked.reference, "agent:crew-7") == collected
    assert sqlite_store.mark_collected("XXXXXX", "bot") is None
    late = sqlite_store.cancel(booked.reference, "agent:marie")
    assert late.status == CancelStatus.TOO_LATE
    slot = sqlite_store.slot(SECTOR, D1)
    assert slot is not None and slot.used == 1  # the place was used
    assert [(e["actor"], e["action"]) for e in sqlite_store.events(collected.id)] == [
        ("bot", "booked"),
        ("agent:crew-7", "collected"),
    ]
    # Collected: the address may book again.
    assert sqlite_store.book(request("c2"), NOW).status == BookingStatus.BOOKED
    # A cancelled booking is never marked collected.
    other = sqlite_store.book(request("c3", "3"), NOW)
    sqlite_store.cancel(other.reference, "bot")
    unchanged = sqlite_store.mark_collected(other.reference, "bot")
    assert unchanged is not None and unchanged.status == "cancelled"


def test_audit_trail_names_every_actor(sqlite_store: BookingStore) -> None:
    refs = [sqlite_store.book(request(f"c{i}", str(i)), NOW).reference for i in range(3)]
    sqlite_store.cancel(refs[0], "caller_sms", reason="ANNULER")
    sqlite_store.cancel(refs[1], "agent:marie.d@amp", reason="doublon")
    sqlite_store.cancel(refs[2], "bot")
    trails = []
    for ref in refs:
        stored = sqlite_store.get_by_reference(ref)
        assert stored is not None
        events = sqlite_store.events(stored.id)
        trails.append([(e["actor"], e["action"]) for e in events])
        assert all(e["at"] == CLOCK for e in events)
    assert trails == [
        [("bot", "booked"), ("caller_sms", "cancelled")],
        [("bot", "booked"), ("agent:marie.d@amp", "cancelled")],
        [("bot", "booked"), ("bot", "cancelled")],
    ]


def test_reference_collision_is_retried(
    sqlite_store: BookingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = iter(["AAAAAA", "AAAAAA", "CCCCCC"])
    monkeypatch.setattr(reservation, "new_reference", lambda: next(refs))
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
