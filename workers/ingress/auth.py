"""The signature check (domain/webhook_signature.py) as FastAPI dependencies: the body is read
within its size limit (413), then its HMAC and timestamp are checked against the shared secrets
and the replay window (401), before the route looks at its media type or content."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from domain.webhook_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    StaleRequestError,
    verify,
)
from workers.ingress.body import read_body
from workers.ingress.deps import Deps, IngressDeps
from workers.ingress.errors import IngressError

AUTH_CHALLENGE = {"WWW-Authenticate": 'HMAC-SHA256 realm="encombot"'}


def authenticate(request: Request, body: bytes, deps: IngressDeps) -> None:
    try:
        verify(
            deps.secrets(),
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            now=deps.clock(),
            window_s=deps.settings.ingress.replay_window_s,
        )
    except SignatureError as err:
        raise IngressError(401, str(err), AUTH_CHALLENGE, reason=_reason(request, err)) from None


def _reason(request: Request, err: SignatureError) -> str:
    if isinstance(err, StaleRequestError):
        return "stale"
    if not request.headers.get(TIMESTAMP_HEADER) or not request.headers.get(SIGNATURE_HEADER):
        return "missing"
    return "invalid"


async def _signed(request: Request, deps: IngressDeps, limit: int) -> bytes:
    body = await read_body(request, limit)
    authenticate(request, body, deps)
    return body


async def signed_json_body(request: Request, deps: Deps) -> bytes:
    """The body of a signed JSON webhook (`max_json_bytes` at most)."""
    return await _signed(request, deps, deps.settings.ingress.max_json_bytes)


async def signed_upload_body(request: Request, deps: Deps) -> bytes:
    """The body of a signed voicemail upload (`max_body_bytes` at most)."""
    return await _signed(request, deps, deps.settings.ingress.max_body_bytes)


async def signed_if_present(request: Request, deps: IngressDeps) -> bool:
    """A request that carries a signature must carry a valid one (401); True when it does,
    False for an unsigned request (the public answer)."""
    if not (request.headers.get(SIGNATURE_HEADER) or request.headers.get(TIMESTAMP_HEADER)):
        return False
    await _signed(request, deps, deps.settings.ingress.max_json_bytes)
    return True


SignedJsonBody = Annotated[bytes, Depends(signed_json_body)]
SignedUploadBody = Annotated[bytes, Depends(signed_upload_body)]
