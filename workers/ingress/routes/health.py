"""GET /health: the ingress and its Temporal connection."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from workers.ingress.deps import Deps
from workers.ingress.schemas import HealthResponse

router = APIRouter()


@router.get(
    "/health",
    response_model=None,
    responses={
        200: {"model": HealthResponse, "description": "En service"},
        503: {"model": HealthResponse, "description": "Temporal injoignable"},
    },
    summary="État du service",
)
async def health(deps: Deps) -> JSONResponse:
    try:
        client = await deps.temporal()
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
    except Exception:
        return JSONResponse(
            HealthResponse(status="unavailable", temporal="unreachable").model_dump(),
            status_code=503,
        )
    return JSONResponse(HealthResponse(status="ok", temporal="ok").model_dump())
