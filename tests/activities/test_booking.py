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
    REFERENCE_LENGTH,
    BookingActivities,
    BookingRejected,
    BookingStore,
    create_schema,
    load_calendar,
    make_engine,
    new_reference,
    normalise_reference,
)
from corpus import CORPUS_DIR
from domain.booking_models import (
    BookingStatusInput,
    CallCentreInput,
    CancelBookingInput,
    CancelStatus,
)
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
        return int(
            conn.execute(select(func.count()).select_from(booking_mod._BOOKINGS)).scalar_one()
        )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[BookingStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'bookings.sqlite'}")
    create_schema(engine)
    yield BookingStore(engine, calendar(), clock=lambda: CLOCK)
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


def test_reference_alphabet_has_no_ambiguous_characters() -> None:
    # Read aloud or typed from an SMS: digits and letters that look or sound alike are out.
    for ambiguous in "0O1IL2Z5S8B":
        assert ambiguous not in REFERENCE_ALPHABET
    assert REFERENCE_ALPHABET.isalnum() and REFERENCE_ALPHABET.upper() == REFERENCE_ALPHABET
    assert len(set(REFERENCE_ALPHABET)) == len(REFERENCE_ALPHABET)
    refs = {new_reference() for _ in range(2000)}
    assert all(len(r) == REFERENCE_LENGTH and set(r) <= set(REFERENCE_ALPHABET) for r in refs)
    assert len(refs) > 1990  # random, not a counter
    assert normalise_reference(" ac3-d4 f ") == "AC3D4F"


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


def test_cancel_booking_activity(sqlite_store: BookingStore) -> None:
    clock = [CLOCK]
    acts = BookingActivities(sqlite_store, clock=lambda: clock[0])
    booked = acts.book(request("call-9"))
    # By call id (the workflow's own booking), with an idempotency key.
    inp = CancelBookingInput(
        call_id="call-9", actor="caller_sms", reason="ANNULER", request_id="voicemail-9:cancel"
    )
    first = acts.cancel_booking(inp)
    assert first.status == CancelStatus.CANCELLED
    assert (first.reference, first.pickup_date, first.sector) == (
        booked.reference,
        booked.pickup_date,
        SECTOR,
    )
    # A retry of the same activity (result lost after the commit): the same answer.
    assert acts.cancel_booking(inp) == first
    # Another request: already cancelled; the audit trail has one cancellation.
    other = CancelBookingInput(reference=booked.reference.lower(), actor="agent:7")
    assert acts.cancel_booking(other).status == CancelStatus.ALREADY_CANCELLED
    stored = sqlite_store.get_by_call("call-9")
    assert stored is not None
    cancels = [e for e in sqlite_store.events(stored.id) if e["action"] == "cancelled"]
    assert [(e["actor"], e["detail"]) for e in cancels] == [
        ("caller_sms", {"reason": "ANNULER", "request_id": "voicemail-9:cancel"})
    ]
    assert acts.cancel_booking(CancelBookingInput(reference="XXXXXX")).status == "not_found"
    # The activity's clock decides the deadline.
    again = acts.book(request("call-10", "10"))
    clock[0] = D1_DEADLINE
    late = acts.cancel_booking(CancelBookingInput(reference=again.reference, actor="caller_sms"))
    assert late.status == CancelStatus.TOO_LATE
    for bad in (CancelBookingInput(reference="X", actor="caller"), CancelBookingInput()):
        with pytest.raises(ApplicationError) as info:
            acts.cancel_booking(bad)
        assert info.value.type == BOOKING_REJECTED and info.value.non_retryable


def test_booking_status_activity(sqlite_store: BookingStore) -> None:
    acts = BookingActivities(sqlite_store, clock=lambda: CLOCK)
    booked = acts.book(request("call-1"))
    status = acts.booking_status(BookingStatusInput(call_id="call-1"))
    assert (status.found, status.status, status.reference, status.pickup_date) == (
        True,
        "booked",
        booked.reference,
        D1.isoformat(),
    )
    acts.cancel_booking(CancelBookingInput(reference=booked.reference, actor="agent:1"))
    # What the workflow checks before the reminder: cancelled, so no reminder.
    assert acts.booking_status(BookingStatusInput(reference=booked.reference)).status == (
        "cancelled"
    )
    assert acts.booking_status(BookingStatusInput(reference="XXXXXX")).found is False
    with pytest.raises(ApplicationError) as info:
        acts.booking_status(BookingStatusInput())
    assert info.value.type == BOOKING_REJECTED and info.value.non_retryable


def test_call_centre_opening_activity(sqlite_store: BookingStore) -> None:
    # The shipped hours: Monday to Saturday 08:30-18:30, closed on public holidays.
    store = BookingStore(sqlite_store.engine, load_calendar(CORPUS_DIR / "calendar.yaml"))
    # Saturday 7 March 2026 19:00 local (18:00 UTC) -> Monday 9 March 08:30 CET.
    acts = BookingActivities(store, clock=lambda: datetime(2026, 3, 7, 18, 0, tzinfo=UTC))
    closed = acts.call_centre_opening(CallCentreInput())
    assert closed.open_now is False
    assert closed.next_opening == "2026-03-09T07:30:00+00:00"
    assert closed.next_opening_local == "2026-03-09T08:30:00+01:00"
    opened = acts.call_centre_opening(CallCentreInput(at="2026-03-09T10:00:00+01:00"))
    assert opened.open_now is True and opened.next_opening == "2026-03-09T09:00:00+00:00"
    # Naive: local time. Monday 13 July 19:00, the eve of 14 July -> Wednesday 15, CEST.
    eve = acts.call_centre_opening(CallCentreInput(at="2026-07-13T19:00:00"))
    assert (eve.open_now, eve.next_opening) == (False, "2026-07-15T06:30:00+00:00")
    with pytest.raises(ApplicationError) as info:
        acts.call_centre_opening(CallCentreInput(at="samedi soir"))
    assert info.value.type == BOOKING_REJECTED and info.value.non_retryable


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
