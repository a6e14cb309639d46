"""The SMS step: render a French template, check its length, send it exactly once.

Backends: a local outbox file (embedded default: demo, tests) and the OVH SMS API.

Exactly once, and what it costs
-------------------------------
A Temporal activity may run more than once (retry after a failure or a timeout, a worker that
dies mid-call), so every send goes through a small SQLite ledger keyed by the idempotency key:

    claim (state "sending") -> provider call -> "sent" + message id
                                            \\-> "failed"   (the provider surely did not send)
                                            \\-> "unknown"  (it may have sent)

- A key already "sent" returns the recorded message id with `duplicate=True`: no second SMS.
- "failed" is reserved for outcomes that prove nothing left: an HTTP answer 5xx / 429 / 408
  (OVH did not accept the job: a 503 means "not sent", so the retry sends), a connection that
  could not be opened, or a 4xx rejection. The next attempt sends again.
- "unknown" covers the crash-between-send-and-record window: a read timeout, a connection cut
  after the request went out, a worker killed during the call (its row stays "sending"; once
  it is older than `inflight_lease_s` it counts as unknown, before that another attempt may
  still be running and the new one backs off with a retryable error). The next attempt asks
  the provider whether the message exists (`find`: the outbox file; OVH outgoing messages by
  tag, then pending jobs) and records it as sent if so; only a provider that answers "no such
  message" lets it send again. A backend that cannot answer gets no second send: the activity
  fails with `SMS_UNCERTAIN` (non-retryable) and a person checks. We prefer a person checking
  over a duplicate nobody notices, and over a silent loss.

The ledger holds no personal data: no number, no text (only its SHA-256, to spot a key reused
for another message).

After the send
--------------
`check_sms_delivery` asks the backend what became of a message (delivered / failed / pending,
see `OvhBackend.delivery_status`); the workflow escalates a failed one. Callers' replies are
read by `activities/sms_inbox.py` through `list_incoming` / `get_incoming` /
`delete_incoming`. `send_sms` returns the recipient's phone key (domain.phone.phone_key): the
workflow publishes it as the `SmsPhoneKey` search attribute, which is how a reply finds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import jinja2
import ovh
import requests
import urllib3
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.config import OvhSettings, SmsSettings
from activities.private_files import create_private_file_once
from domain import names
from domain.errors import (
    CONFIG_ERROR,
    SMS_LOOKUP_REJECTED,
    SMS_NOT_MOBILE,
    SMS_REJECTED,
    SMS_TOO_LONG,
    SMS_UNCERTAIN,
    TEMPLATE_ERROR,
)
from domain.models import NotifyInput, NotifyResult
from domain.phone import is_mobile_fr, phone_key, to_e164
from domain.sms import fit, is_gsm7, normalise_whitespace, sms_info
from domain.sms_models import SmsDeliveryInput, SmsDeliveryResult, SmsDeliveryStatus

if TYPE_CHECKING:
    from activities.metrics import StepMetrics

log = logging.getLogger(__name__)

_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]+$")


# --------------------------------------------------------------------------- errors


class SmsBackendError(Exception):
    """Base of what a backend raises. Messages are safe to show: no secret, no number."""


class SmsRejectedError(SmsBackendError):
    """The provider refused this message for good (4xx, invalid receiver)."""


class SmsConfigError(SmsBackendError):
    """The backend is misconfigured (missing credentials, unknown endpoint)."""


class SmsNotSentError(SmsBackendError):
    """Transient failure that proves the message did not leave (5xx, connection refused):
    retryable, and the retry sends. Lookups (delivery, incoming) raise it for any transient
    failure: they send nothing."""


class SmsUncertainError(SmsBackendError):
    """Transient failure after which the message may have left (read timeout, cut
    connection): retryable, and the retry first asks the provider."""


class SmsNotFoundError(SmsBackendError):
    """The provider does not know this id (an incoming message already deleted...)."""


class SmsInFlightError(Exception):
    """Another attempt for the same key may still be running: retry later."""


class SmsTemplateError(Exception):
    pass


# --------------------------------------------------------------------------- rendering


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text, never HTML
        keep_trailing_newline=False,
    )


def render_sms(templates_dir: Path, name: str, context: Mapping[str, object]) -> str:
    """The exact text that would be sent for template `name` (file `name`.j2): rendered with
    StrictUndefined, whitespace collapsed, typography made GSM-7, accents dropped only where
    that saves a segment. Raises SmsTemplateError (unknown template, missing variable, syntax
    error, empty result)."""
    if not _TEMPLATE_NAME.match(name):
        raise SmsTemplateError(f"Nom de modèle SMS invalide : {name!r}")
    try:
        template = _environment(Path(templates_dir)).get_template(f"{name}.j2")
        raw = template.render(**context)
    except jinja2.TemplateNotFound:
        raise SmsTemplateError(f"Modèle SMS introuvable : {name}") from None
    except jinja2.TemplateError as err:
        raise SmsTemplateError(f"Modèle SMS {name} : {err}") from None
    text, _ = fit(normalise_whitespace(raw))
    if not text:
        raise SmsTemplateError(f"Modèle SMS {name} : texte vide")
    return text


# --------------------------------------------------------------------------- backends


class SmsBackend(Protocol):
    name: str

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        """Send one SMS; return the provider's message id."""
        ...


