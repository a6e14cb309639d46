"""What the ingress tests share: the secrets, signed requests, the bodies they post."""

from __future__ import annotations

import io
import json
import time
import uuid
import wave
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.missed_call_models import SEARCH_ATTRIBUTES as MISSED_CALL_SEARCH_ATTRIBUTES
from domain.webhook_signature import signed_headers
from workers.client import _SA_TYPES

SECRET = "ingress-test-secret-7f3a"


OLD_SECRET = "ingress-previous-secret-91bc"


PHONE_SECRET = "phone-key-secret-for-ingress-tests"


CALLER = "+33612340077"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def wav_bytes(seconds: float = 0.2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buf.getvalue()


def multipart(fields: dict[str, str], audio: bytes | None, filename: str = "vm.wav") -> tuple:
    """(body, content type) built by httpx itself, so the signature covers the exact bytes."""
    files = (
        {"audio": (filename, audio, "audio/wav")}
        if audio is not None
        else {"note": ("note.txt", b"pas d'audio", "text/plain")}
    )
    request = httpx.Request("POST", "http://x/", data=fields, files=files)
    return request.read(), request.headers["content-type"]


async def post(
    api: httpx.AsyncClient,
    path: str,
    body: bytes | dict[str, Any],
    content_type: str = "application/json",
    *,
    secret: str | None = SECRET,
    at: float | None = None,
) -> httpx.Response:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers |= signed_headers(
            secret.encode(),
            raw,
            time.time() if at is None else at,
            method="POST",
            path=path,
        )
    return await api.post(path, content=raw, headers=headers)


def missed(call_id: str | None = None, caller: str = CALLER) -> dict[str, Any]:
    return {
        "call_id": call_id or f"c-{uuid.uuid4().hex[:10]}",
        "caller_id": caller,
        "received_at": now_iso(),
    }


async def ensure_search_attributes(client: Client) -> None:
    for name, kind in MISSED_CALL_SEARCH_ATTRIBUTES.items():
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace, search_attributes={name: _SA_TYPES[kind]}
                )
            )
        except RPCError as err:
            if "already" not in str(err).lower():
                raise
