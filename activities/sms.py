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
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import jinja2
import ovh
import requests
import urllib3
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import names
from domain.errors import (
    CONFIG_ERROR,
    SMS_NOT_MOBILE,
    SMS_REJECTED,
    SMS_TOO_LONG,
    SMS_UNCERTAIN,
    TEMPLATE_ERROR,
)
from domain.models import NotifyInput, NotifyResult
from domain.phone import is_mobile_fr, to_e164
from domain.sms import fit, is_gsm7, normalise_whitespace, sms_info
from workers.settings import OvhSettings, SmsSettings

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
    retryable, and the retry sends."""


class SmsUncertainError(SmsBackendError):
    """Transient failure after which the message may have left (read timeout, cut
    connection): retryable, and the retry first asks the provider."""


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


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class OutboxBackend:
    """One JSON line per SMS in a local file: {"id", "to", "text", "key", "at"}.

    Appends take a thread lock and an flock, so worker threads and processes sharing the file
    never interleave lines; each line is fsynced, so `find` sees every message `send`
    returned for, even after a crash."""

    name = "outbox"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        message_id = f"outbox-{uuid.uuid4().hex[:16]}"
        record = {"id": message_id, "to": to, "text": text, "key": idempotency_key}
        line = json.dumps({**record, "at": _now_iso()}, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return message_id

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._lock, open(self.path, encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            lines = handle.read().splitlines()
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):  # a torn last line after a disk-full crash
                out.append(json.loads(line))
        return out

    def find(self, to: str, text: str, idempotency_key: str) -> str | None:
        for message in reversed(self.messages()):
            if message.get("key") == idempotency_key:
                return str(message["id"])
        return None


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
    connections. The consumer key needs POST /sms/*/jobs, and GET /sms/*/outgoing and
    GET /sms/*/jobs* for `find`."""

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


def build_sms_backend(sms_settings: SmsSettings) -> SmsBackend:
    if sms_settings.backend == "ovh":
        return OvhBackend(sms_settings.ovh)
    return OutboxBackend(sms_settings.outbox_path)


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
    ) -> None:
        self.backend = backend
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
        )

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
            self.ledger.mark_failed(key, str(err))
            raise ApplicationError(str(err), type=SMS_REJECTED, non_retryable=True) from None
        except SmsConfigError as err:
            self.ledger.mark_failed(key, str(err))
            raise ApplicationError(str(err), type=CONFIG_ERROR, non_retryable=True) from None
        except SmsNotSentError as err:
            self.ledger.mark_failed(key, str(err))
            raise
        except BaseException as err:
            # Anything else (a timeout, a bug, a cancellation) may have happened after the
            # request left: never assume "not sent".
            self.ledger.mark_unknown(key, _redact(f"{type(err).__name__}: {err}"))
            raise
        self.ledger.mark_sent(key, message_id)
        return message_id
