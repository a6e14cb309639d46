"""The OVH SMS API backend, through the official `ovh` client: sending with a tag that lets a
message be found again, the translation of the client's errors into what the activity must do
(rejected for good, surely not sent, maybe sent), delivery reports, callers' replies.

Requests are signed with the server's time (the client reads GET /auth/time once and keeps the
offset): after a step of this host's clock OVH refuses every call with 400 "Query out of time".
That answer re-reads the offset and retries the call once (the refusal came before OVH read
the request, so a retried send cannot duplicate)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

import ovh
import requests
import urllib3

from activities.config import OvhSettings
from activities.messaging.backends import DeliveryStatus
from activities.messaging.errors import (
    SmsBackendError,
    SmsConfigError,
    SmsNotFoundError,
    SmsNotSentError,
    SmsRejectedError,
    SmsUncertainError,
    redact_numbers,
)
from domain.sms import is_gsm7
from domain.sms_models import SmsDeliveryStatus

log = logging.getLogger(__name__)


def ovh_tag(idempotency_key: str) -> str:
    """OVH `tag` of the job: lets `find` look the message up after an unknown outcome. Hashed
    so that no call id ends up in the provider's records."""
    return "encombot-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


def _never_left(cause: object) -> bool:
    """True when a requests failure happened before any byte of the request was sent."""
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError):
        reason = cause.args[0] if cause.args else None
        reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
        # NewConnectionError (refused, DNS) derives from ConnectTimeoutError.
        return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)
    return False


def _is_clock_refusal(err: Exception) -> bool:
    """OVH's answer to a signature timestamp too far from its clock: 400 QUERY_TIME_OUT."""
    response = getattr(err, "response", None)
    if response is None or int(response.status_code) != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    message = str(body.get("message") or "").lower()
    return body.get("errorCode") == "QUERY_TIME_OUT" or "out of time" in message


def _translate_ovh_error(err: Exception, *, sending: bool) -> SmsBackendError:
    """Map an `ovh` exception to what the activity needs to know: rejected for good, surely not
    sent, maybe sent. `sending=False` for calls that cannot send anything (clock, lookups)."""
    exc = ovh.exceptions
    if isinstance(err, exc.HTTPError):  # requests failed: DNS, refused, timeout, reset
        cause = err.args[1] if len(err.args) > 1 else None
        kind = type(cause).__name__ if cause is not None else "réseau"
        if not sending or _never_left(cause):
            return SmsNotSentError(f"API OVH injoignable ({kind})")
        return SmsUncertainError(f"connexion à l'API OVH interrompue pendant l'envoi ({kind})")
    if isinstance(err, exc.NetworkError):
        return SmsNotSentError("API OVH injoignable (erreur réseau)")
    if isinstance(err, exc.InvalidResponse):
        # No status code survives: a proxy's HTML 502 and a garbled 200 look the same.
        if sending:
            return SmsUncertainError("réponse illisible de l'API OVH pendant l'envoi")
        return SmsNotSentError("réponse illisible de l'API OVH")
    response = getattr(err, "response", None)
    if response is None:  # raised by the client itself: empty key, unknown endpoint...
        return SmsConfigError(f"configuration OVH invalide ({type(err).__name__})")
    status = int(response.status_code)
    if status >= 500 and sending:
        # A 5xx says nothing of the job: a gateway's 502/504 may come after OVH accepted it.
        return SmsUncertainError(f"API OVH : HTTP {status} pendant l'envoi, issue inconnue")
    if status >= 500 or status in (408, 429):
        return SmsNotSentError(f"API OVH indisponible (HTTP {status})")
    if _is_clock_refusal(err):
        # Still refused after the offset was read again: transient (the clock settles), and
        # refused before the job was read, so nothing left.
        return SmsNotSentError("API OVH : horodatage refusé (horloge)")
    code = ""
    with contextlib.suppress(ValueError, AttributeError):
        code = str(response.json().get("errorCode") or "")
    detail = redact_numbers(str(err.args[0]) if err.args and err.args[0] else type(err).__name__)
    label = f"HTTP {status}, {code}" if code else f"HTTP {status}"
    return SmsRejectedError(f"OVH a refusé la requête ({label}) : {detail}")


