"""Retention of the SMS records (issue 17, point 9): the send ledger's rows (keyed hashes of
the recipient and text: guessable from the templates and the address list), the reply routes
(keyed hash of a number and the case it replies to: activities/messaging/routes.py) and the
`outbox` backend's files (numbers and texts in clear) past the SMS retention. A route goes
once its case has closed, whatever its age, when the purge has a Temporal client to ask (one
describe per case, by id: no visibility query); a running case keeps its route however old,
since its caller may still reply (a booking's follow-up runs until the pickup, up to 45 days
later, beyond the 30-day SMS retention).

A file is rewritten in place under the same exclusive `flock` the backend appends under, so a
line written during the purge is never lost. A line whose date cannot be read is kept and
counted: the purge never guesses."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import json
import logging
import os
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.bookings.engine import writer
from activities.bookings.schema import SMS_LEDGER
from activities.messaging.routes import SmsRoutes
from domain.retention import PURGE_SMS_RECORDS, PurgeSmsInput, PurgeSmsResult

log = logging.getLogger(__name__)

# Cases whose route the purge checks in one run, in pages by workflow id: every case with a
# route, in practice (a métropole's running follow-ups are ~10,000; a describe costs a few ms).
# Beyond, the rest at the next run, or when the router meets them.
MAX_ROUTE_CHECKS = 100_000
ROUTE_CHECK_PAGE = 1000
# Describes in flight at once: the frontend's rate limit is shared with the workers.
ROUTE_CHECK_CONCURRENCY = 8

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


async def closed_cases(client: Client, workflow_ids: list[str]) -> list[str]:
    """Those of `workflow_ids` whose current run is over (or that the namespace no longer
    knows). A case that could not be asked (another error) is kept: the purge never guesses."""
    gate = asyncio.Semaphore(ROUTE_CHECK_CONCURRENCY)

    async def closed(workflow_id: str) -> bool:
        async with gate:
            try:
                described = await client.get_workflow_handle(workflow_id).describe()
            except RPCError as err:
                return err.status == RPCStatusCode.NOT_FOUND
        return described.status not in (None, WorkflowExecutionStatus.RUNNING)

    verdicts = await asyncio.gather(*(closed(w) for w in workflow_ids))
    return [w for w, gone in zip(workflow_ids, verdicts, strict=True) if gone]


class PurgeSmsActivities:
    def __init__(self, engine: Engine, files: list[Path], client: Client | None = None) -> None:
        self.engine = engine
        self.files = [Path(f) for f in files]
        self.routes = SmsRoutes(engine)
        # None (a tool without Temporal): no route goes, since a running case's must stay (the
        # router drops a closed case's route when it meets it).
        self.client = client

    @activity.defn(name=PURGE_SMS_RECORDS)
    async def purge_sms_records(self, inp: PurgeSmsInput) -> PurgeSmsResult:
        cutoff = datetime.fromisoformat(inp.older_than)
        result = await asyncio.to_thread(self._purge, cutoff)
        if self.client is not None:
            result.routes_deleted = await self._purge_routes(self.client)
        log.info(
            "retention: %d SMS ledger row(s), %d SMS route(s), %d SMS file line(s) deleted, "
            "%d undated kept",
            result.ledger_deleted,
            result.routes_deleted,
            result.lines_deleted,
            result.undated_kept,
        )
        return result

    async def _purge_routes(self, client: Client) -> int:
        """The routes of the cases that have closed; how many went."""
        deleted, checked, after = 0, 0, ""
        while checked < MAX_ROUTE_CHECKS:
            limit = min(ROUTE_CHECK_PAGE, MAX_ROUTE_CHECKS - checked)
            ids = await asyncio.to_thread(self.routes.workflow_ids, after, limit)
            if not ids:
                break
            asked_at = time.time()
            closed = await closed_cases(client, ids)
            # A new run under a closed case's id (a missed call's is the number's) may have
            # texted since the check: its row stays.
            deleted += await asyncio.to_thread(
                functools.partial(self.routes.forget_workflows, closed, seen_before=asked_at)
            )
            checked, after = checked + len(ids), ids[-1]
            activity.heartbeat(checked)
        return deleted

    def _purge(self, cutoff: datetime) -> PurgeSmsResult:
        result = PurgeSmsResult(ledger_deleted=purge_ledger(self.engine, cutoff))
        for path in self.files:
            try:
                dropped, undated = purge_jsonl(path, cutoff)
            except OSError as err:
                result.errors.append(f"{path.name}: {type(err).__name__}")
                continue
            result.lines_deleted += dropped
            result.undated_kept += undated
        return result
