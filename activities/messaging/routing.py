"""Routing a caller's reply (2-way SMS) to the workflow waiting for it.

For one message:

1. the sender in E.164, then its phone key (domain.phone.phone_key, keyed hash);
2. the cases listening to that key in the routes table (activities/messaging/routes.py: every
   case that texted the number has a row), the case that began texting it last first (as the
   visibility query's most recently started case before it): the first one still
   running gets the `sms_reply` signal, by workflow id without run id, so that a case that
   continued as new gets it in its current run. A row whose case has closed is deleted and
   the next one tried. What the reply means ("ANNULER", "1", "2", anything else for an agent)
   is that workflow's call;
3. only when no case of the table's rows runs (none, or all closed: their rows dropped on the
   way, so this is paid once) — a case begun before the table existed, which published its
   key only in the `SmsPhoneKey` search attribute, may be waiting: the old visibility
   List query, if `visibility_fallback` (SmsSettings.route_visibility_fallback; turn it off
   once the cases older than the upgrade have closed). A case found so gets a row;
4. none (an unknown number, a case already closed, a sender that is no phone number): an
   `IncomingSmsWorkflow` keeps the message for an agent, and gets the key's row, so that the
   sender's next SMS joins it. An SMS is never dropped.

Visibility is kept off this path on purpose: it is eventually consistent (a reply seconds after
the SMS could miss its case) and its List queries are a rate-limited budget shared with the
UI, GET /calls, the CLI and the metrics.

Used by the poll activity (`activities/sms_inbox.py`) and by the HTTP webhook. No number and
no text is logged: message ids, workflow ids and counts only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.messaging.routes import SmsRoutes
from domain import names
from domain.models import SmsReplyInput
from domain.phone import phone_key, to_e164
from domain.sms_models import IncomingSms, IncomingSmsInput, SmsRouteOutcome, SmsRouteResult

log = logging.getLogger(__name__)

SA_SMS_PHONE_KEY = SearchAttributeKey.for_keyword_list(names.SA_SMS_PHONE_KEY)
# Cases texting the same number at once are rare; a handful is plenty to pick the newest.
_MAX_CANDIDATES = 20


def incoming_from_record(message_id: int | str, record: dict[str, Any]) -> IncomingSms:
    """An `InboxBackend.get_incoming` record (OVH's field names) as an IncomingSms."""
    return IncomingSms(
        message_id=str(record.get("id") or message_id),
        sender=str(record.get("sender") or ""),
        text=str(record.get("message") or ""),
        received_at=str(record.get("creationDatetime") or ""),
    )


def phone_key_query(key: str) -> str:
    # The key is hex (phone_key): nothing to escape.
    return f"{names.SA_SMS_PHONE_KEY} = '{key}' AND ExecutionStatus = 'Running'"


async def waiting_cases(client: Client, key: str) -> list[WorkflowExecution]:
    """Running workflows that texted the number of `key`, most recently started first."""
    found = [
        execution
        async for execution in client.list_workflows(phone_key_query(key), limit=_MAX_CANDIDATES)
        if execution.status in (None, WorkflowExecutionStatus.RUNNING)
    ]
    return sorted(found, key=lambda e: e.start_time or datetime.min, reverse=True)


async def route_incoming_sms(
    client: Client,
    message: IncomingSms,
    *,
    phone_key_secret: bytes,
    task_queue: str,
    routes: SmsRoutes | None = None,
    visibility_fallback: bool = True,
) -> SmsRouteResult:
    """Signal `message` to the case waiting on its sender, or keep it for an agent (see the
    module docstring). Idempotent per message id. `routes`: the routes table (None: the
    visibility query alone, as before the table). Raises on Temporal or database errors (the
    caller leaves the message at the provider and tries again later)."""
    if not message.message_id:
        raise ValueError("route_incoming_sms: the provider's message id is needed (dedup key)")
    sender = to_e164(message.sender) if message.sender else None
    key = phone_key(sender, phone_key_secret) if sender else ""
    reply = SmsReplyInput(
        text=message.text,
        sender=sender or message.sender,
        received_at=message.received_at,
        message_id=message.message_id,
    )
    if key:
        if routes is not None:
            listed = await asyncio.to_thread(routes.lookup, key)
            routed = await _signal_routes(client, routes, key, listed, reply)
            if routed is not None:
                return routed
        # No running case in the table (none listed, or all closed, their rows dropped on the
        # way): a case begun before the table may still wait for this number. One List query,
        # and the case it finds (or the agent's case opened below) gets a row for the next SMS.
        if visibility_fallback:
            routed = await _signal_visible(client, routes, key, reply)
            if routed is not None:
                return routed
    workflow_id = names.incoming_sms_workflow_id(message.message_id)
    try:
        await client.start_workflow(
            names.INCOMING_SMS_WORKFLOW,
            IncomingSmsInput(
                message_id=message.message_id,
                sender=reply.sender,
                text=message.text,
                received_at=message.received_at,
                phone_key=key,
            ),
            id=workflow_id,
            task_queue=task_queue,
            # A message routed again after a crash must not reopen a case an agent closed.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # Published at start for the agents' filters and for the visibility fallback of
            # a router of the previous version; the routes row below is what routing reads.
            search_attributes=TypedSearchAttributes([SearchAttributePair(SA_SMS_PHONE_KEY, [key])])
            if key
            else None,
            static_summary="SMS sans dossier en cours : pour un agent",
        )
        log.info("SMS %s kept for an agent in %s", message.message_id, workflow_id)
    except WorkflowAlreadyStartedError:
        log.info("SMS %s already kept in %s", message.message_id, workflow_id)
    if key and routes is not None:
        # Also after a crash that started the case but not this write (the retry lands here):
        # the sender's next SMS, maybe in the same poll, joins this case.
        await asyncio.to_thread(routes.record, key, workflow_id)
    return SmsRouteResult(SmsRouteOutcome.KEPT_FOR_AGENT.value, workflow_id)


async def _signal_routes(
    client: Client, routes: SmsRoutes, key: str, listed: list[str], reply: SmsReplyInput
) -> SmsRouteResult | None:
    """The newest running case of the table's rows gets the reply; the closed ones lose their
    row. None when none of them runs."""
    closed = 0
    for workflow_id in listed:
        # No run id: the current run, even after a continue-as-new.
        handle = client.get_workflow_handle(workflow_id)
        asked_at = time.time()
        try:
            await handle.signal(names.SMS_REPLY_SIGNAL, reply)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # Closed (or gone with the namespace's retention): never again a candidate,
            # unless a new run under that id has texted the number since.
            await asyncio.to_thread(routes.forget, key, workflow_id, seen_before=asked_at)
            closed += 1
            continue
        log.info(
            "SMS %s routed to %s (%d closed route(s) dropped)",
            reply.message_id,
            workflow_id,
            closed,
        )
        return SmsRouteResult(SmsRouteOutcome.ROUTED.value, workflow_id)
    if closed:
        log.info("SMS %s: %d closed route(s) dropped, none running", reply.message_id, closed)
    return None


async def _signal_visible(
    client: Client, routes: SmsRoutes | None, key: str, reply: SmsReplyInput
) -> SmsRouteResult | None:
    """The fallback for cases begun before the routes table: the visibility List query."""
    for execution in await waiting_cases(client, key):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            await handle.signal(names.SMS_REPLY_SIGNAL, reply)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue  # closed since it was listed: the next candidate, or an agent
            raise
        if routes is not None:
            # Its next reply finds it in the table: one List query per such case, not per SMS.
            await asyncio.to_thread(routes.record, key, execution.id)
        log.info("SMS %s routed to %s (visibility fallback)", reply.message_id, execution.id)
        return SmsRouteResult(SmsRouteOutcome.ROUTED.value, execution.id)
    return None
