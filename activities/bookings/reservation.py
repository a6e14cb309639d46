"""One booking, inside the write transaction `BookingStore.book` opened: the duplicate checks,
the sector's item limit, the first candidate day with a place left, the booking row with a
fresh reference, and its audit event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from activities.bookings.audit import record_event
from activities.bookings.engine import advisory_lock
from activities.bookings.places import take_place
from activities.bookings.records import StoredBooking, find_booking, items_json, stored_fields
from activities.bookings.references import ACTOR_BOT, check_actor, new_reference
from activities.bookings.schema import BOOKINGS
from domain.calendar import OVER_LIMIT_ESCALATE, SectorRules, fit_items
from domain.models import BookingStatus, BookInput, BookResult, ItemCount

_REFERENCE_ATTEMPTS = 8


class DuplicateCall(Exception):
    """Raised inside the booking transaction to roll it back (the place it took included)."""

    def __init__(self, booking: StoredBooking) -> None:
        super().__init__(booking.reference)
        self.booking = booking


@dataclass(frozen=True)
class _Fit:
    """What a booking takes within the sector's item limit, what it leaves out, and why."""

    items: list[ItemCount]
    left_out: list[ItemCount]
    over_limit: str = ""


class Reservation:
    """The checks and writes of booking `inp` on the connection `conn` (in a write
    transaction). `conflicts` receives the contention met (see `BookingStore.book`)."""

    def __init__(
        self,
        conn: Connection,
        inp: BookInput,
        rules: SectorRules,
        *,
        clock: Callable[[], datetime],
        conflicts: list[str],
    ) -> None:
        self.conn = conn
        self.inp = inp
        self.rules = rules
        self._clock = clock
        self.conflicts = conflicts

    def book(self, key: str, candidates: list[date], today: date) -> BookResult:
        """Book on the first of `candidates` with a place left. `key`: the address key.
        Raises `DuplicateCall` when this call already has a booking."""
        inp, rules = self.inp, self.rules
        check_address = bool(inp.address.housenumber.strip())
        if self.conn.dialect.name == "postgresql":
            # Serialise the checks below per call and per address: without it, two different
            # calls for one address could both see "no booking yet" under READ COMMITTED.
            # Always call first, then address: one order, so no deadlock between the two.
            advisory_lock(self.conn, f"encombot:call:{inp.call_id}")
            if check_address:
                advisory_lock(self.conn, f"encombot:address:{key}")

        existing = find_booking(self.conn, BOOKINGS.c.call_id == inp.call_id)
        if existing is not None:
            raise DuplicateCall(existing)

        if check_address:
            other = self._pending_at_address(key, today)
            if other is not None:
                return BookResult(
                    status=BookingStatus.ALREADY_BOOKED,
                    reference=other.reference,
                    pickup_date=other.pickup_date.isoformat(),
                    sector=other.sector,
                    items=other.items,
                    reason="a pickup is already booked at this address",
                )

        total = sum(i.count for i in inp.items)
        if total <= rules.max_items:
            return self._book_first_free_day(key, candidates, _Fit(list(inp.items), []))
        over_limit = f"{total} items, at most {rules.max_items} per pickup in this sector"
        if rules.over_limit == OVER_LIMIT_ESCALATE:
            return BookResult(
                status=BookingStatus.TOO_MANY_ITEMS,
                sector=inp.sector,
                items=list(inp.items),
                reason=over_limit,
            )
        items, left_out = fit_items(list(inp.items), rules.max_items)
        fit = _Fit(items, left_out, f"{over_limit}: {total - rules.max_items} left out")
        return self._book_first_free_day(key, candidates, fit)

    def _pending_at_address(self, key: str, today: date) -> StoredBooking | None:
        return find_booking(
            self.conn,
            (BOOKINGS.c.address_key == key)
            & (BOOKINGS.c.status == "booked")
            & (BOOKINGS.c.pickup_date >= today),
        )

    def _book_first_free_day(self, key: str, candidates: list[date], fit: _Fit) -> BookResult:
        inp, rules = self.inp, self.rules
        full_days = 0
        for day in candidates:
            if take_place(self.conn, inp.sector, day, rules.capacity):
                if full_days:
                    self.conflicts.append("days_full")
                booking = self._insert_booking(key, day, fit.items)
                return BookResult(
                    status=BookingStatus.BOOKED,
                    reference=booking.reference,
                    pickup_date=day.isoformat(),
                    sector=inp.sector,
                    items=fit.items,
                    reason=fit.over_limit,
                    left_out=fit.left_out,
                )
            full_days += 1
        if full_days:
            self.conflicts.append("days_full")
        window = f"{candidates[0]}..{candidates[-1]}" if candidates else "no collection day"
        no_slot = f"no free place within {rules.horizon_days} days ({window})"
        return BookResult(
            status=BookingStatus.NO_SLOT,
            sector=inp.sector,
            items=fit.items,
            reason=f"{no_slot}; {fit.over_limit}" if fit.over_limit else no_slot,
            left_out=fit.left_out,
        )

    def _insert_booking(self, key: str, day: date, items: list[ItemCount]) -> StoredBooking:
        inp = self.inp
        values = self._booking_values(key, day, items)
        booking_id, reference = self._insert_with_new_reference(values)
        detail: dict[str, Any] = {
            "call_id": inp.call_id,
            "pickup_date": day.isoformat(),
            "sector": inp.sector,
        }
        if items != inp.items:
            # The agent reading the trail sees what was asked, not only what was booked.
            detail["requested"] = items_json(inp.items)
        record_event(
            self.conn,
            booking_id,
            self._clock(),
            check_actor(inp.actor or ACTOR_BOT),
            "booked",
            detail,
        )
        return StoredBooking(id=booking_id, reference=reference, **stored_fields(values))

    def _booking_values(self, key: str, day: date, items: list[ItemCount]) -> dict[str, Any]:
        stamp = self._clock()
        inp, address = self.inp, self.inp.address
        return {
            "call_id": inp.call_id,
            "sector": inp.sector,
            "pickup_date": day,
            "housenumber": address.housenumber,
            "street": address.street,
            "postcode": address.postcode,
            "citycode": address.citycode,
            "city": address.city,
            "lon": address.lon,
            "lat": address.lat,
            "address_key": key,
            "items": items_json(items),
            "caller_number": inp.caller_number,
            "status": "booked",
            "created_at": stamp,
            "updated_at": stamp,
        }

    def _insert_with_new_reference(self, values: dict[str, Any]) -> tuple[int, str]:
        """(id, reference) of the inserted booking row; a reference already taken is drawn
        again."""
        conn = self.conn
        for attempt in range(_REFERENCE_ATTEMPTS):
            reference = new_reference()
            try:
                # Savepoint: a failed INSERT must not lose the place taken just before.
                with conn.begin_nested():
                    result = conn.execute(insert(BOOKINGS).values(reference=reference, **values))
                    primary_key = result.inserted_primary_key
                    assert primary_key is not None
                    return int(primary_key[0]), reference
            except IntegrityError:
                existing = find_booking(conn, BOOKINGS.c.call_id == self.inp.call_id)
                if existing is not None:
                    # A concurrent attempt of the same call committed first.
                    raise DuplicateCall(existing) from None
                taken = find_booking(conn, BOOKINGS.c.reference == reference)
                if taken is None or attempt == _REFERENCE_ATTEMPTS - 1:
                    raise
                self.conflicts.append("reference_retry")
        raise AssertionError("unreachable")
