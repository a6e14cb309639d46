"""Where a call stands, read from Temporal: the voicemail workflow of its call id, else the
missed-call case that counted it, found through the call index (call_index.py) and described
by its id: no visibility query, so an unknown id costs one describe and one indexed row read.
The public answer holds no personal data; `authed` (a signed request) adds the outcome."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from domain import names
from domain.missed_call_models import MISSED_CALL_WORKFLOW, SA_CALL_IDS, MissedCallResult
from domain.models import VoicemailResult
from workers.ingress.schemas import CallStatusResponse

log = logging.getLogger(__name__)

_SA_CALLS = SearchAttributeKey.for_keyword_list(SA_CALL_IDS)
# Memo key written by MissedCallWorkflow when the caller's reply went to the text channel.
_MEMO_HANDED_OVER_TO = "handed_over_to"


# (workflow id, run id) of a call the ingress accepted; None when it never did.
Located = tuple[str, str] | None


async def call_status(
    client: Client,
    call_id: str,
    authed: bool,
    locate: Callable[[str], Awaitable[Located]],
    *,
    visibility_fallback: bool = False,
) -> CallStatusResponse | None:
    """None when no workflow knows the call. `locate` reads the call index;
    `visibility_fallback` (migration only) also asks visibility when the index does not
    know the call."""
    found = await voicemail_status(client, call_id, authed)
    if found is not None:
        return found
    located = await locate(call_id)
    if located is None and visibility_fallback:
        execution = await _find_missed_call(client, call_id)
        located = (execution.id, execution.run_id or "") if execution is not None else None
    if located is None:
        return None
    return await missed_call_status(client, call_id, authed, *located)


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower() if status is not None else "unknown"


def _keyword(desc: WorkflowExecution, name: str) -> str:
    return desc.typed_search_attributes.get(SearchAttributeKey.for_keyword(name)) or ""


async def voicemail_status(client: Client, call_id: str, authed: bool) -> CallStatusResponse | None:
    handle = client.get_workflow_handle(
        names.voicemail_workflow_id(call_id), result_type=VoicemailResult
    )
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    running = desc.status == WorkflowExecutionStatus.RUNNING
    out = CallStatusResponse(
        call_id=call_id,
        kind="voicemail",
        status=_keyword(desc, names.SA_STATUS) or "received",
        running=running,
    )
    if authed:
        detail: dict[str, Any] = {
            "workflow_id": handle.id,
            "execution": _status_name(desc.status),
            "escalation_reason": _keyword(desc, names.SA_REASON),
        }
        if desc.status == WorkflowExecutionStatus.COMPLETED:
            result = await handle.result()
            detail.update(
                booking_reference=result.booking_reference,
                pickup_date=result.pickup_date,
                sector=result.sector,
                escalations=result.escalations,
                reason=result.reason,
            )
        out.detail = detail
    return out


async def _find_missed_call(client: Client, call_id: str) -> WorkflowExecution | None:
    # The call id matched CALL_ID_PATTERN: no quote can reach the query.
    query = f"WorkflowType = '{MISSED_CALL_WORKFLOW}' AND {SA_CALL_IDS} = '{call_id}'"
    try:
        executions = [e async for e in client.list_workflows(query, limit=1)]
    except RPCError as err:
        if err.status != RPCStatusCode.INVALID_ARGUMENT:
            raise
        # The namespace lacks the CallIds search attribute: no missed call can be found.
        log.warning(
            "search attribute %s not registered: missed calls cannot be looked up", SA_CALL_IDS
        )
        return None
    return executions[0] if executions else None


async def _handed_over(client: Client, desc: WorkflowExecution) -> tuple[str, str]:
    """(the workflow id the case handed the caller's reply to, that workflow's status)."""
    handed_over_to = ""
    try:
        handed_over_to = str(await desc.memo_value(_MEMO_HANDED_OVER_TO, ""))
    except Exception:  # an undecodable memo only costs the follow-up status
        handed_over_to = ""
    follow_status = ""
    if handed_over_to:
        try:
            child = await client.get_workflow_handle(handed_over_to).describe()
            follow_status = _keyword(child, names.SA_STATUS)
        except RPCError:
            follow_status = ""
    return handed_over_to, follow_status


async def missed_call_status(
    client: Client, call_id: str, authed: bool, workflow_id: str, run_id: str
) -> CallStatusResponse | None:
    handle = client.get_workflow_handle(
        workflow_id, run_id=run_id or None, result_type=MissedCallResult
    )
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # past the namespace's retention
            return None
        raise
    if desc.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
        # A long case went on in a new run: the newest run of the id, if it still counts the
        # call (a later case of the same number does not).
        newest = client.get_workflow_handle(workflow_id, result_type=MissedCallResult)
        newest_desc = await newest.describe()
        calls = newest_desc.typed_search_attributes.get(_SA_CALLS) or []
        if call_id in calls:
            handle, desc = newest, newest_desc
    running = desc.status == WorkflowExecutionStatus.RUNNING
    status = _keyword(desc, names.SA_STATUS) or "received"
    handed_over_to, follow_status = await _handed_over(client, desc)
    out = CallStatusResponse(
        call_id=call_id,
        kind="missed_call",
        # What the caller's request became once the reply went to the text channel.
        status=follow_status or status,
        running=running,
    )
    if authed:
        detail: dict[str, Any] = {
            "workflow_id": workflow_id,
            "execution": _status_name(desc.status),
            "case_status": status,
            "escalation_reason": _keyword(desc, names.SA_REASON),
            "handed_over_to": handed_over_to,
        }
        if desc.status == WorkflowExecutionStatus.COMPLETED:
            result = await handle.result()
            detail.update(
                line=result.line,
                calls=len(result.call_ids),
                visible_at=result.visible_at,
                callback_attempts=result.callback_attempts,
                reason=result.reason,
                booking_reference=result.booking_reference,
            )
        out.detail = detail
    return out
