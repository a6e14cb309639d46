"""The SMS ledger: a record of every send, keyed by idempotency key, through which a message is
sent at most once whatever the retries (see `sender.py`). It lives in the service database
(the bookings database: PostgreSQL in production, table `sms_ledger` of
activities/bookings/schema.py), so every `worker` replica, on any host, sees the same sends.
It holds no personal data: no number, no text (only its SHA-256, to spot a key reused for
another message)."""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from activities.bookings.engine import make_engine, writer
from activities.bookings.schema import SMS_LEDGER, create_schema

log = logging.getLogger(__name__)

ClaimAction = Literal["send", "sent", "in_flight", "uncertain"]
T = SMS_LEDGER


@dataclass(frozen=True)
class Claim:
    action: ClaimAction
    message_id: str = ""
    backend: str = ""
    attempts: int = 0


class SmsLedger:
    """Every send, keyed by idempotency key (see `sender.py`), in the service database.

    Each operation is one short transaction: on PostgreSQL the row is locked (SELECT … FOR
    UPDATE; a new key's concurrent INSERTs meet the primary key), on SQLite the write lock is
    taken up front (BEGIN IMMEDIATE): safe across threads, processes and hosts.

    `inflight_lease_s`: a "sending" row younger than this may still be in progress on another
    worker (the new attempt backs off); older, the attempt is taken as lost, outcome unknown.
    `settle_s`: how long after an ambiguous failure (5xx, timeout, cut connection) the
    provider is given to record the job before a lookup that finds nothing may send again."""

    def __init__(
        self, engine: Engine, inflight_lease_s: float = 90.0, settle_s: float = 5.0
    ) -> None:
        self.engine = engine
        self.inflight_lease_s = inflight_lease_s
        self.settle_s = settle_s
        create_schema(engine)

    @classmethod
    def at(cls, target: SmsLedger | Engine | Path, **kwargs: Any) -> SmsLedger:
        """A ledger on `target`: a ledger as is, the service database's engine, or a SQLite
        file of its own (tests, tools)."""
        if isinstance(target, SmsLedger):
            return target
        if isinstance(target, Engine):
            return cls(target, **kwargs)
        return cls(make_engine(f"sqlite:///{Path(target)}"), **kwargs)

    def _row(self, conn: Connection, key: str) -> Any:
        query = select(T).where(T.c.key == key).with_for_update()
        return conn.execute(query).mappings().first()

    def claim(self, key: str, backend: str, text_sha256: str) -> Claim:
        now = time.time()
        with writer(self.engine).begin() as conn:
            row = self._row(conn, key)
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(T).values(
                                key=key,
                                state="sending",
                                backend=backend,
                                text_sha256=text_sha256,
                                attempts=1,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                    return Claim("send", backend=backend, attempts=1)
                except IntegrityError:
                    row = self._row(conn, key)  # another worker claimed it first
            if row["text_sha256"] != text_sha256:
                log.warning("SMS key %s reused for a different text", key)
            if row["state"] == "sent":
                return Claim("sent", row["message_id"] or "", row["backend"], row["attempts"])
            if row["state"] == "failed":
                conn.execute(
                    update(T)
                    .where(T.c.key == key)
                    .values(
                        state="sending",
                        backend=backend,
                        text_sha256=text_sha256,
                        attempts=T.c.attempts + 1,
                        updated_at=now,
                    )
                )
                return Claim("send", backend=backend, attempts=row["attempts"] + 1)
            age = now - row["updated_at"]
            if row["state"] == "sending" and age < self.inflight_lease_s:
                return Claim("in_flight", backend=row["backend"], attempts=row["attempts"])
            if row["state"] == "unknown" and age < self.settle_s:
                # The provider may record the job a moment after its gateway gave up on it.
                return Claim("in_flight", backend=row["backend"], attempts=row["attempts"])
            return Claim("uncertain", backend=row["backend"], attempts=row["attempts"])

    def take_over(self, key: str, attempts: int, backend: str) -> bool:
        """After an uncertain outcome proved to be "not sent": claim the key again unless
        another attempt did so first (compare-and-set on the attempt count)."""
        with writer(self.engine).begin() as conn:
            result = conn.execute(
                update(T)
                .where(
                    T.c.key == key,
                    T.c.attempts == attempts,
                    T.c.state.in_(("sending", "unknown")),
                )
                .values(
                    state="sending",
                    backend=backend,
                    attempts=T.c.attempts + 1,
                    updated_at=time.time(),
                )
            )
            return result.rowcount == 1

    def _set(self, key: str, state: str, message_id: str | None, error: str | None) -> None:
        values: dict[str, Any] = {"state": state, "last_error": error, "updated_at": time.time()}
        if message_id is not None:
            values["message_id"] = message_id
        with writer(self.engine).begin() as conn:
            conn.execute(update(T).where(T.c.key == key).values(**values))

    def mark_sent(self, key: str, message_id: str) -> None:
        self._set(key, "sent", message_id, None)

    def mark_failed(self, key: str, error: str) -> None:
        self._set(key, "failed", None, error[:500])

    def mark_unknown(self, key: str, error: str) -> None:
        self._set(key, "unknown", None, error[:500])

    def get(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(T).where(T.c.key == key)).mappings().first()
        return dict(row) if row is not None else None

    def import_file(self, path: Path) -> int:
        """Rows of the SQLite ledger file of an earlier version (one file per host), added
        where the database has no row for the key; the file is then renamed `*.imported`, so
        it is read once. Returns how many rows were added."""
        path = Path(path)
        if not path.is_file():
            return 0
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        source.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in source.execute("SELECT * FROM sms_ledger")]
        except sqlite3.DatabaseError:
            rows = []  # not a ledger (or an empty file): nothing to carry over
        finally:
            source.close()
        added = 0
        columns = set(T.c.keys())
        for row in rows:
            values = {k: v for k, v in row.items() if k in columns}
            try:
                with writer(self.engine).begin() as conn:
                    conn.execute(insert(T).values(**values))
                added += 1
            except IntegrityError:
                pass  # the database already knows this key (another host imported it)
        path.rename(path.with_name(path.name + ".imported"))
        log.info("SMS ledger file imported into the database: %d of %d rows", added, len(rows))
        return added