@runtime_checkable
class ReconcilableBackend(SmsBackend, Protocol):
    def find(self, to: str, text: str, idempotency_key: str) -> str | None:
        """The id of a message already sent (or queued) for this key, None when the provider
        is sure there is none. Raises like `send` when it cannot tell."""
        ...


DeliveryStatus = tuple[str, str]  # (an SmsDeliveryStatus value, detail without personal data)


@runtime_checkable
class DeliveryTrackingBackend(SmsBackend, Protocol):
    def delivery_status(self, message_id: str) -> DeliveryStatus:
        """What became of a message `send` returned. Raises SmsRejectedError (4xx: never
        retried), SmsConfigError, or SmsNotSentError (5xx, network: retried)."""
        ...


@runtime_checkable
class InboxBackend(Protocol):
    """Callers' replies (2-way SMS). A message stays at the provider until deleted, so a
    crash between reading and routing it loses nothing."""

    name: str

    def list_incoming(self) -> list[int | str]:
        """Ids of the messages waiting, oldest first."""
        ...

    def get_incoming(self, message_id: int | str) -> dict[str, Any]:
        """{"id", "sender", "message", "creationDatetime"}; SmsNotFoundError when gone."""
        ...

    def delete_incoming(self, message_id: int | str) -> None:
        """Forget a handled message; deleting one already gone is not an error."""
        ...


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _append_line(path: Path, line: str, lock: threading.Lock) -> None:
    """Thread lock and flock, so worker threads and processes sharing the file never
    interleave lines; fsynced, so a reader sees every line a caller was told is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock, open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _read_lines(path: Path, lock: threading.Lock) -> list[str]:
    if not path.exists():
        return []
    with lock, open(path, encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        return handle.read().splitlines()


class OutboxBackend:
    """One JSON line per SMS in a local file: {"id", "to", "text", "key", "at"}.

    Every message is "delivered" the moment it is written (there is no network to lose it).

    Replies come from an inbox file (`inbox_path`, default `sms-inbox.jsonl` next to the
    outbox) so the demo can simulate a caller answering: one JSON line per SMS,
    {"sender": "+33612345678", "message": "ANNULER"}, optionally with "id" and
    "creationDatetime". Write them with `add_incoming` or append by hand (`echo '{...}' >>`);
    a line without "id" is known by a hash of its content. The inbox is never rewritten (an
    unlocked `echo >>` racing a rewrite could lose a reply): handled ids are appended to
    `<inbox>.done` instead, and listed messages are those not in it."""

    name = "outbox"

    def __init__(self, path: Path, inbox_path: Path | None = None) -> None:
        self.path = Path(path)
        self.inbox_path = Path(inbox_path) if inbox_path else self.path.with_name("sms-inbox.jsonl")
        self.done_path = self.inbox_path.with_name(self.inbox_path.name + ".done")
        self._lock = threading.Lock()
        self._inbox_lock = threading.Lock()

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        message_id = f"outbox-{uuid.uuid4().hex[:16]}"
        record = {"id": message_id, "to": to, "text": text, "key": idempotency_key}
        line = json.dumps({**record, "at": _now_iso()}, ensure_ascii=False) + "\n"
        _append_line(self.path, line, self._lock)
        return message_id

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for line in _read_lines(self.path, self._lock):
            with contextlib.suppress(ValueError):  # a torn last line after a disk-full crash
                out.append(json.loads(line))
        return out

    def find(self, to: str, text: str, idempotency_key: str) -> str | None:
        for message in reversed(self.messages()):
            if message.get("key") == idempotency_key:
                return str(message["id"])
        return None

    def delivery_status(self, message_id: str) -> DeliveryStatus:
        if any(str(m.get("id")) == message_id for m in self.messages()):
            return SmsDeliveryStatus.DELIVERED.value, "outbox locale"
        # Same answer as OVH for an id it does not know: nobody can say it arrived.
        return SmsDeliveryStatus.FAILED.value, "message inconnu de l'outbox"

    # ------------------------------------------------------------------ inbox

    def add_incoming(self, sender: str, message: str, received_at: str = "") -> str:
        message_id = f"inbox-{uuid.uuid4().hex[:16]}"
        record = {
            "id": message_id,
            "sender": sender,
            "message": message,
            "creationDatetime": received_at or _now_iso(),
        }
        _append_line(
            self.inbox_path, json.dumps(record, ensure_ascii=False) + "\n", self._inbox_lock
        )
        return message_id

    def _inbox(self) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        for line in _read_lines(self.inbox_path, self._inbox_lock):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line still being written, or a typo: never guess
            if not isinstance(record, dict) or "sender" not in record or "message" not in record:
                continue
            message_id = str(record.get("id") or "").strip()
            if not message_id or "\n" in message_id or "\r" in message_id:
                digest = hashlib.sha256(line.strip().encode("utf-8")).hexdigest()[:16]
                message_id = f"inbox-{digest}"
            records.setdefault(message_id, {**record, "id": message_id})
        return records

    def _done(self) -> set[str]:
        return set(_read_lines(self.done_path, self._inbox_lock))

    def list_incoming(self) -> list[int | str]:
        done = self._done()
        return [message_id for message_id in self._inbox() if message_id not in done]

    def get_incoming(self, message_id: int | str) -> dict[str, Any]:
        key = str(message_id)
        record = self._inbox().get(key)
        if record is None or key in self._done():
            raise SmsNotFoundError("SMS entrant introuvable dans l'inbox")
        return {
            "id": key,
            "sender": str(record["sender"]),
            "message": str(record["message"]),
            "creationDatetime": str(record.get("creationDatetime") or ""),
        }

    def delete_incoming(self, message_id: int | str) -> None:
        if str(message_id) in self._done():
            return
        _append_line(self.done_path, f"{message_id}\n", self._inbox_lock)


def ovh_tag(idempotency_key: str) -> str:
    """OVH `tag` of the job: lets `find` look the message up after an unknown outcome. Hashed
    so that no call id ends up in the provider's records."""
    return "encombot-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


