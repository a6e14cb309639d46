"""Retention of open cases (issue 17, point 9): a case that waits for an agent forever (an
unmatched SMS nobody closed) keeps its history, and the caller's words, out of the namespace
retention's reach, which starts only when a workflow closes. The purge closes those waiting
since before the retention, through the same `resolve` Update an agent sends (`close`, agent
`retention`), so each workflow ends its own way and its history says why."""

from __future__ import annotations

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


def stale_query(older_than: datetime) -> str:
    stamp = older_than.isoformat().replace("+00:00", "Z")
    return (
        f'{names.SA_NEEDS_AGENT} = true AND {names.SA_WAITING_SINCE} < "{stamp}" '
        'AND ExecutionStatus = "Running"'
    )


class StaleCaseActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name=CLOSE_STALE_CASES)
    async def close_stale_cases(self, inp: CloseStaleInput) -> CloseStaleResult:
        result = CloseStaleResult()
        close = ResolveInput(RETENTION_AGENT, action="close", comment=RETENTION_COMMENT)
        query = stale_query(datetime.fromisoformat(inp.older_than))
        async for execution in self.client.list_workflows(query):
            handle = self.client.get_workflow_handle(execution.id)
            try:
                await handle.execute_update(names.RESOLVE_UPDATE, close, result_type=ResolveResult)
                result.closed += 1
            except (WorkflowUpdateFailedError, RPCError) as err:
                result.refused += 1
                log.warning("retention: case %s not closed: %s", execution.id, type(err).__name__)
            activity.heartbeat(result.closed + result.refused)
        log.info("retention: %d open case(s) closed, %d refused", result.closed, result.refused)
        return result
