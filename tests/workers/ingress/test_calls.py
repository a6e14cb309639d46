"""GET /calls/{call_id} (workers/ingress/routes/calls.py, call_status.py): public without
personal data, the outcome for a signed request."""

from __future__ import annotations

import time
import uuid

import httpx

from domain import names
from domain.webhook_signature import signed_headers
from tests.workers.ingress.support import CALLER, SECRET, multipart, now_iso, post, wav_bytes


async def test_call_status_public_and_signed(api: httpx.AsyncClient) -> None:
    call_id = f"vm-{uuid.uuid4().hex[:10]}"
    fields = {"call_id": call_id, "caller_id": CALLER, "received_at": now_iso()}
    body, kind = multipart(fields, wav_bytes())
    assert (await post(api, "/voicemails", body, kind)).status_code == 202

    public = await api.get(f"/calls/{call_id}")
    assert public.status_code == 200
    assert public.json() == {
        "call_id": call_id,
        "kind": "voicemail",
        "status": public.json()["status"],
        "running": True,
    }
    path = f"/calls/{call_id}"
    headers = signed_headers(SECRET.encode(), b"", time.time(), method="GET", path=path)
    signed = await api.get(path, headers=headers)
    assert signed.status_code == 200
    assert signed.json()["detail"]["workflow_id"] == names.voicemail_workflow_id(call_id)
    # Polling is a read: the same signed GET again is answered.
    assert (await api.get(path, headers=headers)).status_code == 200
    # A GET signed for one call id is no key to another (v1 signed only the empty body).
    other = await api.get("/calls/c-someone-else", headers=headers)
    assert other.status_code == 401 and other.json()["detail"] == "signature invalide"
    bad = await api.get(
        path, headers=signed_headers(b"nope", b"", time.time(), method="GET", path=path)
    )
    assert bad.status_code == 401
    assert (await api.get("/calls/unknown-call-0000")).status_code == 404
    assert (await api.get("/calls/%27%20OR%201%3D1")).status_code == 422