_DIGITS = re.compile(r"\+?\d[\d .-]{5,}\d")


def _redact(message: str) -> str:
    return _DIGITS.sub("[numéro]", message)[:200]


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
    if status >= 500 or status in (408, 429):
        return SmsNotSentError(f"API OVH indisponible (HTTP {status})")
    code = ""
    with contextlib.suppress(ValueError, AttributeError):
        code = str(response.json().get("errorCode") or "")
    detail = _redact(str(err.args[0]) if err.args and err.args[0] else type(err).__name__)
    label = f"HTTP {status}, {code}" if code else f"HTTP {status}"
    return SmsRejectedError(f"OVH a refusé la requête ({label}) : {detail}")


class OvhBackend:
    """The OVH SMS API through the official `ovh` client (request signing, clock sync).

    One client for the life of the backend: it fetches /auth/time once and keeps its HTTPS
    connections. The consumer key needs POST /sms/*/jobs; GET /sms/*/outgoing* and
    GET /sms/*/jobs* (`find`, `delivery_status`); GET and DELETE /sms/*/incoming* (replies)."""

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

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        self._sync_clock()
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
            report = self._client.post(f"/sms/{self._service}/jobs", **body)
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
        self._sync_clock()
        base = f"/sms/{self._service}"
        try:
            outgoing = self._client.get(f"{base}/outgoing", tag=ovh_tag(idempotency_key))
            if outgoing:
                return str(outgoing[0])
            # A job not yet handed to the operator is only in the pending list, untagged.
            for job_id in list(self._client.get(f"{base}/jobs"))[:100]:
                job = self._client.get(f"{base}/jobs/{job_id}")
                if job.get("receiver") == to and job.get("message") == text:
                    return str(job_id)
        except ovh.exceptions.APIError as err:
            raise _translate_ovh_error(err, sending=False) from None
        return None

    def _get_or_none(self, path: str) -> Any:
        try:
            return self._client.get(path)
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
        self._sync_clock()
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
        self._sync_clock()
        try:
            ids = self._client.get(f"/sms/{self._service}/incoming")
        except ovh.exceptions.APIError as err:
            raise _translate_ovh_error(err, sending=False) from None
        if not isinstance(ids, list):
            raise SmsNotSentError("réponse inattendue de l'API OVH (incoming)")
        # OVH ids grow with time: ascending order answers the oldest first.
        return sorted(ids, key=lambda i: (0, int(i), "") if str(i).isdigit() else (1, 0, str(i)))

    def get_incoming(self, message_id: int | str) -> dict[str, Any]:
        self._sync_clock()
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
        self._sync_clock()
        try:
            self._client.delete(f"/sms/{self._service}/incoming/{message_id}")
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


