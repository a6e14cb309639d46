"""Reading a request's body: its size (413), its media type (415), its content against a model
(422: the reasons, never the input), a multipart voicemail upload."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from workers.ingress.errors import IngressError, missing_field, validation_errors
from workers.ingress.schemas import VoicemailFields


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise IngressError(413, f"corps trop volumineux ({limit} octets au plus)")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise IngressError(413, f"corps trop volumineux ({limit} octets au plus)")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media(request: Request, *accepted: str) -> str:
    kind = media_type(request)
    if kind not in accepted:
        raise IngressError(415, f"type de contenu attendu : {' ou '.join(accepted)}")
    return kind


def parse_json(body: bytes, model: type[BaseModel]) -> Any:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise IngressError(422, "JSON invalide") from None
    if not isinstance(data, dict):
        raise IngressError(422, "un objet JSON est attendu")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise IngressError(422, validation_errors(err)) from None


async def parse_multipart(request: Request, body: bytes) -> tuple[VoicemailFields, bytes]:
    """The fields and the `audio` part of a voicemail upload, from the body already read (and
    checked against its signature)."""

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        Headers(raw=[(b"content-type", request.headers["content-type"].encode("latin-1"))]),
        stream(),
        max_files=1,
        max_fields=8,
        max_part_size=8 * 1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise IngressError(422, f"multipart invalide : {err.message}") from None
    except (ValueError, KeyError):
        raise IngressError(422, "multipart invalide") from None
    try:
        audio = form.get("audio")
        if not isinstance(audio, UploadFile):
            raise IngressError(422, [missing_field("audio", "fichier audio manquant")])
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            fields = VoicemailFields.model_validate(values)
        except ValidationError as err:
            raise IngressError(422, validation_errors(err)) from None
        data = await audio.read()
    finally:
        await form.close()
    return fields, data
