from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from activities.bookings import engine as engine_module
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
    paths = [str(tmp_path / f"round{i}" / "service.sqlite") for i in range(60)]
    start_at, step_s = time.time() + 4.0, 0.1  # after the interpreters have imported
    hosts = [
        ctx.Process(target=_open_together, args=(paths, start_at, step_s, out), daemon=True)
        for _ in "abc"
    ]
    try:
        for host in hosts:
            host.start()
        results = [out.get(timeout=60) for _ in hosts]
    finally:
        for host in hosts:
            host.terminate()
            host.join(timeout=10)
    assert results == [["wal"] * len(paths)] * len(hosts)


class SwitchRefused:
    """A cursor whose journal-mode switch fails `times` times with `error` first."""

    def __init__(self, times: int, error: sqlite3.OperationalError) -> None:
        self.times, self.error, self.asked = times, error, 0

    def execute(self, sql: str) -> SwitchRefused:
        assert sql == "PRAGMA journal_mode=WAL"
        self.asked += 1
        if self.asked <= self.times:
            raise self.error
        return self

    def fetchone(self) -> tuple[str]:
        return ("wal",)


def _error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def test_a_refused_switch_is_retried_other_errors_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module.time, "sleep", lambda _s: None)
    locked = SwitchRefused(3, _error("database is locked", sqlite3.SQLITE_BUSY))
    engine_module._enable_wal(locked)
    assert locked.asked == 4
    recovering = SwitchRefused(1, _error("database is locked", 261))  # SQLITE_BUSY_RECOVERY
    engine_module._enable_wal(recovering)
    assert recovering.asked == 2
    broken = SwitchRefused(1, _error("disk I/O error", sqlite3.SQLITE_IOERR))
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        engine_module._enable_wal(broken)
    assert broken.asked == 1


def test_a_switch_refused_past_the_busy_timeout_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 10))  # 10 s per reading: past the 30 s timeout at once
    monkeypatch.setattr(engine_module.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(engine_module.time, "sleep", lambda _s: None)
    forever = SwitchRefused(1_000, _error("database is locked", sqlite3.SQLITE_BUSY))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        engine_module._enable_wal(forever)
    assert 1 < forever.asked < 10