class OvhBackend:
    """The OVH SMS API through the official `ovh` client (request signing, clock sync).

    One client for the life of the backend: it fetches /auth/time before the first call (and
    again when OVH refuses a timestamp) and keeps its HTTPS connections. The consumer key needs
    POST /sms/*/jobs; GET /sms/*/outgoing* and GET /sms/*/jobs* (`find`, `delivery_status`);
    GET and DELETE /sms/*/incoming* (replies)."""

    name = "ovh"

    def __init__(self, settings: OvhSettings, client: Any | None = None) -> None:
        if not settings.service_name:
            raise SmsConfigError("OVH : service_name (sms-xx11111-1) manquant")
        self._service = settings.service_name
        self._sender = settings.sender
        self._clock_lock = threading.Lock()
        self._clock_ready = False
        if client is not None:
            self._client = client
            return
        secrets = (settings.application_key, settings.application_secret, settings.consumer_key)
        if not all(secret.get_secret_value() for secret in secrets):
            raise SmsConfigError(
                "OVH : application_key, application_secret et consumer_key sont requis"
            )
        if settings.endpoint_url:
            # ovh.Client only takes endpoint names; a custom root (tests, a proxy) is
            # registered under the configured name. Process-wide: keep names distinct.
            known = ovh.client.ENDPOINTS.get(settings.endpoint)
            url = settings.endpoint_url.rstrip("/")
            if known and known != url:
                log.warning("OVH endpoint %s redirected to %s", settings.endpoint, url)
            ovh.client.ENDPOINTS[settings.endpoint] = url
        try:
            self._client = ovh.Client(
                endpoint=settings.endpoint,
                application_key=settings.application_key.get_secret_value(),
                application_secret=settings.application_secret.get_secret_value(),
                consumer_key=settings.consumer_key.get_secret_value(),
                timeout=settings.timeout_s,
            )
        except ovh.exceptions.APIError as err:
            raise SmsConfigError(f"OVH : configuration invalide ({type(err).__name__})") from None

    def _sync_clock(self) -> None:
        """Fetch the server time before the first signed call, so that a failure there is
        classified as "not sent" rather than surfacing inside the send."""
        if self._clock_ready:
            return
        with self._clock_lock:
            if self._clock_ready:
                return
            try:
                _ = self._client.time_delta
            except ovh.exceptions.APIError as err:
                raise _translate_ovh_error(err, sending=False) from None
            self._clock_ready = True

    def _resync_clock(self) -> None:
        """Forget the clock offset (the `ovh` client caches it for its life) and read it
        again."""
        with self._clock_lock:
            if hasattr(self._client, "_time_delta"):
                self._client._time_delta = None
            self._clock_ready = False
        self._sync_clock()

    def _call(self, method: str, path: str, **params: Any) -> Any:
        """One signed call (`get`, `post`, `delete` of the client). Raises the client's
        exceptions: each caller translates them for what it does."""
        self._sync_clock()
        call = getattr(self._client, method)
        try:
            return call(path, **params)
        except ovh.exceptions.BadParametersError as err:
            if not _is_clock_refusal(err):
                raise
        log.warning("OVH refused the request's timestamp: clock offset read again")
        self._resync_clock()
        return call(path, **params)

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        body: dict[str, Any] = {
            "message": text,
            "receivers": [to],
            "charset": "UTF-8",
            # OVH's SmsCodingEnum: 7bit = GSM 03.38, 8bit = unicode (sent as UCS-2).
            "coding": "7bit" if is_gsm7(text) else "8bit",
            # Transactional (booking confirmation, answers): no "STOP au 36180" suffix.
            "noStopClause": True,
            "priority": "high",
            "tag": ovh_tag(idempotency_key),
        }
        if self._sender:
            body["sender"] = self._sender
        else:
            # A short number the caller can answer (ANNULER, an address).
            body["senderForResponse"] = True
        try:
            report = self._call("post", f"/sms/{self._service}/jobs", **body)
        except ovh.exceptions.APIError as err:
            raise _translate_ovh_error(err, sending=True) from None
        if not isinstance(report, dict):
            raise SmsUncertainError("réponse inattendue de l'API OVH pendant l'envoi")
        ids = report.get("ids") or []
        if report.get("invalidReceivers") or not ids:
            raise SmsRejectedError(
                "OVH a refusé le destinataire (numéro invalide ou injoignable par SMS)"
            )
        return str(ids[0])

    def find(self, to: str, text: str, idempotency_key: str) -> str | None:
        base = f"/sms/{self._service}"
        try:
            outgoing = self._call("get", f"{base}/outgoing", tag=ovh_tag(idempotency_key))
            if outgoing:
                return str(outgoing[0])
            # A job not yet handed to the operator is only in the pending list, untagged.
            for job_id in list(self._call("get", f"{base}/jobs"))[:100]:
                job = self._call("get", f"{base}/jobs/{job_id}")
                if job.get("receiver") == to and job.get("message") == text:
                    return str(job_id)
        except ovh.exceptions.APIError as err:
            raise _translate_ovh_error(err, sending=False) from None
        return None

    def _get_or_none(self, path: str) -> Any:
        try:
            return self._call("get", path)
        except ovh.exceptions.ResourceNotFoundError:
            return None
        except ovh.exceptions.APIError as err:
            raise _translate_ovh_error(err, sending=False) from None

    def delivery_status(self, message_id: str) -> DeliveryStatus:
        """delivered / failed / pending, from the operator's delivery report.

        A job waits in GET /sms/{service}/jobs/{id} until OVH hands it to an operator, then
        lives in GET /sms/{service}/outgoing/{id} (same id) with `deliveryReceipt`, the
        operator's report in the Kannel-style DLR codes OVH passes on: 1 delivered to the
        phone; 2 not delivered to the phone and 16 rejected by the operator's SMSC (failed);
        0 no report yet, 4 buffered at the SMSC, 8 accepted by the SMSC (pending: a phone
        switched off gets it when it comes back). `ptt` is the operator's own code, kept in
        the detail for a person to look up (GET /sms/ptts?ptt=...).

        Unknown in both lists (404 twice, checked again in case the job moved between the
        two reads): "failed". It happens when the id is not this account's or the history
        line was deleted; either way nobody can say the caller got the SMS, and a person
        checking beats a confirmation silently assumed."""
        base = f"/sms/{self._service}"
        outgoing = self._get_or_none(f"{base}/outgoing/{message_id}")
        if outgoing is None:
            job = self._get_or_none(f"{base}/jobs/{message_id}")
            if job is not None:
                return SmsDeliveryStatus.PENDING.value, "en file d'attente chez OVH"
            outgoing = self._get_or_none(f"{base}/outgoing/{message_id}")
            if outgoing is None:
                return (
                    SmsDeliveryStatus.FAILED.value,
                    "message inconnu d'OVH (ni en file, ni envoyé)",
                )
        if not isinstance(outgoing, dict):
            raise SmsNotSentError("réponse inattendue de l'API OVH (outgoing)")
        return ovh_delivery_status(outgoing)

    def list_incoming(self) -> list[int | str]:
        try:
            ids = self._call("get", f"/sms/{self._service}/incoming")
        except ovh.exceptions.APIError as err:
            raise _translate_ovh_error(err, sending=False) from None
        if not isinstance(ids, list):
            raise SmsNotSentError("réponse inattendue de l'API OVH (incoming)")
        # OVH ids grow with time: ascending order answers the oldest first.
        return sorted(ids, key=lambda i: (0, int(i), "") if str(i).isdigit() else (1, 0, str(i)))

    def get_incoming(self, message_id: int | str) -> dict[str, Any]:
        record = self._get_or_none(f"/sms/{self._service}/incoming/{message_id}")
        if record is None:
            raise SmsNotFoundError("SMS entrant introuvable chez OVH (déjà traité ?)")
        if not isinstance(record, dict):
            raise SmsNotSentError("réponse inattendue de l'API OVH (incoming)")
        return {
            "id": str(record.get("id", message_id)),
            "sender": str(record.get("sender") or ""),
            "message": str(record.get("message") or ""),
            "creationDatetime": str(record.get("creationDatetime") or ""),
        }

    def delete_incoming(self, message_id: int | str) -> None:
        try:
            self._call("delete", f"/sms/{self._service}/incoming/{message_id}")
        except ovh.exceptions.ResourceNotFoundError:
            pass  # deleted by a concurrent poll or the webhook: the goal is reached
        except ovh.exceptions.APIError as err:
            raise _translate_ovh_error(err, sending=False) from None


# Kannel-style delivery report codes, as OVH passes them on (see OvhBackend.delivery_status).
_DLR_DELIVERED = frozenset({1})
_DLR_FAILED = frozenset({2, 16})


def ovh_delivery_status(outgoing: Mapping[str, Any]) -> DeliveryStatus:
    """Status of one GET /sms/{service}/outgoing/{id} record (no personal data in the detail:
    only the provider's codes)."""
    try:
        receipt = int(outgoing.get("deliveryReceipt") or 0)
    except (TypeError, ValueError):
        receipt = 0
    ptt = outgoing.get("ptt")
    detail = f"accusé de réception {receipt}" + (f", code PTT {ptt}" if ptt else "")
    if receipt in _DLR_DELIVERED or outgoing.get("deliveredAt"):
        return SmsDeliveryStatus.DELIVERED.value, detail
    if receipt in _DLR_FAILED:
        return SmsDeliveryStatus.FAILED.value, detail
    return SmsDeliveryStatus.PENDING.value, detail
