"""The content checks (workers/ingress/body.py, schemas.py): media type, then content, with
the reasons and never the input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from tests.workers.ingress.support import missed, multipart, post


async def test_wrong_media_type_is_415(api: httpx.AsyncClient) -> None:
    body = json.dumps(missed()).encode()
    assert (await post(api, "/missed-calls", body, "text/plain")).status_code == 415
    assert (await post(api, "/sms/incoming", body, "application/xml")).status_code == 415
    assert (await post(api, "/voicemails", body, "audio/wav")).status_code == 415
    # Not audio at all: refused by its first bytes, whatever the part's type says.
    fields = {k: str(v) for k, v in missed().items()}
    body, kind = multipart(fields, b"%PDF-1.7 not a recording", "vm.wav")
    response = await post(api, "/voicemails", body, kind)
    assert response.status_code == 415
    assert "format audio" in response.json()["detail"]


async def test_malformed_is_422_with_reasons_and_no_echo(api: httpx.AsyncClient) -> None:
    bad_json = await post(api, "/missed-calls", b"{not json", "application/json")
    assert bad_json.status_code == 422 and bad_json.json()["detail"] == "JSON invalide"
    assert (await post(api, "/missed-calls", b"[1, 2]")).status_code == 422

    response = await post(
        api,
        "/missed-calls",
        {"call_id": "../../etc/passwd", "caller_id": "06 11 22 33 4X", "received_at": "hier"},
    )
    assert response.status_code == 422
    reasons = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert set(reasons) == {("call_id",), ("caller_id",), ("received_at",)}
    assert "illisible" in reasons[("caller_id",)]
    # The input is never echoed back (it may be a number or a message).
    assert "06 11 22 33" not in response.text and "passwd" not in response.text

    naive = await post(api, "/missed-calls", {**missed(), "received_at": "2026-11-28T19:00:00"})
    assert naive.status_code == 422
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert (
        await post(api, "/missed-calls", {**missed(), "received_at": future})
    ).status_code == 422

    fields = {k: str(v) for k, v in missed().items()}
    body, kind = multipart(fields, None)
    no_audio = await post(api, "/voicemails", body, kind)
    assert no_audio.status_code == 422
    assert no_audio.json()["detail"][0]["loc"] == ["body", "audio"]
    body, kind = multipart(fields, b"")
    assert (await post(api, "/voicemails", body, kind)).status_code == 422
    broken = await post(api, "/voicemails", b"--nope\r\n", "multipart/form-data; boundary=xyz")
    assert broken.status_code == 422
