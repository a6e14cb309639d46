"""The audit trail of the bookings (table booking_events): every change names its actor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from activities.bookings.records import as_utc
from activities.bookings.schema import EVENTS


def record_event(
    conn: Connection,
    booking_id: int,
    at: datetime,
    actor: str,
    action: str,
    detail: dict[str, Any],
) -> None:
    conn.execute(
        insert(EVENTS).values(
            booking_id=booking_id, at=at, actor=actor, action=action, detail=detail
        )
    )


def has_event(conn: Connection, booking_id: int, action: str, request_id: str) -> bool:
    """Whether `action` was recorded for this booking by the request `request_id`."""
    rows = conn.execute(
        select(EVENTS.c.detail).where(EVENTS.c.booking_id == booking_id, EVENTS.c.action == action)
    ).scalars()
    return any((detail or {}).get("request_id") == request_id for detail in rows)


def booking_events(conn: Connection, booking_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(EVENTS).where(EVENTS.c.booking_id == booking_id).order_by(EVENTS.c.id)
    ).mappings()
    return [dict(r) | {"at": as_utc(r["at"])} for r in rows]
