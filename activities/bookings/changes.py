"""An agent's changes to a booking, each in one write transaction: move it to another day,
change its items.

Guarantees (as `book` gives them, store.py):
- a move never overbooks the new day: the place is taken by the conditional `UPDATE ... used =
  used + 1 WHERE used < capacity` and the old day's place freed in the same transaction, the
  booking row locked first; two moves into the last place: exactly one wins, the other gets
  `full` and the booking keeps its day;
- on PostgreSQL the two days' slot rows are locked in date order before either is written,
  so two moves crossing each other (D1 → D2 and D2 → D1) queue up instead of deadlocking;
- a retried activity whose first attempt committed answers `done` again (its `request_id`
  is in the audit trail) and changes nothing twice;
- the new day must be one the bot itself could book now (a collection day of the sector,
  after the lead time, within the horizon) and its round not yet planned;
- every change leaves an audit event naming the agent ("agent:<id>")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from activities.bookings import places
from activities.bookings.audit import has_event, record_event
from activities.bookings.records import StoredBooking, items_json, lock_booking
from activities.bookings.references import check_actor, normalise_reference
from activities.bookings.schema import BOOKINGS, SLOTS
from domain.booking_changes import BookingChangeOutcome, ChangeStatus
from domain.calendar import ServiceCalendar, UnknownSectorError
from domain.labels import date_label
from domain.models import ItemCount


class BookingChanges:
    """Moves and item changes on the store's database (`writer`: the store's write engine)."""

    def __init__(
        self,
        writer: Engine,
        calendar: ServiceCalendar,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self.calendar = calendar
        self._clock = clock

    def move(
        self,
        reference: str,
        day: date,
        actor: str,
        now: datetime,
        *,
        reason: str = "",
        request_id: str = "",
    ) -> BookingChangeOutcome:
        """Move the booking `reference` to `day`, as of `now` (aware, calendar zone)."""
        check_actor(actor)
        where = BOOKINGS.c.reference == normalise_reference(reference)
        with self._writer.begin() as conn:
            booking = lock_booking(conn, where)
            if booking is None:
                return BookingChangeOutcome(ChangeStatus.NOT_FOUND, "Réservation introuvable.")
            done = _outcome(booking, ChangeStatus.DONE)
            if request_id and has_event(conn, booking.id, "moved", request_id):
                return done
            if booking.status != "booked":
                return _outcome(booking, ChangeStatus.NOT_BOOKED, "Réservation plus en cours.")
            if day == booking.pickup_date:
                return _outcome(
                    booking, ChangeStatus.UNCHANGED, "La réservation est déjà ce jour-là."
                )
            problem = self._day_problem(booking.sector, day, now)
            if problem is not None:
                return _outcome(booking, *problem)
            capacity = self.calendar.rules(booking.sector).capacity
            _lock_days(conn, booking.sector, sorted({booking.pickup_date, day}), capacity)
            if not places.take_place(conn, booking.sector, day, capacity):
                return _outcome(
                    booking, ChangeStatus.FULL, f"Le {date_label(day.isoformat())} est complet."
                )
            places.free_place(conn, booking.sector, booking.pickup_date)
            conn.execute(
                update(BOOKINGS)
                .where(BOOKINGS.c.id == booking.id)
                .values(pickup_date=day, updated_at=self._clock())
            )
            detail = {"from": booking.pickup_date.isoformat(), "to": day.isoformat()}
            self._audit(conn, booking, actor, "moved", detail, reason, request_id)
            done.previous_date = booking.pickup_date.isoformat()
            done.pickup_date = day.isoformat()
            return done

    def change_items(
        self,
        reference: str,
        items: list[ItemCount],
        actor: str,
        *,
        reason: str = "",
        request_id: str = "",
    ) -> BookingChangeOutcome:
        """Replace the items of the booking `reference` (names already canonical)."""
        check_actor(actor)
        where = BOOKINGS.c.reference == normalise_reference(reference)
        with self._writer.begin() as conn:
            booking = lock_booking(conn, where)
            if booking is None:
                return BookingChangeOutcome(ChangeStatus.NOT_FOUND, "Réservation introuvable.")
            if request_id and has_event(conn, booking.id, "items_changed", request_id):
                return _outcome(booking, ChangeStatus.DONE)
            if booking.status != "booked":
                return _outcome(booking, ChangeStatus.NOT_BOOKED, "Réservation plus en cours.")
            total = sum(i.count for i in items)
            limit = self._max_items(booking.sector)
            if limit and total > limit:
                return _outcome(
                    booking,
                    ChangeStatus.TOO_MANY_ITEMS,
                    f"{total} objets : {limit} au plus par passage dans ce secteur.",
                )
            if items == booking.items:
                return _outcome(booking, ChangeStatus.UNCHANGED, "Les objets sont déjà ceux-là.")
            conn.execute(
                update(BOOKINGS)
                .where(BOOKINGS.c.id == booking.id)
                .values(items=items_json(items), updated_at=self._clock())
            )
            detail = {"from": items_json(booking.items), "to": items_json(items)}
            self._audit(conn, booking, actor, "items_changed", detail, reason, request_id)
            done = _outcome(booking, ChangeStatus.DONE)
            done.items = list(items)
            return done

    def _day_problem(
        self, sector: str, day: date, now: datetime
    ) -> tuple[ChangeStatus, str] | None:
        label = date_label(day.isoformat())
        try:
            rules = self.calendar.rules(sector)
        except UnknownSectorError:
            return (
                ChangeStatus.OUT_OF_WINDOW,
                "Secteur absent du calendrier : déplacement impossible.",
            )
        if not rules.is_collection_day(day):
            weekdays = ", ".join(rules.weekday_names())
            return (
                ChangeStatus.NOT_A_COLLECTION_DAY,
                f"Pas de collecte le {label} dans ce secteur (jours : {weekdays}).",
            )
        candidates = list(self.calendar.candidate_dates(sector, now))
        if day not in candidates or now >= self.calendar.cancel_deadline(sector, day):
            window = (
                f"du {date_label(candidates[0].isoformat())} au "
                f"{date_label(candidates[-1].isoformat())}"
                if candidates
                else "aucun jour ouvert"
            )
            return ChangeStatus.OUT_OF_WINDOW, f"Le {label} n'est pas réservable ({window})."
        return None

    def _max_items(self, sector: str) -> int:
        try:
            return self.calendar.rules(sector).max_items
        except UnknownSectorError:
            return 0

    def _audit(
        self,
        conn: Connection,
        booking: StoredBooking,
        actor: str,
        action: str,
        detail: dict[str, Any],
        reason: str,
        request_id: str,
    ) -> None:
        extra = {"reason": reason, "request_id": request_id}
        detail |= {k: v for k, v in extra.items() if v}
        record_event(conn, booking.id, self._clock(), actor, action, detail)


def _outcome(
    booking: StoredBooking, status: ChangeStatus, message: str = ""
) -> BookingChangeOutcome:
    return BookingChangeOutcome(
        status=status.value,
        message=message,
        reference=booking.reference,
        pickup_date=booking.pickup_date.isoformat(),
        items=list(booking.items),
    )


def _lock_days(conn: Connection, sector: str, days: list[date], capacity: int) -> None:
    """Create the days' slot rows if missing and, on PostgreSQL, lock them in date order."""
    for day in days:
        places.ensure_row(conn, sector, day, capacity)
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(SLOTS.c.pickup_date)
            .where(SLOTS.c.sector == sector, SLOTS.c.pickup_date.in_(days))
            .order_by(SLOTS.c.pickup_date)
            .with_for_update()
        ).all()
