"""The signature dependency (workers/ingress/auth.py): missing, wrong, tampered or stale
signatures, secret rotation, and the size limit checked before the body is read."""

from __future__ import annotations

import json
import time

import httpx

from domain.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from tests.workers.ingress.support import OLD_SECRET, SECRET, missed, multipart, post, wav_bytes


async def test_missing_wrong_or_tampered_signature_is_401(api: httpx.AsyncClient) -> None:
    body = json.dumps(missed()).encode()
    unsigned = await post(api, "/missed-calls", body, secret=None)
    assert unsigned.status_code == 401
    assert unsigned.json()["detail"] == "signature manquante"
    assert "HMAC-SHA256" in unsigned.headers["www-authenticate"]

    wrong = await post(api, "/missed-calls", body, secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["detail"] == "signature invalide"

    headers = {"Content-Type": "application/json"} | signed_headers(
        SECRET.encode(), body, time.time(), method="POST", path="/missed-calls"
    )
    tampered = await api.post(
        "/missed-calls", content=body.replace(b"+336", b"+337"), headers=headers
    )
    assert tampered.status_code == 401

    garbled = await api.post(
        "/missed-calls",
        content=body,
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: "yesterday",
            SIGNATURE_HEADER: "v1=00",
        },
    )
    assert garbled.status_code == 401


async def test_stale_or_future_timestamp_is_401(api: httpx.AsyncClient) -> None:
    for skew in (-301, 301, -86_400):
        response = await post(api, "/missed-calls", missed(), at=time.time() + skew)
        assert response.status_code == 401, skew
        assert "périmée" in response.json()["detail"]


async def test_previous_secret_still_accepted_during_rotation(api: httpx.AsyncClient) -> None:
    response = await post(api, "/missed-calls", missed(), secret=OLD_SECRET)
    assert response.status_code == 202, response.text


async def test_too_large_is_413_before_anything_else(api: httpx.AsyncClient) -> None:
    big = {**missed(), "padding": "x" * 9000}
    # Unsigned: refused on its headers, before its body is read.
    assert (await post(api, "/missed-calls", big, secret=None)).status_code == 401
    assert (await post(api, "/missed-calls", big)).status_code == 413
    fields = {k: str(v) for k, v in missed().items()}
    body, kind = multipart(fields, wav_bytes(20.0))  # 320 KB > 256 KB
    assert (await post(api, "/voicemails", body, kind)).status_code == 413
