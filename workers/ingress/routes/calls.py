"""GET /calls/{call_id}: where a call stands; public without personal data, the outcome too
for a signed request."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from workers.ingress.auth import signed_if_present
from workers.ingress.call_status import call_status
from workers.ingress.deps import Deps
from workers.ingress.errors import IngressError
from workers.ingress.openapi import responses
from workers.ingress.ratelimit import client_ip
from workers.ingress.schemas import CALL_ID_PATTERN, CallStatusResponse

router = APIRouter()


@router.get(
    "/calls/{call_id}",
    response_model=None,
    responses=responses(200, CallStatusResponse, 401, 404, 408, 422, 429, 503),
    openapi_extra={"security": [{}, {"timestamp": [], "signature": []}]},
    summary="Où en est un appel",
)
async def get_call(
    request: Request,
    deps: Deps,
    call_id: str = PathParam(pattern=CALL_ID_PATTERN, max_length=128),
) -> JSONResponse:
    # Checked here, not as a dependency: dependencies run before the path is validated, and a
    # malformed call id is a 422 whatever the signature.
    cfg = deps.settings.ingress
    if not deps.rate_limiter().allow(client_ip(request, cfg.forwarded_allow_ips), deps.clock()):
        raise IngressError(429, "trop de requêtes, réessayer plus tard", {"Retry-After": "5"})
    authed = await signed_if_present(request, deps)
    client = await deps.temporal()
    index = deps.call_index()
    found = await call_status(
        client,
        call_id,
        authed,
        lambda call: asyncio.to_thread(index.lookup, call),
        visibility_fallback=cfg.calls_visibility_fallback,
    )
    if found is None:
        raise IngressError(404, "appel inconnu")
    return JSONResponse(found.model_dump(exclude_none=True))
