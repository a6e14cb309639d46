"""The app (workers/ingress/app.py, openapi.py, routes/health.py): its health and its spec."""

from __future__ import annotations

import httpx

from domain.webhook_signature import SIGNATURE_HEADER


async def test_health(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "temporal": "ok"}


async def test_openapi_documents_the_contract(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert set(spec["paths"]) >= {
        "/voicemails",
        "/missed-calls",
        "/sms/incoming",
        "/calls/{call_id}",
        "/health",
    }
    voicemail = spec["paths"]["/voicemails"]["post"]
    assert set(voicemail["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert set(voicemail["responses"]) >= {"202", "401", "413", "415", "422"}
    assert spec["components"]["securitySchemes"]["signature"]["name"] == SIGNATURE_HEADER
