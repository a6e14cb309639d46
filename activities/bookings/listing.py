"""Read-only views of the booking store for the crews and the agents: the pickups of a day (per
sector), the places taken, the sectors with pickups in a date range, the audit trail as text."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select

from activities.bookings.audit import booking_events
from activities.bookings.records import SlotState, StoredBooking, to_booking
from activities.bookings.schema import BOOKINGS, SLOTS


def bookings_on(engine: Engine, day: date, sector: str = "") -> list[StoredBooking]:
    """The pickups still on for `day` (status booked), in one sector or all, by sector then
    reference."""
    query = select(BOOKINGS).where(BOOKINGS.c.pickup_date == day, BOOKINGS.c.status == "booked")
    if sector:
        query = query.where(BOOKINGS.c.sector == sector)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(BOOKINGS.c.sector, BOOKINGS.c.reference)).mappings()
        return [to_booking(r) for r in rows]


def slots_on(engine: Engine, day: date) -> dict[str, SlotState]:
    """The places row of each sector that has one for `day` (capacity as overridden)."""
    with engine.connect() as conn:
        rows = conn.execute(select(SLOTS).where(SLOTS.c.pickup_date == day)).mappings()
        return {
            r["sector"]: SlotState(r["sector"], r["pickup_date"], r["capacity"], r["used"])
            for r in rows
        }


def sectors_booked(engine: Engine, first: date, last: date) -> set[str]:
    """Sectors with at least one pickup on between `first` and `last` (inclusive)."""
    query = (
        select(BOOKINGS.c.sector)
        .where(
            BOOKINGS.c.pickup_date >= first,
            BOOKINGS.c.pickup_date <= last,
            BOOKINGS.c.status == "booked",
        )
        .distinct()
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def audit_lines(engine: Engine, booking_id: int) -> list[str]:
    """The audit trail, oldest first: "2026-03-02 09:00 UTC agent:a7 moved 2026-03-05 →
    2026-03-10". Dates and actors only: items and reasons stay in the database."""
    with engine.connect() as conn:
        events = booking_events(conn, booking_id)
    lines = []
    for event in events:
        at = event["at"]
        stamp = at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "?"
        detail = event["detail"] or {}
        move = f" {detail['from']} → {detail['to']}" if event["action"] == "moved" else ""
        lines.append(f"{stamp} {event['actor']} {event['action']}{move}")
    return lines
