"""POST /missed-calls: a call nobody answered; MissedCallWorkflow, signal-with-start, so that
the calls of one number join one case."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from workers.client import start_missed_call
from workers.ingress.auth import SignedJsonBody
from workers.ingress.body import parse_json, require_media
from workers.ingress.deps import Deps
from workers.ingress.openapi import json_schema, responses, signed_body
from workers.ingress.schemas import AcceptedResponse, MissedCallRequest

log = logging.getLogger(__name__)

router = APIRouter()


@router.post(
    "/missed-calls",
    status_code=202,
    response_model=None,
    responses=responses(202, AcceptedResponse, 401, 408, 409, 413, 415, 422, 503),
    openapi_extra=signed_body(("application/json", json_schema(MissedCallRequest))),
    summary="Un appel manqué",
)
async def post_missed_call(request: Request, deps: Deps, body: SignedJsonBody) -> JSONResponse:
    require_media(request, "application/json")
    req: MissedCallRequest = parse_json(body, MissedCallRequest)
    client = await deps.temporal()
    handle, created = await start_missed_call(
        client,
        deps.settings,
        deps.phone_secret,
        call_id=req.call_id,
        caller_id=req.caller_id,
        received_at=req.received_at,
    )
    # Where GET /calls/{call_id} will find it without a visibility query.
    run_id = handle.result_run_id or handle.run_id or ""
    await asyncio.to_thread(
        deps.call_index().record, req.call_id, handle.id, run_id, now=deps.clock()
    )
    log.info("missed call %s -> %s", req.call_id, handle.id)
    accepted = AcceptedResponse.for_call(req.call_id, handle.id, created=created)
    return JSONResponse(accepted.model_dump(), status_code=202)
