"""The booking store: pickups and per-day places, behind the booking activities.

Guarantees:
- a call books at most once, whatever the retries: `call_id` is UNIQUE and a replay returns the
  booking the first attempt made (status `booked`, same reference);
- a day is never overbooked: a place is taken by a conditional `UPDATE ... used = used + 1
  WHERE used < capacity` in the same transaction as the booking row, so two transactions can
  never both take the last place (row lock on PostgreSQL, database write lock on SQLite);
- a second call for an address that already has a pending pickup books nothing
  (`already_booked`, the existing reference and date);
- more items than the sector allows: the first ones up to the limit are booked and the rest
  reported in `BookResult.left_out` (calendar `over_limit: book_what_fits`), or nothing is
  booked (`too_many_items`, `over_limit: escalate`);
- a cancellation frees the place at once; after the deadline (the sector's cut-off on the
  last working day before the pickup) only an agent may cancel;
- every change (booked, cancelled, collected) leaves an audit event naming its actor: "bot",
  "caller_sms" (the caller, by SMS) or "agent:<id>".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from activities.bookings import places
from activities.bookings.audit import booking_events, has_event, record_event
from activities.bookings.engine import configure_sqlite, writer
from activities.bookings.records import (
    SlotState,
    StoredBooking,
    find_booking,
    lock_booking,
    not_booked,
    to_booking,
)
from activities.bookings.references import (
    AGENT_PREFIX,
    address_key,
    check_actor,
    normalise_reference,
)
from activities.bookings.reservation import DuplicateCall, Reservation
from activities.bookings.schema import BOOKINGS, SLOTS, create_schema
from domain.booking_models import CancelBookingResult, CancelStatus
from domain.calendar import SectorRules, ServiceCalendar, UnknownSectorError, reminder_at
from domain.models import BookingStatus, BookInput, BookResult


class BookingRejected(ValueError):
    """The input cannot be booked as it is (unknown sector, no items...). Not retryable."""


class BookingStore:
    """Bookings and per-day places. Thread-safe; one instance per worker process.

    Give it an engine from `make_engine` (SQLite needs its connection hooks; they are added
    here too, but only reach connections opened afterwards)."""

    def __init__(
        self,
        engine: Engine,
        calendar: ServiceCalendar,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.calendar = calendar
        self.tz = ZoneInfo(calendar.timezone)
        # Audit timestamps and the default moment of a cancellation; booking rules use the
        # request time.
        self._clock = clock
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {dialect!r}: use sqlite or postgresql")
        if dialect == "sqlite":
            configure_sqlite(engine)
        self._writer = writer(engine)

    def create_schema(self) -> None:
        create_schema(self.engine)

    # ----------------------------------------------------------------- queries

    def get_by_call(self, call_id: str) -> StoredBooking | None:
        with self.engine.connect() as conn:
            return find_booking(conn, BOOKINGS.c.call_id == call_id)

    def get_by_reference(self, reference: str) -> StoredBooking | None:
        with self.engine.connect() as conn:
            return find_booking(conn, BOOKINGS.c.reference == normalise_reference(reference))

    def next_booking_for_caller(
        self, numbers: Sequence[str], from_day: date
    ) -> StoredBooking | None:
        """The earliest booking still on from `from_day` that was made for this number, given
        in every spelling a booking may hold it under ("+33612345678", "0612345678")."""
        query = (
            select(BOOKINGS)
            .where(
                BOOKINGS.c.caller_number.in_(list(numbers)),
                BOOKINGS.c.status == "booked",
                BOOKINGS.c.pickup_date >= from_day,
            )
            .order_by(BOOKINGS.c.pickup_date, BOOKINGS.c.id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return to_booking(row) if row is not None else None

    def slot(self, sector: str, pickup_date: date) -> SlotState | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(SLOTS).where(
                        SLOTS.c.sector == sector, SLOTS.c.pickup_date == pickup_date
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return SlotState(row["sector"], row["pickup_date"], row["capacity"], row["used"])

    def events(self, booking_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return booking_events(conn, booking_id)

    # ----------------------------------------------------------------- admin

    def set_capacity(self, sector: str, pickup_date: date, capacity: int) -> None:
        """Override the number of places of one sector-day (places already taken stay taken:
        remaining = capacity - used)."""
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0 (got {capacity})")
        with self._writer.begin() as conn:
            places.set_capacity(conn, sector, pickup_date, capacity)

    # ----------------------------------------------------------------- booking

    def book(self, inp: BookInput, now: datetime, conflicts: list[str] | None = None) -> BookResult:
        """Book a pickup for `inp`, the request made at `now` (aware, or naive local time).

        `conflicts`, when given, receives the contention met on the way (for metrics):
        `days_full` once when at least one candidate day had no place left,
        `duplicate_call` when a concurrent attempt of the same call committed first,
        `reference_retry` per generated reference that was already taken.

        Raises `BookingRejected` for input that can never be booked; database errors
        propagate (the caller retries)."""
        seen = conflicts if conflicts is not None else []
        rules = self._validate(inp)
        local_now = now.astimezone(self.tz) if now.tzinfo else now
        today = local_now.date()

        # Fast path for a retried activity: no write lock needed to answer a replay.
        existing = self.get_by_call(inp.call_id)
        if existing is not None:
            return self._replay(existing, inp, local_now)

        candidates = _preferred_first(
            list(self.calendar.candidate_dates(inp.sector, local_now)), inp.preferred_date
        )
        key = address_key(inp.address.citycode, inp.address.housenumber, inp.address.street)
        try:
            with self._writer.begin() as conn:
                reservation = Reservation(conn, inp, rules, clock=self._clock, conflicts=seen)
                result = reservation.book(key, candidates, today)
        except DuplicateCall as dup:
            # The losing attempt's transaction is rolled back: what it met is moot.
            seen[:] = ["duplicate_call"]
            return self._replay(dup.booking, inp, local_now)
        if result.status == BookingStatus.BOOKED:
            result.reminder_at = self._reminder_iso(date.fromisoformat(result.pickup_date), now)
        return result

    def first_free_date(self, sector: str, now: datetime) -> date | None:
        """The day `book` would take right now for `sector` (the first candidate day with a
        place left), without taking it: what a live call proposes to the caller. Raises
        `BookingRejected` for an unknown sector."""
        try:
            rules = self.calendar.rules(sector)
        except UnknownSectorError as exc:
            raise BookingRejected(str(exc)) from exc
        local_now = now.astimezone(self.tz) if now.tzinfo else now
        for day in self.calendar.candidate_dates(sector, local_now):
            slot = self.slot(sector, day)
            if (slot.remaining if slot is not None else rules.capacity) > 0:
                return day
        return None

    def _validate(self, inp: BookInput) -> SectorRules:
        if not inp.call_id.strip():
            raise BookingRejected("call_id is empty")
        if not inp.items:
            raise BookingRejected("no items to collect")
        for item in inp.items:
            if not item.item.strip() or item.count < 1:
                raise BookingRejected(f"invalid item {item.item!r} x{item.count}")
        if not inp.address.street.strip():
            raise BookingRejected("the address has no street")
        try:
            return self.calendar.rules(inp.sector)
        except UnknownSectorError as exc:
            raise BookingRejected(str(exc)) from exc

    def _replay(self, booking: StoredBooking, inp: BookInput, now: datetime) -> BookResult:
        # The same answer the first attempt gave, so a retried activity after a commit whose
        # result was lost still reports `booked` with the same reference.
        reason = "idempotent replay"
        if booking.status != "booked":
            reason += f"; the booking has since been {booking.status}"
        return BookResult(
            status=BookingStatus.BOOKED,
            reference=booking.reference,
            pickup_date=booking.pickup_date.isoformat(),
            sector=booking.sector,
            items=booking.items,
            reason=reason,
            left_out=not_booked(inp.items, booking.items),
            reminder_at=(
                self._reminder_iso(booking.pickup_date, now) if booking.status == "booked" else ""
            ),
        )

    def _reminder_iso(self, pickup_date: date, now: datetime) -> str:
        due = reminder_at(pickup_date, self.calendar, booked_at=now)
        return due.isoformat() if due is not None else ""

    # ----------------------------------------------------------------- cancel

    def cancel(
        self,
        reference: str,
        actor: str,
        reason: str = "",
        *,
        call_id: str = "",
        now: datetime | None = None,
        request_id: str = "",
    ) -> CancelBookingResult:
        """Cancel the booking `reference` (or, when empty, the one `call_id` made) and free
        its place, as of `now` (aware, or naive local; default: the store clock).

        Idempotent: a booking no longer `booked` is left as it is (`already_cancelled`, or
        `too_late` once collected); with `request_id`, the attempt that recorded it answers
        `cancelled` again. Past `ServiceCalendar.cancel_deadline` only an agent may cancel."""
        check_actor(actor)
        if reference.strip():
            where = BOOKINGS.c.reference == normalise_reference(reference)
        elif call_id.strip():
            where = BOOKINGS.c.call_id == call_id
        else:
            raise ValueError("a reference or a call_id is needed to cancel a booking")
        moment = now if now is not None else self._clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        with self._writer.begin() as conn:
            # Row lock (PostgreSQL; SQLite holds the database write lock): a concurrent
            # cancel of the same booking waits and then sees it cancelled.
            booking = lock_booking(conn, where)
            if booking is None:
                return CancelBookingResult(status=CancelStatus.NOT_FOUND)
            deadline = self._cancel_deadline(booking)
            answer = CancelBookingResult(
                status=CancelStatus.CANCELLED,
                reference=booking.reference,
                pickup_date=booking.pickup_date.isoformat(),
                sector=booking.sector,
                deadline=deadline.astimezone(UTC).isoformat(),
            )
            settled = _settled_cancel(conn, booking, actor, moment >= deadline, request_id)
            if settled is not None:
                answer.status = settled
                return answer
            self._set_cancelled(conn, booking, actor, reason, request_id)
            return answer

    def _set_cancelled(
        self, conn: Connection, booking: StoredBooking, actor: str, reason: str, request_id: str
    ) -> None:
        conn.execute(
            update(BOOKINGS)
            .where(BOOKINGS.c.id == booking.id)
            .values(status="cancelled", updated_at=self._clock())
        )
        places.free_place(conn, booking.sector, booking.pickup_date)
        detail = {"reason": reason, "request_id": request_id}
        record_event(
            conn,
            booking.id,
            self._clock(),
            actor,
            "cancelled",
            {k: v for k, v in detail.items() if v},
        )

    def _cancel_deadline(self, booking: StoredBooking) -> datetime:
        try:
            return self.calendar.cancel_deadline(booking.sector, booking.pickup_date)
        except UnknownSectorError:
            # The sector left the calendar after the booking: no cut-off to apply, so the
            # start of the pickup day (still honest: nobody cancels once the crew is out).
            return datetime.combine(booking.pickup_date, time(0, 0), tzinfo=self.tz)

    def mark_collected(self, reference: str, actor: str) -> StoredBooking | None:
        """The crew has collected the items: `booked` -> `collected` (the place stays used).
        Returns the booking as it is afterwards, None for an unknown reference; a booking
        already collected or cancelled is returned unchanged."""
        check_actor(actor)
        with self._writer.begin() as conn:
            where = BOOKINGS.c.reference == normalise_reference(reference)
            booking = lock_booking(conn, where)
            if booking is None:
                return None
            if booking.status != "booked":
                return booking
            conn.execute(
                update(BOOKINGS)
                .where(BOOKINGS.c.id == booking.id)
                .values(status="collected", updated_at=self._clock())
            )
            record_event(conn, booking.id, self._clock(), actor, "collected", {})
            found = find_booking(conn, BOOKINGS.c.id == booking.id)
            assert found is not None
            return found


def _settled_cancel(
    conn: Connection, booking: StoredBooking, actor: str, past_deadline: bool, request_id: str
) -> CancelStatus | None:
    """The answer when a cancellation changes nothing (a retry of the one recorded, a booking
    already cancelled or collected, the deadline passed for anyone but an agent); None when it
    goes ahead."""
    if booking.status == "cancelled":
        if request_id and has_event(conn, booking.id, "cancelled", request_id):
            return CancelStatus.CANCELLED
        return CancelStatus.ALREADY_CANCELLED
    if booking.status != "booked":
        return CancelStatus.TOO_LATE
    if past_deadline and not actor.startswith(AGENT_PREFIX):
        return CancelStatus.TOO_LATE
    return None


def _preferred_first(candidates: list[date], preferred: str) -> list[date]:
    """The day the caller agreed to first, when it is still a candidate; otherwise the usual
    order (a day already past or not a collection day is ignored, never an error)."""
    try:
        day = date.fromisoformat(preferred.strip()) if preferred.strip() else None
    except ValueError:
        return candidates
    if day is None or day not in candidates:
        return candidates
    return [day, *(d for d in candidates if d != day)]
