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

The package: this app factory; auth.py (the signature as a dependency), body.py (size, media
type, content), schemas.py (the models), audio.py (format, storage, `audio_url` fetch),
call_status.py (the Temporal lookups of GET /calls), routes/ (one module per resource),
openapi.py (the spec's hand-written parts), serving.py (uvicorn, the start-up check).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.service import RPCError

from workers.ingress.deps import IngressDeps
from workers.ingress.errors import IngressError
from workers.ingress.openapi import API_DESCRIPTION, install_openapi
from workers.ingress.routes import ROUTERS
from workers.settings import Settings

log = logging.getLogger(__name__)


def make_app(
    settings: Settings,
    *,
    client: Client | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    app = FastAPI(
        title="encombot — ingress téléphonie",
        version="1",
        description=API_DESCRIPTION,
    )
    app.state.deps = IngressDeps(settings, client, clock)

    @app.exception_handler(IngressError)
    async def _ingress_error(_request: Request, exc: IngressError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RPCError)
    async def _temporal_error(_request: Request, exc: RPCError) -> JSONResponse:
        log.warning("Temporal error: %s", exc.status.name if exc.status else "?")
        return JSONResponse(
            {"detail": "Temporal indisponible"}, status_code=503, headers={"Retry-After": "10"}
        )

    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    return app
