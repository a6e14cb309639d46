"""Routing a caller's reply (2-way SMS) to the workflow waiting for it.

For one message:

1. the sender in E.164, then its phone key (domain.phone.phone_key, keyed hash);
2. the running workflows whose `SmsPhoneKey` holds that key (every case publishes the key of
   the numbers it has texted): the most recently started gets the `sms_reply` signal. What
   the reply means ("ANNULER", "1", "2", anything else for an agent) is that workflow's call;
3. none (an unknown number, a case already closed, a sender that is no phone number): an
   `IncomingSmsWorkflow` keeps the message for an agent. An SMS is never dropped.

Used by the poll activity (`activities/sms_inbox.py`) and by the HTTP webhook. No number and
no text is logged: message ids, workflow ids and counts only.
"""

from __future__ import annotations

import logging
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
) -> SmsRouteResult:
    """Signal `message` to the case waiting on its sender, or keep it for an agent (see the
    module docstring). Idempotent per message id. Raises on Temporal errors (the caller leaves
    the message at the provider and tries again later)."""
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
        for execution in await waiting_cases(client, key):
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            try:
                await handle.signal(names.SMS_REPLY_SIGNAL, reply)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue  # closed since it was listed: the next candidate, or an agent
                raise
            log.info("SMS %s routed to %s", message.message_id, execution.id)
            return SmsRouteResult(SmsRouteOutcome.ROUTED.value, execution.id)
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
            # Set at start rather than by the workflow's first task: the sender's next SMS,
            # maybe in the same poll, then joins this case instead of opening another.
            search_attributes=TypedSearchAttributes([SearchAttributePair(SA_SMS_PHONE_KEY, [key])])
            if key
            else None,
            static_summary="SMS sans dossier en cours : pour un agent",
        )
        log.info("SMS %s kept for an agent in %s", message.message_id, workflow_id)
    except WorkflowAlreadyStartedError:
        log.info("SMS %s already kept in %s", message.message_id, workflow_id)
    return SmsRouteResult(SmsRouteOutcome.KEPT_FOR_AGENT.value, workflow_id)
