"""`encombot serve`: the telephony ingress, an HTTP API (FastAPI, OpenAPI at /openapi.json and
/docs) between the telephony platform and Temporal.

    POST /voicemails      a voicemail: multipart upload, or JSON with an `audio_url` fetched
                          from an allow-listed host; starts VoicemailWorkflow
    POST /missed-calls    a call nobody answered; MissedCallWorkflow (signal-with-start: the
                          calls of one number join one case)
    POST /sms/incoming    an SMS from a caller (webhook mode of the 2-way SMS); routed like
                          the poller does (activities/sms_inbox.py)
    GET  /calls/{call_id} where a call stands; the public answer holds no personal data, a
                          signed request gets the outcome too
    GET  /health          the ingress and its Temporal connection

Every POST is signed (domain/webhook_signature.py): HMAC-SHA256 over the timestamp and the raw
body with the shared secret (`ENCOMBOT_INGRESS__SECRET`), within a replay window. Checks run
in this order: size (413), signature and freshness (401), media type (415), content (422 with
the reasons, never echoing the input). Idempotent by call id: a retried webhook gets the same
workflow back. Uploaded audio is stored under `Settings.audio_dir` with a name derived from
the call id, never from anything the client sent.

Logs hold call ids, workflow ids and outcomes only: no number, no text, no address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import urllib.parse
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import (
    SearchAttributeKey,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import names
from domain.missed_call import caller_e164, is_withheld
from domain.missed_call_models import (
    MISSED_CALL_SIGNAL,
    MISSED_CALL_WORKFLOW,
    SA_CALL_IDS,
    MissedCallInput,
    MissedCallResult,
    MissedCallSignal,
    missed_call_workflow_id,
    withheld_call_workflow_id,
)
from domain.models import VoicemailResult
from domain.phone import phone_key, to_e164
from domain.sms_models import IncomingSms
from domain.webhook_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)
from workers.settings import Settings

log = logging.getLogger(__name__)

CALL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MAX_SMS_CHARS = 2000
# Memo key written by MissedCallWorkflow when the caller's reply went to the text channel.
_MEMO_HANDED_OVER_TO = "handed_over_to"
_AUTH_CHALLENGE = {"WWW-Authenticate": 'HMAC-SHA256 realm="encombot"'}
# Telephony clocks drift; a call "received" further in the future is a client bug.
_MAX_CLOCK_AHEAD = timedelta(days=1)
_OLDEST_YEAR = 2000


class IngressError(Exception):
    def __init__(
        self, status: int, detail: str | list[dict[str, Any]], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail if isinstance(detail, str) else "invalid request")
        self.status = status
        self.detail = detail
        self.headers = headers or {}


# --------------------------------------------------------------------------- request models


def _check_caller_id(value: str) -> str:
    if not is_withheld(value) and to_e164(value) is None:
        raise ValueError("numéro de l'appelant illisible (E.164 attendu, ou vide si masqué)")
    return value


def _check_received_at(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("date hors limites") from None
    if utc.year < _OLDEST_YEAR:
        raise ValueError(f"date antérieure à {_OLDEST_YEAR}")
    if utc > datetime.now(UTC) + _MAX_CLOCK_AHEAD:
        raise ValueError("date dans le futur")
    return utc


class _CallFields(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    call_id: str = Field(
        pattern=CALL_ID_PATTERN,
        description="Identifiant de l'appel chez l'opérateur : clé d'idempotence.",
        examples=["c-20261128-190012-0042"],
    )
    caller_id: str = Field(
        max_length=40,
        description="Numéro de l'appelant (E.164 de préférence) ; vide ou `anonymous` si masqué.",
        examples=["+33612345678"],
    )
    received_at: AwareDatetime = Field(
        description="Heure de l'appel, ISO 8601 avec fuseau.",
        examples=["2026-11-28T19:00:12+01:00"],
    )

    _caller = field_validator("caller_id")(_check_caller_id)
    _received = field_validator("received_at")(_check_received_at)


class MissedCallRequest(_CallFields):
    """A call nobody answered (no message left)."""


class VoicemailFields(_CallFields):
    """The text fields of a multipart voicemail upload (the file is the `audio` part)."""


class VoicemailUrlRequest(_CallFields):
    """A voicemail whose audio the ingress fetches (allow-listed hosts only)."""

    audio_url: str = Field(
        min_length=1,
        max_length=2048,
        description=(
            "URL de l'enregistrement, sur un hôte autorisé (ENCOMBOT_INGRESS__AUDIO_URL_HOSTS)."
        ),
        examples=["https://telephonie.example.fr/vm/c-20261128-190012-0042.wav"],
    )


class IncomingSmsRequest(BaseModel):
    """An SMS sent by a caller to the service's number."""

    model_config = ConfigDict(extra="ignore")

    message_id: str = Field(
        pattern=CALL_ID_PATTERN,
        description="Identifiant du message chez l'opérateur : clé d'idempotence.",
        examples=["sms-889231"],
    )
    sender: str = Field(min_length=1, max_length=40, examples=["+33612345678"])
    text: str = Field(max_length=MAX_SMS_CHARS, examples=["12 rue Paradis 13001, un canapé"])
    received_at: AwareDatetime | None = Field(default=None, examples=["2026-11-28T19:05:00+01:00"])

    _received = field_validator("received_at")(
        lambda v: None if v is None else _check_received_at(v)
    )


