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
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from workers.ingress.deps import IngressDeps
from workers.ingress.errors import IngressError
from workers.ingress.openapi import API_DESCRIPTION, install_openapi
from workers.ingress.routes import ROUTERS
from workers.metrics import Metrics
from workers.settings import Settings

log = logging.getLogger(__name__)


def make_app(
    settings: Settings,
    *,
    client: Client | None = None,
    clock: Callable[[], float] = time.time,
    metrics: Metrics | None = None,
    runtime: Runtime | None = None,
) -> FastAPI:
    app = FastAPI(
        title="encombot — ingress téléphonie",
        version="1",
        description=API_DESCRIPTION,
    )
    from workers.site_config import require_shared_database

    require_shared_database(
        settings,
        settings.ingress.replay_cache_url or settings.booking.database_url,
        "cache anti-rejeu des webhooks",
    )
    app.state.deps = IngressDeps(settings, client, clock, runtime=runtime)

    @app.exception_handler(IngressError)
    async def _ingress_error(_request: Request, exc: IngressError) -> JSONResponse:
        if metrics is not None and (exc.status == 401 or exc.reason == "replayed"):
            metrics.signature_failure(exc.reason or "invalid")
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
    if metrics is not None:
        app.add_middleware(CountRequests, metrics=metrics)
    return app


class CountRequests:
    """`encombot_ingress_requests_total{route, status}`: the route as its template
    (`/calls/{call_id}`, never the id), "unmatched" for paths no route serves. Plain ASGI, so
    the body still streams to the routes untouched."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers if the app raises before a response

        async def send_counted(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.ingress_request(route, status)
