"""The signature check (domain/webhook_signature.py) as FastAPI dependencies. What needs no body
is checked first (both headers, a timestamp inside the replay window: 401), so an unsigned or
stale upload is refused before its body is read; then the body is streamed within its size limit
(413), a read deadline (408) and the bound on concurrent reads (503); then its HMAC over method,
path, timestamp and body (401), and, for requests that change state, the replay cache (409),
before the route looks at its media type or content."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request

from domain.webhook_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    StaleRequestError,
    check_timestamp,
    verify,
)
from workers.ingress.body import read_body
from workers.ingress.deps import Deps, IngressDeps
from workers.ingress.errors import IngressError

AUTH_CHALLENGE = {"WWW-Authenticate": 'HMAC-SHA256 realm="encombot"'}
# Reads are idempotent: a repeated signed GET /calls/{id} (polling) is harmless.
_REPLAYABLE_METHODS = frozenset({"GET", "HEAD"})


def request_target(request: Request) -> str:
    """What the signature covers of the URL: the path and, if any, the query string."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _refuse(request: Request, err: SignatureError) -> IngressError:
    return IngressError(401, str(err), AUTH_CHALLENGE, reason=_reason(request, err))


def check_headers(request: Request, deps: IngressDeps) -> None:
    try:
        check_timestamp(
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            now=deps.clock(),
            window_s=deps.settings.ingress.replay_window_s,
        )
    except SignatureError as err:
        raise _refuse(request, err) from None


def authenticate(request: Request, body: bytes, deps: IngressDeps) -> None:
    cfg = deps.settings.ingress
    now = deps.clock()
    try:
        matched = verify(
            deps.secrets(),
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            method=request.method,
            path=request_target(request),
            now=now,
            window_s=cfg.replay_window_s,
            accept_v1=cfg.accept_v1_signatures,
        )
    except SignatureError as err:
        raise _refuse(request, err) from None
    if request.method not in _REPLAYABLE_METHODS and not deps.replay_cache().first_use(
        matched, now=now, window_s=cfg.replay_window_s
    ):
        raise IngressError(409, "requête déjà reçue (signature rejouée)", reason="replayed")


def _reason(request: Request, err: SignatureError) -> str:
    if isinstance(err, StaleRequestError):
        return "stale"
    if not request.headers.get(TIMESTAMP_HEADER) or not request.headers.get(SIGNATURE_HEADER):
        return "missing"
    return "invalid"


async def _signed(request: Request, deps: IngressDeps, limit: int) -> bytes:
    check_headers(request, deps)
    slots = deps.upload_slots()
    if slots.locked():
        raise IngressError(
            503, "trop d'envois simultanés, réessayer plus tard", {"Retry-After": "5"}
        )
    async with slots:
        try:
            body = await asyncio.wait_for(
                read_body(request, limit), timeout=deps.settings.ingress.body_read_timeout_s
            )
        except TimeoutError:
            raise IngressError(408, "corps reçu trop lentement") from None
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