def build_sms_backend(sms_settings: SmsSettings) -> SmsBackend:
    if sms_settings.backend == "ovh":
        return OvhBackend(sms_settings.ovh)
    return OutboxBackend(sms_settings.outbox_path, sms_settings.inbox_path)


# --------------------------------------------------------------------------- phone keys

PHONE_KEY_FILE_NAME = "sms-phone-key.secret"


def load_or_create_secret_file(path: Path) -> bytes:
    """The random secret stored (hex, one line) at `path`, created on first use with mode
    0600. Creation is atomic (temporary file hard-linked into place), like the codec's
    development key: processes starting together all end up with the same secret."""
    if create_private_file_once(path, secrets.token_hex(32) + "\n"):
        log.warning(
            "created the SMS phone-key secret in %s: every worker and the webhook "
            "must share it (or set ENCOMBOT_SMS__PHONE_KEY_SECRET)",
            path,
        )
    text = path.read_text("ascii").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise SmsConfigError(
            f"{path} : secret illisible (attendu : une ligne hexadécimale)"
        ) from None
    if len(secret) < 16:
        raise SmsConfigError(f"{path} : secret trop court (16 octets au moins)")
    return secret


def phone_key_secret(sms_settings: SmsSettings, data_dir: Path) -> bytes:
    """The HMAC key of domain.phone.phone_key: the configured secret, else the one kept in
    `sms.phone_key_file` (default <data_dir>/sms-phone-key.secret), created on first use."""
    configured = sms_settings.phone_key_secret.get_secret_value()
    if configured:
        if len(configured) < 16:
            # A short key could be found by trying every mobile number against it.
            raise SmsConfigError("ENCOMBOT_SMS__PHONE_KEY_SECRET : 16 caractères au moins")
        return configured.encode("utf-8")
    return load_or_create_secret_file(sms_settings.phone_key_file or data_dir / PHONE_KEY_FILE_NAME)


# --------------------------------------------------------------------------- ledger

ClaimAction = Literal["send", "sent", "in_flight", "uncertain"]


@dataclass(frozen=True)
class Claim:
    action: ClaimAction
    message_id: str = ""
    backend: str = ""
    attempts: int = 0


