"""Retention of the SMS records (issue 17, point 9): the send ledger's rows (keyed hashes of
the recipient and text: guessable from the templates and the address list) and the `outbox`
backend's files (numbers and texts in clear) past the SMS retention.

A file is rewritten in place under the same exclusive `flock` the backend appends under, so a
line written during the purge is never lost. A line whose date cannot be read is kept and
counted: the purge never guesses."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.bookings.engine import writer
from activities.bookings.schema import SMS_LEDGER
from domain.retention import PURGE_SMS_RECORDS, PurgeSmsInput, PurgeSmsResult

log = logging.getLogger(__name__)

# The date field of each file's lines: the outbox's send time, the inbox's receipt time.
DATE_FIELDS = ("at", "creationDatetime")


def _line_time(line: str) -> datetime | None:
    try:
        record = json.loads(line)
        stamp = next(str(record[f]) for f in DATE_FIELDS if record.get(f))
        when = datetime.fromisoformat(stamp)
    except (ValueError, TypeError, StopIteration, AttributeError):
        return None
    return when if when.tzinfo is not None else None


def purge_jsonl(path: Path, older_than: datetime) -> tuple[int, int]:
    """Drop the lines of `path` dated before `older_than`; (dropped, undated kept)."""
    if not path.exists():
        return 0, 0
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        lines = handle.read().splitlines(keepends=True)
        kept: list[str] = []
        undated = 0
        for line in lines:
            when = _line_time(line)
            if when is None:
                undated += bool(line.strip())
                kept.append(line)
            elif when >= older_than:
                kept.append(line)
        if len(kept) != len(lines):
            handle.seek(0)
            handle.write("".join(kept))
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())
    return len(lines) - len(kept), undated


def purge_ledger(engine: Engine, older_than: datetime) -> int:
    with writer(engine).begin() as conn:
        gone = conn.execute(
            delete(SMS_LEDGER).where(SMS_LEDGER.c.created_at < older_than.timestamp())
        )
    return int(gone.rowcount or 0)


class PurgeSmsActivities:
    def __init__(self, engine: Engine, files: list[Path]) -> None:
        self.engine = engine
        self.files = [Path(f) for f in files]

    @activity.defn(name=PURGE_SMS_RECORDS)
    def purge_sms_records(self, inp: PurgeSmsInput) -> PurgeSmsResult:
        cutoff = datetime.fromisoformat(inp.older_than)
        result = PurgeSmsResult(ledger_deleted=purge_ledger(self.engine, cutoff))
        for path in self.files:
            try:
                dropped, undated = purge_jsonl(path, cutoff)
            except OSError as err:
                result.errors.append(f"{path.name}: {type(err).__name__}")
                continue
            result.lines_deleted += dropped
            result.undated_kept += undated
        log.info(
            "retention: %d SMS ledger row(s), %d SMS file line(s) deleted, %d undated kept",
            result.ledger_deleted,
            result.lines_deleted,
            result.undated_kept,
        )
        return result
