"""Callers' replies (2-way SMS): from the provider to the workflow waiting for them.

`poll_incoming_sms`, run every few seconds by the SmsPoll Schedule, reads the messages waiting
at the provider and routes each (`activities/messaging/routing.py`: the case that texted the
sender, found in the routes table, gets a signal, or an `IncomingSmsWorkflow` keeps it for an
agent); the HTTP webhook routes one message the same way.

Only once the message is routed is it deleted at the provider, so a crash in between loses
nothing: the next poll routes it again, and the receiving side drops a message id it has
already handled (the IncomingSmsWorkflow id is derived from it; voicemail workflows skip a
known `message_id`). No number and no text is logged: message ids, workflow ids and counts
only.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.messaging.backends import InboxBackend
from activities.messaging.errors import (
    SmsBackendError,
    SmsConfigError,
    SmsNotFoundError,
    SmsRejectedError,
)
from activities.messaging.routes import SmsRoutes
from activities.messaging.routing import incoming_from_record, route_incoming_sms
from domain import names
from domain.errors import CONFIG_ERROR, SMS_LOOKUP_REJECTED
from domain.sms_models import SmsPollInput, SmsPollResult, SmsRouteOutcome


class SmsInboxActivities:
    def __init__(
        self,
        client: Client,
        backend: InboxBackend,
        phone_key_secret: bytes,
        task_queue: str,
        *,
        max_messages: int = 100,
        routes: SmsRoutes | None = None,
        visibility_fallback: bool = True,
    ) -> None:
        if not phone_key_secret:
            raise ValueError("SmsInboxActivities: empty phone key secret")
        self.client = client
        self.backend = backend
        self.phone_key_secret = phone_key_secret
        self.task_queue = task_queue
        self.max_messages = max_messages
        # The routes table of the service database (None: visibility only, as before it).
        self.routes = routes
        self.visibility_fallback = visibility_fallback

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
                routes=self.routes,
                visibility_fallback=self.visibility_fallback,
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
