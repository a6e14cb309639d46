"""The per-day places of each sector (table slot_usage): taken, freed, overridden.

A day's row is created on first use with the sector's capacity from the calendar; an agent may
override it (`set_capacity`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from activities.bookings.schema import SLOTS


def _insert(dialect: str) -> Any:
    # Dialect insert: the generic one has no ON CONFLICT.
    return pg_insert(SLOTS) if dialect == "postgresql" else sqlite_insert(SLOTS)


def set_capacity(conn: Connection, sector: str, day: date, capacity: int) -> None:
    stmt = _insert(conn.dialect.name).values(
        sector=sector, pickup_date=day, capacity=capacity, used=0
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[SLOTS.c.sector, SLOTS.c.pickup_date],
            set_={"capacity": capacity},
        )
    )


def ensure_row(conn: Connection, sector: str, day: date, capacity: int) -> None:
    """The day's row, created with `capacity` and no place taken if it does not exist yet."""
    conn.execute(
        _insert(conn.dialect.name)
        .values(sector=sector, pickup_date=day, capacity=capacity, used=0)
        .on_conflict_do_nothing(index_elements=[SLOTS.c.sector, SLOTS.c.pickup_date])
    )


def take_place(conn: Connection, sector: str, day: date, capacity: int) -> bool:
    """Take one place of `sector` on `day` (its row created with `capacity` if new); False
    when the day is full."""
    ensure_row(conn, sector, day, capacity)
    # The WHERE is re-checked on the latest row version after a concurrent writer
    # commits (PostgreSQL) or runs under the database write lock (SQLite): the last place
    # goes to exactly one transaction.
    result = conn.execute(
        update(SLOTS)
        .where(
            SLOTS.c.sector == sector,
            SLOTS.c.pickup_date == day,
            SLOTS.c.used < SLOTS.c.capacity,
        )
        .values(used=SLOTS.c.used + 1)
    )
    return result.rowcount == 1


def free_place(conn: Connection, sector: str, day: date) -> None:
    conn.execute(
        update(SLOTS)
        .where(SLOTS.c.sector == sector, SLOTS.c.pickup_date == day, SLOTS.c.used > 0)
        .values(used=SLOTS.c.used - 1)
    )
