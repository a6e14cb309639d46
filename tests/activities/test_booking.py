"""The booking activities (book_pickup, cancel_booking, booking_status, call_centre_opening)
on an SQLite store; the store itself is tested in tests/activities/bookings/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from temporalio.exceptions import ApplicationError

from activities.booking import BookingActivities
from activities.bookings.calendar_file import load_calendar
from activities.bookings.engine import make_engine
from activities.bookings.store import BookingStore
from corpus import CORPUS_DIR
from domain.booking_models import (
    BookingStatusInput,
    CallCentreInput,
    CancelBookingInput,
    CancelStatus,
)
from domain.calendar import ServiceCalendar
from domain.errors import BOOKING_REJECTED
from tests.activities.bookings.common import (
    CALENDAR,
    CLOCK,
    D1,
    D1_DEADLINE,
    D2,
    NOW,
    SECTOR,
    calendar,
    request,
    sqlite_store_at,
)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[BookingStore]:
    yield from sqlite_store_at(tmp_path)


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
