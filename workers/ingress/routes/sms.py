"""POST /sms/incoming: an SMS from a caller (webhook mode of the 2-way SMS), routed as the
poller routes it (activities/sms_inbox.py)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from domain.sms_models import IncomingSms
from workers.ingress.auth import SignedJsonBody
from workers.ingress.body import parse_json, require_media
from workers.ingress.deps import Deps
from workers.ingress.openapi import json_schema, responses, signed_body
from workers.ingress.schemas import IncomingSmsRequest, SmsAcceptedResponse

log = logging.getLogger(__name__)

router = APIRouter()


@router.post(
    "/sms/incoming",
    status_code=202,
    response_model=None,
    responses=responses(202, SmsAcceptedResponse, 401, 408, 409, 413, 415, 422, 503),
    openapi_extra=signed_body(("application/json", json_schema(IncomingSmsRequest))),
    summary="Un SMS reçu d'un appelant (mode webhook du SMS bidirectionnel)",
)
async def post_incoming_sms(request: Request, deps: Deps, body: SignedJsonBody) -> JSONResponse:
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
        task_queue=deps.settings.temporal.task_queue,
        routes=await asyncio.to_thread(deps.sms_routes),
        visibility_fallback=deps.settings.sms.route_visibility_fallback,
    )
    log.info("incoming SMS %s: %s (%s)", req.message_id, routed.outcome, routed.workflow_id)
    return JSONResponse(
        SmsAcceptedResponse(
            message_id=req.message_id, outcome=routed.outcome, workflow_id=routed.workflow_id
        ).model_dump(),
        status_code=202,
    )