# --------------------------------------------------------------------------- response models


class AcceptedResponse(BaseModel):
    call_id: str
    workflow_id: str
    # False: a retried webhook, the existing workflow is returned. None: not known
    # (signal-with-start joins or starts a missed-call case).
    created: bool | None = None
    status_url: str


class SmsAcceptedResponse(BaseModel):
    message_id: str
    outcome: str  # "routed" | "kept_for_agent"
    workflow_id: str


class CallStatusResponse(BaseModel):
    call_id: str
    kind: str  # "voicemail" | "missed_call"
    status: str  # EncombotStatus: received, waiting_reply, waiting_agent, booked...
    running: bool
    # Signed requests only: the outcome (booking reference, pickup date, sector, reasons).
    detail: dict[str, Any] | None = None


class HealthResponse(BaseModel):
    status: str
    temporal: str


class ErrorResponse(BaseModel):
    detail: str | list[dict[str, Any]]


def _errors(err: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the input (it may hold a number or a text)."""
    return [
        {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in err.errors(include_url=False, include_input=False, include_context=False)
    ]


# --------------------------------------------------------------------------- audio


def audio_extension(head: bytes) -> str | None:
    """File extension from the first bytes (magic numbers); None when no known audio."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:5] == b"#!AMR":
        return ".amr"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    return None


def audio_file_name(call_id: str, extension: str) -> str:
    """Derived from the call id only: a retried upload lands on the same file, and nothing
    the client sends (file name, path) ever reaches the file system."""
    digest = hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:32]
    return f"vm-{digest}{extension}"


def store_audio(audio_dir: Path, call_id: str, data: bytes, extension: str) -> Path:
    """Write atomically (temporary file, fsync, link); an existing file (a retry) is kept."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    path = audio_dir / audio_file_name(call_id, extension)
    if path.exists():
        return path
    tmp = audio_dir / f".{path.name}.{uuid.uuid4().hex}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # A concurrent retry of the same call may have written it first: keep theirs.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _check_audio(data: bytes) -> str:
    if not data:
        raise IngressError(422, "fichier audio vide")
    extension = audio_extension(data[:16])
    if extension is None:
        raise IngressError(415, "format audio non reconnu (WAV, MP3, OGG, FLAC, AMR, M4A, WebM)")
    return extension


# --------------------------------------------------------------------------- the app


@dataclass
class IngressDeps:
    settings: Settings
    client: Client | None = None
    clock: Callable[[], float] = time.time
    _phone_secret: bytes | None = None
    _lock: asyncio.Lock | None = None

    async def temporal(self) -> Client:
        if self.client is not None:
            return self.client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.client is None:
                from workers.client import connect

                try:
                    self.client = await asyncio.wait_for(
                        connect(self.settings, starting_timeout_s=5.0), timeout=10
                    )
                except Exception as err:
                    log.warning("Temporal unreachable: %s", type(err).__name__)
                    raise IngressError(
                        503, "Temporal indisponible", {"Retry-After": "10"}
                    ) from None
        return self.client

    def phone_secret(self) -> bytes:
        if self._phone_secret is None:
            from activities.messaging.phone_keys import phone_key_secret

            self._phone_secret = phone_key_secret(self.settings.sms, self.settings.data_dir)
        return self._phone_secret

    def secrets(self) -> list[bytes]:
        cfg = self.settings.ingress
        return [
            s.get_secret_value().encode("utf-8")
            for s in (cfg.secret, *cfg.previous_secrets)
            if s.get_secret_value()
        ]


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def _voicemail_multipart_schema() -> dict[str, Any]:
    fields = _json_schema(VoicemailFields)
    return {
        "type": "object",
        "required": [*fields.get("required", []), "audio"],
        "properties": {
            **fields["properties"],
            "audio": {
                "type": "string",
                "format": "binary",
                "description": "L'enregistrement (WAV, MP3, OGG, FLAC, AMR, M4A ou WebM).",
            },
        },
    }


def _body(*content: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {media: {"schema": schema} for media, schema in content},
        },
        "security": [{"timestamp": [], "signature": []}],
    }


def _responses(ok: int, model: type[BaseModel], *errors: int) -> dict[int | str, Any]:
    why = {
        401: "Signature absente, invalide ou périmée",
        404: "Appel inconnu",
        413: "Corps trop volumineux",
        415: "Type de contenu non pris en charge",
        422: "Contenu invalide (raisons dans `detail`)",
        502: "Audio distant injoignable",
        503: "Temporal indisponible",
    }
    out: dict[int | str, Any] = {ok: {"model": model, "description": "Accepté"}}
    for code in errors:
        out[code] = {"model": ErrorResponse, "description": why[code]}
    return out


API_DESCRIPTION = f"""Webhooks de la téléphonie vers encombot (Temporal).

