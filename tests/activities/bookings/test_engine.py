from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

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


def _open_together(paths: list[str], start_at: float, step_s: float, out: Any) -> None:
    """One host: opens each new database file at its appointed time, as the others do."""
    modes = []
    for i, path in enumerate(paths):
        engine = make_engine(f"sqlite:///{path}")
        time.sleep(max(0.0, start_at + i * step_s - time.time()))
        try:
            with engine.connect() as conn:
                modes.append(conn.exec_driver_sql("PRAGMA journal_mode").scalar())
        except Exception as exc:  # reported to the parent, which asserts on it
            modes.append(repr(exc))
        engine.dispose()
    out.put(modes)


def test_hosts_opening_a_new_file_together_all_get_wal(tmp_path: Path) -> None:
    """Three processes that open a new file at the same instant each switch it to WAL: SQLite
    answers one of two concurrent switches "database is locked" without waiting (CI saw two
    worker hosts fail so), and the engine retries it."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    paths = [str(tmp_path / f"round{i}" / "service.sqlite") for i in range(25)]
    start_at, step_s = time.time() + 4.0, 0.15  # after the interpreters have imported
    hosts = [ctx.Process(target=_open_together, args=(paths, start_at, step_s, out)) for _ in "abc"]
    for host in hosts:
        host.start()
    results = [out.get(timeout=60) for _ in hosts]
    for host in hosts:
        host.join(timeout=10)
    assert results == [["wal"] * len(paths)] * len(hosts)
