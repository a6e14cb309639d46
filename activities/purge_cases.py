"""Retention of open cases (issue 17, point 9): a case that waits for an agent forever (an
unmatched SMS nobody closed) keeps its history, and the caller's words, out of the namespace
retention's reach, which starts only when a workflow closes. The purge closes those waiting
since before the retention, through the same `resolve` Update an agent sends (`close`, agent
`retention`), so each workflow ends its own way and its history says why."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain import names
from domain.models import ResolveInput, ResolveResult
from domain.retention import (
    CLOSE_STALE_CASES,
    RETENTION_AGENT,
    RETENTION_COMMENT,
    CloseStaleInput,
    CloseStaleResult,
)

log = logging.getLogger(__name__)


def stale_query(older_than: datetime, task_queue: str = "") -> str:
    stamp = older_than.isoformat().replace("+00:00", "Z")
    query = (
        f'{names.SA_NEEDS_AGENT} = true AND {names.SA_WAITING_SINCE} < "{stamp}" '
        'AND ExecutionStatus = "Running"'
    )
    if task_queue:
        query += f' AND TaskQueue = "{task_queue}"'
    return query


# How long one case's `resolve close` may wait for its worker.
UPDATE_TIMEOUT_S = 20.0


class StaleCaseActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name=CLOSE_STALE_CASES)
    async def close_stale_cases(self, inp: CloseStaleInput) -> CloseStaleResult:
        result = CloseStaleResult()
        close = ResolveInput(RETENTION_AGENT, action="close", comment=RETENTION_COMMENT)
        query = stale_query(datetime.fromisoformat(inp.older_than), inp.task_queue)
        async for execution in self.client.list_workflows(query):
            handle = self.client.get_workflow_handle(execution.id)
            try:
                # Bounded: a case whose workers are gone would hold the Update (and this whole
                # purge) forever; it is counted and tried again at the next daily run.
                await asyncio.wait_for(
                    handle.execute_update(names.RESOLVE_UPDATE, close, result_type=ResolveResult),
                    UPDATE_TIMEOUT_S,
                )
                result.closed += 1
            except (WorkflowUpdateFailedError, RPCError, TimeoutError) as err:
                result.refused += 1
                log.warning("retention: case %s not closed: %s", execution.id, type(err).__name__)
            activity.heartbeat(result.closed + result.refused)
        log.info("retention: %d open case(s) closed, %d refused", result.closed, result.refused)
        return result
