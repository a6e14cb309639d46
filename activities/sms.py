"""The SMS step: render a French template, check its length, send it exactly once.

Backends: a local outbox file (embedded default: demo, tests) and the OVH SMS API
(`activities/messaging/`: rendering, backends, the ledger and the exactly-once protocol of
`messaging/sender.py`, the phone-key secret).

After the send
--------------
`check_sms_delivery` asks the backend what became of a message (delivered / failed / pending,
see `OvhBackend.delivery_status`); the workflow escalates a failed one. Callers' replies are
read by `activities/sms_inbox.py` through `list_incoming` / `get_incoming` /
`delete_incoming`. `send_sms` records the route of the recipient's replies to the sending case
(table `sms_routes`, activities/messaging/routes.py: the phone key, domain.phone.phone_key,
and the workflow id), which is how a reply finds its case, and returns the phone key: the
workflow publishes it as the `SmsPhoneKey` search attribute for the agents' filters (and the
router's visibility fallback for cases begun before the table).
`listen_for_sms_replies` records the route for a case that takes over a number its parent
texted (the booking follow-up), or drops the route of a case that no longer takes replies (a
missed call an agent closed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messaging.backends import DeliveryTrackingBackend, SmsBackend
from activities.messaging.errors import SmsConfigError, SmsRejectedError
from activities.messaging.ledger import SmsLedger
from activities.messaging.render import SmsTemplateError, render_sms
from activities.messaging.routes import SmsRoutes
from activities.messaging.sender import SmsSender
from domain import names
from domain.errors import (
    CONFIG_ERROR,
    SMS_LOOKUP_REJECTED,
    SMS_NOT_MOBILE,
    SMS_TOO_LONG,
    TEMPLATE_ERROR,
)
from domain.models import NotifyInput, NotifyResult
from domain.phone import is_mobile_fr, phone_key, to_e164
from domain.sms import sms_info
from domain.sms_models import (
    SmsDeliveryInput,
    SmsDeliveryResult,
    SmsDeliveryStatus,
    SmsListenInput,
    SmsListenResult,
)

if TYPE_CHECKING:
    from activities.metrics import StepMetrics


class SmsActivities:
    def __init__(
        self,
        backend: SmsBackend,
        templates_dir: Path,
        ledger: SmsLedger | Engine | Path,
        service_name: str,
        agent_phone: str,
        max_segments: int = 3,
        *,
        inflight_lease_s: float = 90.0,
        settle_s: float = 5.0,
        phone_key_secret: bytes | None = None,
        metrics: StepMetrics | None = None,
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        # None: results carry no phone key, and no reply can find its case.
        self.phone_key_secret = phone_key_secret
        self.templates_dir = Path(templates_dir)
        # The service database's engine in production (every worker shares the sends), a
        # SQLite file of its own in tests.
        self.ledger = SmsLedger.at(ledger, inflight_lease_s=inflight_lease_s, settle_s=settle_s)
        self.sender = SmsSender(backend, self.ledger, metrics)
        # Where replies find their case: in the ledger's database, shared by every worker.
        self.routes = SmsRoutes(self.ledger.engine)
        self.service_name = service_name
        self.agent_phone = agent_phone
        self.max_segments = max_segments

    @activity.defn(name=names.SEND_SMS)
    def send_sms(self, inp: NotifyInput) -> NotifyResult:
        # The configured name and number are defaults: a caller may override them (another
        # service line, a commune's own number).
        context: dict[str, object] = {
            "service_name": self.service_name,
            "agent_phone": self.agent_phone,
        }
        context.update(inp.context)
        try:
            text = render_sms(self.templates_dir, inp.template, context)
        except SmsTemplateError as err:
            raise ApplicationError(str(err), type=TEMPLATE_ERROR, non_retryable=True) from None
        info = sms_info(text)
        if info.segments > self.max_segments:
            raise ApplicationError(
                f"SMS {inp.template} trop long : {info.segments} segments {info.encoding}"
                f" ({info.length} caractères), {self.max_segments} au plus",
                type=SMS_TOO_LONG,
                non_retryable=True,
            )
        to = to_e164(inp.to)
        if to is None or not is_mobile_fr(to):
            raise ApplicationError(
                "Ce numéro ne peut pas recevoir de SMS (fixe, numéro spécial ou invalide)",
                type=SMS_NOT_MOBILE,
                non_retryable=True,
            )
        key = phone_key(to, self.phone_key_secret) if self.phone_key_secret else ""
        if key and inp.listen:
            # Before the send: a reply, however quick, finds the case. Idempotent (an upsert):
            # a retried activity refreshes the row.
            self.routes.record(key, _workflow_id(), opens=inp.opens_exchange)
        message_id, backend, duplicate = self.sender.deliver(inp.idempotency_key, to, text)
        if not duplicate and self.metrics is not None:
            self.metrics.sms_event("sent")
        activity.logger.info(
            "SMS %s %s: %s, %s segment(s) %s via %s",
            inp.template,
            "already sent" if duplicate else "sent",
            message_id,
            info.segments,
            info.encoding,
            backend,
        )
        return NotifyResult(
            message_id=message_id,
            text=text,
            encoding=info.encoding,
            segments=info.segments,
            backend=backend,
            duplicate=duplicate,
            phone_key=key,
        )

    @activity.defn(name=names.LISTEN_FOR_SMS_REPLIES)
    def listen_for_sms_replies(self, inp: SmsListenInput) -> SmsListenResult:
        """The calling case now gets the replies of the number of `inp.phone_key` (a booking
        follow-up: its parent sent the confirmation). Idempotent."""
        workflow_id = _workflow_id()
        if not inp.phone_key or not workflow_id:
            return SmsListenResult()
        if not inp.listen:
            self.routes.forget(inp.phone_key, workflow_id)
            activity.logger.info("SMS replies no longer routed to %s", workflow_id)
            return SmsListenResult()
        self.routes.record(inp.phone_key, workflow_id)
        activity.logger.info("SMS replies routed to %s", workflow_id)
        return SmsListenResult(workflow_id=workflow_id)

    @activity.defn(name=names.CHECK_SMS_DELIVERY)
    def check_sms_delivery(self, inp: SmsDeliveryInput) -> SmsDeliveryResult:
        """What became of a sent SMS. 4xx answers are permanent (non-retryable
        SMS_LOOKUP_REJECTED); 5xx and network errors raise a plain exception, which the
        workflow's retry policy retries with backoff."""
        backend = self.backend
        if inp.backend and inp.backend != backend.name:
            raise ApplicationError(
                f"SMS envoyé par le fournisseur {inp.backend}, ce worker utilise {backend.name} :"
                " suivi impossible",
                type=CONFIG_ERROR,
                non_retryable=True,
            )
        if not isinstance(backend, DeliveryTrackingBackend):
            raise ApplicationError(
                f"Le fournisseur {backend.name} ne donne pas l'état de remise des SMS",
                type=CONFIG_ERROR,
                non_retryable=True,
            )
        try:
            status, detail = backend.delivery_status(inp.message_id)
        except SmsRejectedError as err:
            raise ApplicationError(str(err), type=SMS_LOOKUP_REJECTED, non_retryable=True) from None
        except SmsConfigError as err:
            raise ApplicationError(str(err), type=CONFIG_ERROR, non_retryable=True) from None
        activity.logger.info("SMS %s: %s (%s)", inp.message_id, status, detail)
        if self.metrics is not None:
            if status == SmsDeliveryStatus.DELIVERED.value:
                self.metrics.sms_event("delivered")
            elif status == SmsDeliveryStatus.FAILED.value:
                self.metrics.sms_event("undelivered")
        return SmsDeliveryResult(status=status, detail=detail, message_id=inp.message_id)


def _workflow_id() -> str:
    """The case running this activity ("" outside a workflow: tools, direct calls)."""
    if not activity.in_activity():
        return ""
    return activity.info().workflow_id or ""