**Signature** (toutes les requêtes POST ; GET /calls pour le détail) : en-têtes
`{TIMESTAMP_HEADER}` (secondes Unix) et `{SIGNATURE_HEADER}: v1=<hex>` où `<hex>` est
HMAC-SHA256(secret partagé, "<horodatage>." + corps brut). Hors de la fenêtre de rejeu : 401.

**Idempotence** : par `call_id` (et `message_id` pour les SMS) ; un webhook rejoué renvoie le
même workflow.
"""


def make_app(
    settings: Settings,
    *,
    client: Client | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    deps = IngressDeps(settings, client, clock)
    cfg = settings.ingress

    app = FastAPI(
        title="encombot — ingress téléphonie",
        version="1",
        description=API_DESCRIPTION,
    )
    app.state.deps = deps

    @app.exception_handler(IngressError)
    async def _ingress_error(_request: Request, exc: IngressError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RPCError)
    async def _temporal_error(_request: Request, exc: RPCError) -> JSONResponse:
        log.warning("Temporal error: %s", exc.status.name if exc.status else "?")
        return JSONResponse(
            {"detail": "Temporal indisponible"}, status_code=503, headers={"Retry-After": "10"}
        )

    # ----------------------------------------------------------------- helpers

    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise IngressError(413, f"corps trop volumineux ({limit} octets au plus)")
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise IngressError(413, f"corps trop volumineux ({limit} octets au plus)")
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(request: Request, body: bytes) -> None:
        try:
            verify(
                deps.secrets(),
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                body,
                now=deps.clock(),
                window_s=cfg.replay_window_s,
            )
        except SignatureError as err:
            raise IngressError(401, str(err), _AUTH_CHALLENGE) from None

    def media_type(request: Request) -> str:
        return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def require_media(request: Request, *accepted: str) -> str:
        kind = media_type(request)
        if kind not in accepted:
            raise IngressError(415, f"type de contenu attendu : {' ou '.join(accepted)}")
        return kind

    def parse_json(body: bytes, model: type[BaseModel]) -> Any:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise IngressError(422, "JSON invalide") from None
        if not isinstance(data, dict):
            raise IngressError(422, "un objet JSON est attendu")
        try:
            return model.model_validate(data)
        except ValidationError as err:
            raise IngressError(422, _errors(err)) from None

    async def signed(request: Request, limit: int) -> bytes:
        body = await read_body(request, limit)
        authenticate(request, body)
        return body

    # ----------------------------------------------------------------- POST /voicemails

    async def parse_multipart(request: Request, body: bytes) -> tuple[VoicemailFields, bytes]:
        async def stream() -> AsyncGenerator[bytes, None]:
            yield body

        parser = MultiPartParser(
            Headers(raw=[(b"content-type", request.headers["content-type"].encode("latin-1"))]),
            stream(),
            max_files=1,
            max_fields=8,
            max_part_size=8 * 1024,
        )
        try:
            form = await parser.parse()
        except MultiPartException as err:
            raise IngressError(422, f"multipart invalide : {err.message}") from None
        except (ValueError, KeyError):
            raise IngressError(422, "multipart invalide") from None
        try:
            audio = form.get("audio")
            if not isinstance(audio, UploadFile):
                raise IngressError(422, [_missing("audio", "fichier audio manquant")])
            values = {k: v for k, v in form.items() if isinstance(v, str)}
            try:
                fields = VoicemailFields.model_validate(values)
            except ValidationError as err:
                raise IngressError(422, _errors(err)) from None
            data = await audio.read()
        finally:
            await form.close()
        return fields, data

    async def fetch_audio(url: str) -> bytes:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:
            raise IngressError(422, "audio_url invalide") from None
        host = (parts.hostname or "").lower()
        allowed = {h.strip().lower() for h in cfg.audio_url_hosts if h.strip()}
        if parts.scheme.lower() not in {s.lower() for s in cfg.audio_url_schemes}:
            raise IngressError(422, "audio_url : schéma non autorisé")
        if not host or (host not in allowed and f"{host}:{port}" not in allowed):
            raise IngressError(422, "audio_url : hôte non autorisé")
        if parts.username or parts.password:
            raise IngressError(422, "audio_url : identifiants interdits dans l'URL")
        data = bytearray()
        try:
            async with (
                httpx.AsyncClient(
                    follow_redirects=False, timeout=cfg.audio_fetch_timeout_s, trust_env=False
                ) as http,
                http.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise IngressError(
                        422, f"audio_url : réponse HTTP {response.status_code} de l'hôte"
                    )
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > cfg.max_body_bytes:
                        raise IngressError(422, "audio_url : enregistrement trop volumineux")
        except httpx.HTTPError as err:
            log.warning("audio fetch failed: %s", type(err).__name__)
            raise IngressError(502, "audio_url : hôte injoignable") from None
        return bytes(data)

    @app.post(
        "/voicemails",
        status_code=202,
        response_model=None,
        responses=_responses(202, AcceptedResponse, 401, 413, 415, 422, 502, 503),
        openapi_extra=_body(
            ("multipart/form-data", _voicemail_multipart_schema()),
            ("application/json", _json_schema(VoicemailUrlRequest)),
        ),
        summary="Un message vocal",
    )
    async def post_voicemail(request: Request) -> JSONResponse:
        body = await signed(request, cfg.max_body_bytes)
        kind = require_media(request, "multipart/form-data", "application/json")
        req: _CallFields
        data = b""
        url = ""
        if kind == "application/json":
            url_req: VoicemailUrlRequest = parse_json(body, VoicemailUrlRequest)
            req, url = url_req, url_req.audio_url
        else:
            req, data = await parse_multipart(request, body)
            _check_audio(data)
        from workers.client import submit_voicemail

        client = await deps.temporal()
        workflow_id = names.voicemail_workflow_id(req.call_id)
        if await _exists(client, workflow_id):
            log.info("voicemail %s: already submitted (%s)", req.call_id, workflow_id)
            return _accepted(req.call_id, workflow_id, created=False)
        if url:
            data = await fetch_audio(url)
        extension = _check_audio(data)
        path = await asyncio.to_thread(
            store_audio, settings.audio_dir, req.call_id, data, extension
        )
        handle, started = await submit_voicemail(
            client,
            settings,
            call_id=req.call_id,
            audio_path=path,
            caller_number=caller_e164(req.caller_id) or "",
            received_at=req.received_at,
        )
        outcome = "started" if started else "exists"
        log.info("voicemail %s: %s (%s)", req.call_id, outcome, handle.id)
        return _accepted(req.call_id, handle.id, created=started)

    # ----------------------------------------------------------------- POST /missed-calls

    @app.post(
        "/missed-calls",
        status_code=202,
        response_model=None,
        responses=_responses(202, AcceptedResponse, 401, 413, 415, 422, 503),
        openapi_extra=_body(("application/json", _json_schema(MissedCallRequest))),
        summary="Un appel manqué",
    )
    async def post_missed_call(request: Request) -> JSONResponse:
        body = await signed(request, cfg.max_json_bytes)
        require_media(request, "application/json")
        req: MissedCallRequest = parse_json(body, MissedCallRequest)
        client = await deps.temporal()
        handle, created = await start_missed_call(
            client,
            settings,
            deps.phone_secret,
            call_id=req.call_id,
            caller_id=req.caller_id,
            received_at=req.received_at,
        )
        log.info("missed call %s -> %s", req.call_id, handle.id)
        return _accepted(req.call_id, handle.id, created=created)

    # ----------------------------------------------------------------- POST /sms/incoming

    @app.post(
        "/sms/incoming",
        status_code=202,
        response_model=None,
        responses=_responses(202, SmsAcceptedResponse, 401, 413, 415, 422, 503),
        openapi_extra=_body(("application/json", _json_schema(IncomingSmsRequest))),
        summary="Un SMS reçu d'un appelant (mode webhook du SMS bidirectionnel)",
    )
    async def post_incoming_sms(request: Request) -> JSONResponse:
        body = await signed(request, cfg.max_json_bytes)
        require_media(request, "application/json")
        req: IncomingSmsRequest = parse_json(body, IncomingSmsRequest)
        from activities.messaging.routing import route_incoming_sms

        client = await deps.temporal()
        routed = await route_incoming_sms(
            client,
            IncomingSms(
                message_id=req.message_id,
                sender=req.sender,
                text=req.text,
                received_at=req.received_at.isoformat() if req.received_at else "",
            ),
            phone_key_secret=deps.phone_secret(),
            task_queue=settings.temporal.task_queue,
        )
        log.info("incoming SMS %s: %s (%s)", req.message_id, routed.outcome, routed.workflow_id)
        return JSONResponse(
            SmsAcceptedResponse(
                message_id=req.message_id, outcome=routed.outcome, workflow_id=routed.workflow_id
            ).model_dump(),
            status_code=202,
        )

    # ----------------------------------------------------------------- GET /calls/{id}

    @app.get(
        "/calls/{call_id}",
        response_model=None,
        responses=_responses(200, CallStatusResponse, 401, 404, 422, 503),
        openapi_extra={"security": [{}, {"timestamp": [], "signature": []}]},
        summary="Où en est un appel",
    )
    async def get_call(
        request: Request,
        call_id: str = PathParam(pattern=CALL_ID_PATTERN, max_length=128),
    ) -> JSONResponse:
        authed = False
        if request.headers.get(SIGNATURE_HEADER) or request.headers.get(TIMESTAMP_HEADER):
            authenticate(request, await read_body(request, cfg.max_json_bytes))
            authed = True
        client = await deps.temporal()
        found = await _voicemail_status(client, call_id, authed)
        if found is None:
            found = await _missed_call_status(client, call_id, authed)
        if found is None:
            raise IngressError(404, "appel inconnu")
        return JSONResponse(found.model_dump(exclude_none=True))

    # ----------------------------------------------------------------- GET /health

    @app.get(
        "/health",
        response_model=None,
        responses={
            200: {"model": HealthResponse, "description": "En service"},
            503: {"model": HealthResponse, "description": "Temporal injoignable"},
        },
        summary="État du service",
    )
    async def health() -> JSONResponse:
        try:
            client = await deps.temporal()
            await asyncio.wait_for(client.service_client.check_health(), timeout=5)
        except Exception:
            return JSONResponse(
                HealthResponse(status="unavailable", temporal="unreachable").model_dump(),
                status_code=503,
            )
        return JSONResponse(HealthResponse(status="ok", temporal="ok").model_dump())

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for model in (MissedCallRequest, VoicemailUrlRequest, IncomingSmsRequest):
            schemas.setdefault(model.__name__, _json_schema(model))
        components["securitySchemes"] = {
            "timestamp": {
                "type": "apiKey",
                "in": "header",
                "name": TIMESTAMP_HEADER,
                "description": "Heure de la requête, secondes Unix.",
            },
            "signature": {
                "type": "apiKey",
                "in": "header",
                "name": SIGNATURE_HEADER,
                "description": 'v1=hex(HMAC-SHA256(secret, "<horodatage>." + corps)).',
            },
        }
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


async def start_missed_call(
    client: Client,
    settings: Settings,
    phone_secret: Callable[[], bytes],
    *,
    call_id: str,
    caller_id: str,
    received_at: datetime,
) -> tuple[WorkflowHandle[Any, MissedCallResult], bool | None]:
    """Start the MissedCallWorkflow of a call, or join the running case of its number;
    returns (handle, created): True / False (a retried webhook) for a withheld number, None
    when signal-with-start started or joined the number's case."""
    cfg = settings.ingress
    number = caller_e164(caller_id)
    received = received_at.isoformat()
    inp = MissedCallInput(
        call_id=call_id,
        caller_number=number or "",
        received_at=received,
        reply_timeout_s=cfg.missed_call_reply_timeout_s,
        merge_window_s=cfg.missed_call_merge_window_s,
        stt_task_queue=settings.temporal.stt_task_queue,
    )
    if number is None:
        # Withheld: nothing to group calls by, one case per call id.
        workflow_id = withheld_call_workflow_id(call_id)
        try:
            handle = await client.start_workflow(
                MISSED_CALL_WORKFLOW,
                inp,
                id=workflow_id,
                task_queue=settings.temporal.task_queue,
                result_type=MissedCallResult,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary="Appel manqué (numéro masqué)",
            )
        except WorkflowAlreadyStartedError:
            return client.get_workflow_handle(workflow_id, result_type=MissedCallResult), False
        return handle, True
    # One case per number: started, or joined through the signal (a retried webhook repeats a
    # call id, which the workflow counts once).
    handle = await client.start_workflow(
        MISSED_CALL_WORKFLOW,
        inp,
        id=missed_call_workflow_id(phone_key(number, phone_secret())),
        task_queue=settings.temporal.task_queue,
        result_type=MissedCallResult,
        start_signal=MISSED_CALL_SIGNAL,
        start_signal_args=[MissedCallSignal(call_id=call_id, received_at=received)],
        static_summary="Appel manqué",
    )
    return handle, None


