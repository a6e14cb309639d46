"""Callers' replies (2-way SMS): from the provider to the workflow waiting for them.

Routing, for one message:

1. the sender in E.164, then its phone key (domain.phone.phone_key, keyed hash);
2. the running workflows whose `SmsPhoneKey` holds that key (every case publishes the key of
   the numbers it has texted): the most recently started gets the `sms_reply` signal. What
   the reply means ("ANNULER", "1", "2", anything else for an agent) is that workflow's call;
3. none (an unknown number, a case already closed, a sender that is no phone number): an
   `IncomingSmsWorkflow` keeps the message for an agent. An SMS is never dropped.

Only once the message is routed is it deleted at the provider, so a crash in between loses
nothing: the next poll routes it again, and the receiving side drops a message id it has
already handled (the IncomingSmsWorkflow id is derived from it; voicemail workflows skip a
known `message_id`).

Two ways in: `SmsInboxActivities.poll_incoming_sms`, run every few seconds by the SmsPoll
Schedule, and `route_incoming_sms`, which the HTTP webhook calls with one message. No number
and no text is logged: message ids, workflow ids and counts only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.sms import (
    InboxBackend,
    SmsBackendError,
    SmsConfigError,
    SmsNotFoundError,
    SmsRejectedError,
)
from domain import names
from domain.errors import CONFIG_ERROR, SMS_LOOKUP_REJECTED
from domain.models import SmsReplyInput
from domain.phone import phone_key, to_e164
from domain.sms_models import (
    IncomingSms,
    IncomingSmsInput,
    SmsPollInput,
    SmsPollResult,
    SmsRouteOutcome,
    SmsRouteResult,
)

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


class SmsInboxActivities:
    def __init__(
        self,
        client: Client,
        backend: InboxBackend,
        phone_key_secret: bytes,
        task_queue: str,
        *,
        max_messages: int = 100,
    ) -> None:
        if not phone_key_secret:
            raise ValueError("SmsInboxActivities: empty phone key secret")
        self.client = client
        self.backend = backend
        self.phone_key_secret = phone_key_secret
        self.task_queue = task_queue
        self.max_messages = max_messages

    @activity.defn(name=names.POLL_INCOMING_SMS)
    async def poll_incoming_sms(self, inp: SmsPollInput) -> SmsPollResult:
        """Route every SMS waiting at the provider, then delete it there. A message that fails
        (read, route, delete) is counted in `errors` and left for the next poll; only a
        provider that cannot be listed at all fails the activity."""
        try:
            ids = await asyncio.to_thread(self.backend.list_incoming)
        except SmsRejectedError as err:
            raise ApplicationError(str(err), type=SMS_LOOKUP_REJECTED, non_retryable=True) from None
        except SmsConfigError as err:
            raise ApplicationError(str(err), type=CONFIG_ERROR, non_retryable=True) from None
        result = SmsPollResult(seen=len(ids))
        limit = inp.max_messages if inp.max_messages > 0 else self.max_messages
        for done, raw_id in enumerate(ids[:limit]):
            activity.heartbeat(done)
            await self._handle(raw_id, result)
        if result.seen:
            activity.logger.info(
                "SMS poll: %d waiting, %d routed, %d kept for an agent, %d error(s)",
                result.seen,
                result.routed,
                result.kept_for_agent,
                result.errors,
            )
        return result

    async def _handle(self, raw_id: int | str, result: SmsPollResult) -> None:
        try:
            record = await asyncio.to_thread(self.backend.get_incoming, raw_id)
        except SmsNotFoundError:
            return  # handled meanwhile by the webhook or another poll
        except SmsBackendError as err:
            result.errors += 1
            activity.logger.warning("SMS %s unreadable: %s", raw_id, type(err).__name__)
            return
        message = incoming_from_record(raw_id, record)
        try:
            routed = await route_incoming_sms(
                self.client,
                message,
                phone_key_secret=self.phone_key_secret,
                task_queue=self.task_queue,
            )
        except Exception as err:  # left at the provider: the next poll tries again
            result.errors += 1
            activity.logger.warning("SMS %s not routed: %s", raw_id, type(err).__name__)
            return
        if routed.outcome == SmsRouteOutcome.ROUTED:
            result.routed += 1
        else:
            result.kept_for_agent += 1
        try:
            await asyncio.to_thread(self.backend.delete_incoming, raw_id)
        except SmsBackendError as err:
            # Routed twice at the next poll; the receiving side drops the known message id.
            result.errors += 1
            activity.logger.warning("SMS %s not deleted: %s", raw_id, type(err).__name__)
