"""The SMS ledger: a SQLite record of every send, keyed by idempotency key, through which a
message is sent at most once whatever the retries (see `sender.py`). It holds no personal
data: no number, no text (only its SHA-256, to spot a key reused for another message)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

ClaimAction = Literal["send", "sent", "in_flight", "uncertain"]


@dataclass(frozen=True)
class Claim:
    action: ClaimAction
    message_id: str = ""
    backend: str = ""
    attempts: int = 0


class SmsLedger:
    """SQLite record of every send, keyed by idempotency key (see `sender.py`).
    One connection per operation and BEGIN IMMEDIATE: safe across threads and processes."""

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS sms_ledger (
            key TEXT PRIMARY KEY,
            state TEXT NOT NULL,            -- sending | sent | failed | unknown
            backend TEXT NOT NULL,
            message_id TEXT,
            text_sha256 TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            last_error TEXT
        )
    """

    def __init__(self, path: Path, inflight_lease_s: float = 90.0) -> None:
        self.path = Path(path)
        self.inflight_lease_s = inflight_lease_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(self._SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def claim(self, key: str, backend: str, text_sha256: str) -> Claim:
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM sms_ledger WHERE key = ?", (key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO sms_ledger (key, state, backend, text_sha256, attempts,"
                    " created_at, updated_at) VALUES (?, 'sending', ?, ?, 1, ?, ?)",
                    (key, backend, text_sha256, now, now),
                )
                return Claim("send", backend=backend, attempts=1)
            if row["text_sha256"] != text_sha256:
                log.warning("SMS key %s reused for a different text", key)
            if row["state"] == "sent":
                return Claim("sent", row["message_id"], row["backend"], row["attempts"])
            if row["state"] == "failed":
                conn.execute(
                    "UPDATE sms_ledger SET state = 'sending', backend = ?, text_sha256 = ?,"
                    " attempts = attempts + 1, updated_at = ? WHERE key = ?",
                    (backend, text_sha256, now, key),
                )
                return Claim("send", backend=backend, attempts=row["attempts"] + 1)
            if row["state"] == "sending" and now - row["updated_at"] < self.inflight_lease_s:
                return Claim("in_flight", backend=row["backend"], attempts=row["attempts"])
            return Claim("uncertain", backend=row["backend"], attempts=row["attempts"])

    def take_over(self, key: str, attempts: int, backend: str) -> bool:
        """After an uncertain outcome proved to be "not sent": claim the key again unless
        another attempt did so first (compare-and-set on the attempt count)."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE sms_ledger SET state = 'sending', backend = ?, attempts = attempts + 1,"
                " updated_at = ? WHERE key = ? AND attempts = ?"
                " AND state IN ('sending', 'unknown')",
                (backend, time.time(), key, attempts),
            )
            return cur.rowcount == 1

    def _set(self, key: str, state: str, message_id: str | None, error: str | None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE sms_ledger SET state = ?, message_id = COALESCE(?, message_id),"
                " last_error = ?, updated_at = ? WHERE key = ?",
                (state, message_id, error, time.time(), key),
            )

    def mark_sent(self, key: str, message_id: str) -> None:
        self._set(key, "sent", message_id, None)

    def mark_failed(self, key: str, error: str) -> None:
        self._set(key, "failed", None, error[:500])

    def mark_unknown(self, key: str, error: str) -> None:
        self._set(key, "unknown", None, error[:500])

    def get(self, key: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM sms_ledger WHERE key = ?", (key,)).fetchone()
        return dict(row) if row is not None else None
