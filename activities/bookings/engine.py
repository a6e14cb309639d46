"""The database engine of the booking store: SQLite (embedded: WAL, busy timeout, write
transactions that take the write lock up front) or PostgreSQL (psycopg 3, pre-ping), and the
advisory locks that serialise checks on PostgreSQL."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes the SQLite `begin` hook take the write lock up front.
WRITE_OPTION = "encombot_write"
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling issues a deferred BEGIN lazily; turn it off so the
    # `begin` hook below decides how a transaction starts.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """WAL: readers never block the writer and the writer never blocks readers.

    Two processes opening a new database file at once both ask for the switch; each holds a
    shared lock and wants the exclusive one, and SQLite answers one of them "database is
    locked" at once, without its busy handler (deadlock avoidance): CI saw it with two worker
    hosts starting together (23 of 60 rounds of three processes fail without this loop). The
    mode is kept in the file, so the first switch that lands serves everyone; retry until it
    has, within the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            # Answers the mode now in force: "wal", or "memory" for an in-memory database.
            cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            # Primary code: SQLITE_BUSY_RECOVERY and its kin are busy too.
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in _BUSY or time.monotonic() > deadline:
                raise
            # Jitter, so two hosts that collided do not collide again in step.
            time.sleep(random.uniform(0.005, 0.05))


def _sqlite_on_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock at once, waiting up to busy_timeout: concurrent
    # writers queue up. A deferred BEGIN would upgrade its lock at the first write and fail
    # with SQLITE_BUSY instead of waiting when another writer got there first.
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def configure_sqlite(engine: Engine) -> None:
    """Add the SQLite connection hooks to `engine` (once; they reach connections opened
    afterwards)."""
    if not event.contains(engine, "connect", _sqlite_on_connect):
        event.listen(engine, "connect", _sqlite_on_connect)
    if not event.contains(engine, "begin", _sqlite_on_begin):
        event.listen(engine, "begin", _sqlite_on_begin)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the booking store. SQLite: parent directory created, WAL, busy timeout,
    write transactions with BEGIN IMMEDIATE. PostgreSQL (psycopg 3): pre-ping, so a restarted
    server costs one retried activity rather than a broken pool. `kwargs` go to
    `create_engine` (pool_size...)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or "mode=memory" in database
        if in_memory:
            # One shared connection, or every connection would see its own empty database.
            # Single-threaded use only (tests); files are the supported set-up.
            kwargs.setdefault("poolclass", StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        else:
            Path(database.removeprefix("file:").split("?")[0]).parent.mkdir(
                parents=True, exist_ok=True
            )
            kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_engine(url, **kwargs)
        configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def writer(engine: Engine) -> Engine:
    """`engine` for write transactions: on SQLite they begin with the write lock taken."""
    return engine.execution_options(**{WRITE_OPTION: True})


def advisory_lock(conn: Connection, key: str) -> None:
    """PostgreSQL lock on `key` for the rest of the transaction."""
    # Transaction-scoped: released at commit or rollback, never leaked by a crash.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
