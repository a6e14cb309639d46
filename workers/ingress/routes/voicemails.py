"""POST /voicemails: a voicemail, as a multipart upload or as JSON with an `audio_url`; its
audio is stored under `Settings.audio_dir` and VoicemailWorkflow started, once per call id."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.audio_store.s3 import AudioStoreError
from domain import names
from domain.missed_call import caller_e164
from workers.ingress.audio import check_audio, fetch_audio
from workers.ingress.auth import SignedUploadBody
from workers.ingress.body import parse_json, parse_multipart, require_media
from workers.ingress.deps import Deps
from workers.ingress.errors import IngressError
from workers.ingress.openapi import (
    json_schema,
    responses,
    signed_body,
    voicemail_multipart_schema,
)
from workers.ingress.schemas import AcceptedResponse, CallFields, VoicemailUrlRequest

log = logging.getLogger(__name__)

router = APIRouter()


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def _accepted(call_id: str, workflow_id: str, *, created: bool) -> JSONResponse:
    accepted = AcceptedResponse.for_call(call_id, workflow_id, created=created)
    return JSONResponse(accepted.model_dump(), status_code=202)


@router.post(
    "/voicemails",
    status_code=202,
    response_model=None,
    responses=responses(202, AcceptedResponse, 401, 408, 409, 413, 415, 422, 502, 503),
    openapi_extra=signed_body(
        ("multipart/form-data", voicemail_multipart_schema()),
        ("application/json", json_schema(VoicemailUrlRequest)),
    ),
    summary="Un message vocal",
)
async def post_voicemail(request: Request, deps: Deps, body: SignedUploadBody) -> JSONResponse:
    kind = require_media(request, "multipart/form-data", "application/json")
    req: CallFields
    data = b""
    url = ""
    if kind == "application/json":
        url_req: VoicemailUrlRequest = parse_json(body, VoicemailUrlRequest)
        req, url = url_req, url_req.audio_url
    else:
        req, data = await parse_multipart(request, body)
        check_audio(data)
    from workers.client import submit_voicemail

    settings = deps.settings
    client = await deps.temporal()
    workflow_id = names.voicemail_workflow_id(req.call_id)
    if await _exists(client, workflow_id):
        log.info("voicemail %s: already submitted (%s)", req.call_id, workflow_id)
        return _accepted(req.call_id, workflow_id, created=False)
    refused = ""
    if url:
        try:
            data = await fetch_audio(url, settings.ingress)
        except IngressError as err:
            if err.status != 422:
                raise  # unreachable or too slow: the PBX may retry
            # Refused (address, port, redirect, size…): retrying cannot help, and the caller's
            # message must not be lost: a person calls back (reason code, never the URL).
            refused = err.reason or "refused"
    ref = ""
    if not refused:
        ref = await _store(deps, req.call_id, data)
    handle, started = await submit_voicemail(
        client,
        settings,
        call_id=req.call_id,
        audio_path=ref,
        caller_number=caller_e164(req.caller_id) or "",
        received_at=req.received_at,
        audio_refused=refused,
    )
    if refused:
        log.warning("voicemail %s: audio_url refused (%s), escalated", req.call_id, refused)
    outcome = "started" if started else "exists"
    log.info("voicemail %s: %s (%s)", req.call_id, outcome, handle.id)
    return _accepted(req.call_id, handle.id, created=started)


async def _store(deps: Deps, call_id: str, data: bytes) -> str:
    extension = check_audio(data)
    try:
        return await asyncio.to_thread(deps.audio_store().put, call_id, data, extension)
    except (OSError, AudioStoreError) as err:  # a full disk, an object store out of reach
        log.warning("voicemail %s: audio not stored (%s)", call_id, type(err).__name__)
        raise IngressError(
            503, "stockage audio indisponible, réessayez", {"Retry-After": "30"}
        ) from None
