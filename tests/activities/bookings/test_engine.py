from __future__ import annotations

from pathlib import Path

from activities.bookings.engine import make_engine
from activities.bookings.schema import create_schema
from activities.bookings.store import BookingStore
from tests.activities.bookings.common import calendar


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