def _missing(field: str, msg: str) -> dict[str, Any]:
    return {"loc": ["body", field], "msg": msg, "type": "missing"}


def _accepted(call_id: str, workflow_id: str, *, created: bool | None) -> JSONResponse:
    return JSONResponse(
        AcceptedResponse(
            call_id=call_id,
            workflow_id=workflow_id,
            created=created,
            status_url=f"/calls/{call_id}",
        ).model_dump(),
        status_code=202,
    )


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower() if status is not None else "unknown"


def _keyword(desc: WorkflowExecution, name: str) -> str:
    return desc.typed_search_attributes.get(SearchAttributeKey.for_keyword(name)) or ""


async def _voicemail_status(
    client: Client, call_id: str, authed: bool
) -> CallStatusResponse | None:
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


async def _missed_call_status(
    client: Client, call_id: str, authed: bool
) -> CallStatusResponse | None:
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
    if not executions:
        return None
    execution = executions[0]
    handle = client.get_workflow_handle(
        execution.id, run_id=execution.run_id, result_type=MissedCallResult
    )
    desc = await handle.describe()
    running = desc.status == WorkflowExecutionStatus.RUNNING
    status = _keyword(desc, names.SA_STATUS) or "received"
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
    out = CallStatusResponse(
        call_id=call_id,
        kind="missed_call",
        # What the caller's request became once the reply went to the text channel.
        status=follow_status or status,
        running=running,
    )
    if authed:
        detail: dict[str, Any] = {
            "workflow_id": execution.id,
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


# --------------------------------------------------------------------------- serving


def check_settings(settings: Settings) -> None:
    """Refuse to serve without a shared secret (every POST would be refused anyway)."""
    if not settings.ingress.secret.get_secret_value():
        raise ValueError(
            "ENCOMBOT_INGRESS__SECRET est vide : définissez le secret partagé avec la téléphonie"
        )


def run_ingress(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    check_settings(settings)
    uvicorn.run(
        make_app(settings),
        host=host,
        port=port,
        log_level="info",
        access_log=False,  # the access log would hold GET /calls/<id> only; our log says more
        proxy_headers=True,
    )


class RunningIngress:
    """The ingress on 127.0.0.1 in a thread with its own event loop (tests, demo); its
    Temporal client is created in that loop on first use."""

    def __init__(self, settings: Settings, *, port: int = 0) -> None:
        import uvicorn

        self.app = make_app(settings)
        self._config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> RunningIngress:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("ingress did not start")
            time.sleep(0.02)
        sockets = self.server.servers[0].sockets
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