class SmsLedger:
    """SQLite record of every send, keyed by idempotency key (see the module docstring).
    One connection per operation and BEGIN IMMEDIATE: safe across threads and processes."""

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS sms_ledger (
            key TEXT PRIMARY KEY,
            state TEXT NOT NULL,            -- sending | sent | failed | unknown
            backend TEXT NOT NULL,
            message_id TEXT,
            text_sha256 TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            last_error TEXT
        )
    """

    def __init__(self, path: Path, inflight_lease_s: float = 90.0) -> None:
        self.path = Path(path)
        self.inflight_lease_s = inflight_lease_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(self._SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def claim(self, key: str, backend: str, text_sha256: str) -> Claim:
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM sms_ledger WHERE key = ?", (key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO sms_ledger (key, state, backend, text_sha256, attempts,"
                    " created_at, updated_at) VALUES (?, 'sending', ?, ?, 1, ?, ?)",
                    (key, backend, text_sha256, now, now),
                )
                return Claim("send", backend=backend, attempts=1)
            if row["text_sha256"] != text_sha256:
                log.warning("SMS key %s reused for a different text", key)
            if row["state"] == "sent":
                return Claim("sent", row["message_id"], row["backend"], row["attempts"])
            if row["state"] == "failed":
                conn.execute(
                    "UPDATE sms_ledger SET state = 'sending', backend = ?, text_sha256 = ?,"
                    " attempts = attempts + 1, updated_at = ? WHERE key = ?",
                    (backend, text_sha256, now, key),
                )
                return Claim("send", backend=backend, attempts=row["attempts"] + 1)
            if row["state"] == "sending" and now - row["updated_at"] < self.inflight_lease_s:
                return Claim("in_flight", backend=row["backend"], attempts=row["attempts"])
            return Claim("uncertain", backend=row["backend"], attempts=row["attempts"])

    def take_over(self, key: str, attempts: int, backend: str) -> bool:
        """After an uncertain outcome proved to be "not sent": claim the key again unless
        another attempt did so first (compare-and-set on the attempt count)."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE sms_ledger SET state = 'sending', backend = ?, attempts = attempts + 1,"
                " updated_at = ? WHERE key = ? AND attempts = ?"
                " AND state IN ('sending', 'unknown')",
                (backend, time.time(), key, attempts),
            )
            return cur.rowcount == 1

    def _set(self, key: str, state: str, message_id: str | None, error: str | None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE sms_ledger SET state = ?, message_id = COALESCE(?, message_id),"
                " last_error = ?, updated_at = ? WHERE key = ?",
                (state, message_id, error, time.time(), key),
            )

    def mark_sent(self, key: str, message_id: str) -> None:
        self._set(key, "sent", message_id, None)

    def mark_failed(self, key: str, error: str) -> None:
        self._set(key, "failed", None, error[:500])

    def mark_unknown(self, key: str, error: str) -> None:
        self._set(key, "unknown", None, error[:500])

    def get(self, key: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM sms_ledger WHERE key = ?", (key,)).fetchone()
        return dict(row) if row is not None else None


# --------------------------------------------------------------------------- activity


class SmsActivities:
    def __init__(
        self,
        backend: SmsBackend,
        templates_dir: Path,
        ledger_path: Path,
        service_name: str,
        agent_phone: str,
        max_segments: int = 3,
        *,
        inflight_lease_s: float = 90.0,
        phone_key_secret: bytes | None = None,
        metrics: StepMetrics | None = None,
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        # None: results carry no phone key, and no reply can find its case.
        self.phone_key_secret = phone_key_secret
        self.templates_dir = Path(templates_dir)
        self.ledger = SmsLedger(ledger_path, inflight_lease_s)
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
        message_id, backend, duplicate = self._deliver(inp.idempotency_key, to, text)
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
            phone_key=phone_key(to, self.phone_key_secret) if self.phone_key_secret else "",
        )

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

    def _deliver(self, key: str, to: str, text: str) -> tuple[str, str, bool]:
        """(message id, backend name, duplicate)."""
        backend = self.backend.name
        digest = hashlib.sha256(text.encode()).hexdigest()
        claim = self.ledger.claim(key, backend, digest)
        if claim.action == "sent":
            return claim.message_id, claim.backend, True
        if claim.action == "in_flight":
            raise SmsInFlightError("un envoi précédent de ce SMS est peut-être encore en cours")
        if claim.action == "uncertain":
            found = self._reconcile(key, to, text)
            if found is not None:
                self.ledger.mark_sent(key, found)
                return found, backend, True
            if not self.ledger.take_over(key, claim.attempts, backend):
                raise SmsInFlightError("un autre essai vient de reprendre cet envoi")
        return self._send(key, to, text), backend, False

    def _reconcile(self, key: str, to: str, text: str) -> str | None:
        if not isinstance(self.backend, ReconcilableBackend):
            raise ApplicationError(
                "Envoi précédent d'issue inconnue et fournisseur sans recherche : "
                "vérifier avant de renvoyer",
                type=SMS_UNCERTAIN,
                non_retryable=True,
            )
        try:
            return self.backend.find(to, text, key)
        except (SmsRejectedError, SmsConfigError) as err:
            raise ApplicationError(
                f"Envoi précédent d'issue inconnue, vérification impossible : {err}",
                type=SMS_UNCERTAIN,
                non_retryable=True,
            ) from None

    def _send(self, key: str, to: str, text: str) -> str:
        try:
            message_id = self.backend.send(to, text, key)
        except SmsRejectedError as err:
            self._count_failed()
            self.ledger.mark_failed(key, str(err))
            raise ApplicationError(str(err), type=SMS_REJECTED, non_retryable=True) from None
        except SmsConfigError as err:
            self._count_failed()
            self.ledger.mark_failed(key, str(err))
            raise ApplicationError(str(err), type=CONFIG_ERROR, non_retryable=True) from None
        except SmsNotSentError as err:
            self._count_failed()
            self.ledger.mark_failed(key, str(err))
            raise
        except BaseException as err:
            self._count_failed()
            # Anything else (a timeout, a bug, a cancellation) may have happened after the
            # request left: never assume "not sent".
            self.ledger.mark_unknown(key, _redact(f"{type(err).__name__}: {err}"))
            raise
        self.ledger.mark_sent(key, message_id)
        return message_id

    def _count_failed(self) -> None:
        # Every failed attempt at the provider counts (a retried one again).
        if self.metrics is not None:
            self.metrics.sms_event("failed")
