"""Signature v2 (method, path, timestamp, body), the replay cache, v1 behind its setting, and the
body read only after the headers are authenticated, within a deadline and a bound on concurrent
reads (issue 17, defects 4 and 5)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from temporalio.client import Client

from domain.webhook_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_v1,
    signed_headers,
)
from tests.workers.ingress.support import SECRET, missed, multipart, post, wav_bytes
from workers.ingress.app import make_app
from workers.ingress.replay import ReplayCache
from workers.settings import Settings

JSON = {"Content-Type": "application/json"}


def _app(settings: Settings, client: Client, **ingress: Any) -> httpx.AsyncClient:
    changed = settings.model_copy(update={"ingress": settings.ingress.model_copy(update=ingress)})
    app = make_app(changed, client=client)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingress")


async def test_voicemail_signature_replayed_to_missed_calls_is_401(
    api: httpx.AsyncClient,
) -> None:
    # A body valid for both endpoints' JSON shape: only the path tells them apart.
    body = json.dumps(missed()).encode()
    headers = JSON | signed_headers(
        SECRET.encode(), body, time.time(), method="POST", path="/voicemails"
    )
    response = await api.post("/missed-calls", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "signature invalide"


async def test_same_signed_request_twice_second_is_refused(api: httpx.AsyncClient) -> None:
    body = json.dumps(missed()).encode()
    headers = JSON | signed_headers(
        SECRET.encode(), body, time.time(), method="POST", path="/missed-calls"
    )
    first = await api.post("/missed-calls", content=body, headers=headers)
    assert first.status_code == 202, first.text
    again = await api.post("/missed-calls", content=body, headers=headers)
    assert again.status_code == 409
    assert "rejouée" in again.json()["detail"]


async def test_v1_refused_by_default_accepted_behind_its_setting(
    client: Client, settings: Settings
) -> None:
    body = json.dumps(missed()).encode()
    ts = str(int(time.time()))
    v1 = {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"v1={signature_v1(SECRET.encode(), ts, body)}"}
    async with _app(settings, client) as api:
        refused = await api.post("/missed-calls", content=body, headers=JSON | v1)
        assert refused.status_code == 401
    async with _app(settings, client, accept_v1_signatures=True) as api:
        accepted = await api.post("/missed-calls", content=body, headers=JSON | v1)
        assert accepted.status_code == 202, accepted.text


def test_replay_cache_is_shared_and_pruned(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    one, two = ReplayCache.from_url(url), ReplayCache.from_url(url)  # two replicas
    assert one.first_use("v2=ab", now=1000.0, window_s=300)
    assert not two.first_use("v2=ab", now=1001.0, window_s=300)
    assert two.first_use("v2=cd", now=1001.0, window_s=300)
    # After two windows the entry is pruned (the timestamp check refuses it by then anyway).
    assert one.first_use("v2=ab", now=1000.0 + 602, window_s=300)
    with one.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM ingress_seen_signatures").scalar()
    assert rows == 1


class _Counted:
    def __init__(self, total: int, chunk: int = 64 * 1024, delay_s: float = 0.0) -> None:
        self.total, self.chunk, self.delay_s, self.sent = total, chunk, delay_s, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            piece = b"x" * min(self.chunk, self.total - self.sent)
            self.sent += len(piece)
            yield piece


async def test_unsigned_chunked_upload_is_401_before_its_body_is_read(
    client: Client, settings: Settings
) -> None:
    body = _Counted(20 * 1024 * 1024)
    async with _app(settings, client, max_body_bytes=25 * 1024 * 1024) as api:
        response = await api.post(
            "/voicemails",
            content=body.__aiter__(),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
    assert response.status_code == 401
    # Before: the whole 20 MiB was read first. Now: at most what the transport buffers.
    assert body.sent <= 1024 * 1024, body.sent


async def test_slow_drip_body_hits_the_read_deadline(client: Client, settings: Settings) -> None:
    fields = {k: str(v) for k, v in missed().items()}
    raw, kind = multipart(fields, wav_bytes(1.0))
    headers = {"Content-Type": kind} | signed_headers(
        SECRET.encode(), raw, time.time(), method="POST", path="/voicemails"
    )

    async def drip() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 1024):
            await asyncio.sleep(0.05)
            yield raw[i : i + 1024]

    async with _app(settings, client, body_read_timeout_s=0.3) as api:
        started = time.monotonic()
        response = await api.post("/voicemails", content=drip(), headers=headers)
    assert response.status_code == 408, response.text
    assert time.monotonic() - started < 3


async def test_concurrent_uploads_are_bounded(client: Client, settings: Settings) -> None:
    fields = {k: str(v) for k, v in missed().items()}
    raw, kind = multipart(fields, wav_bytes(1.0))
    gate = asyncio.Event()

    async def held() -> AsyncIterator[bytes]:
        yield raw[:100]
        await gate.wait()
        yield raw[100:]

    def headers() -> dict[str, str]:
        return {"Content-Type": kind} | signed_headers(
            SECRET.encode(), raw, time.time(), method="POST", path="/voicemails"
        )

    async with _app(settings, client, max_concurrent_uploads=1) as api:
        first = asyncio.create_task(api.post("/voicemails", content=held(), headers=headers()))
        await asyncio.sleep(0.3)
        second = await post(api, "/voicemails", raw, kind)
        gate.set()
        assert second.status_code == 503
        assert "simultanés" in second.json()["detail"]
        assert (await first).status_code == 202
