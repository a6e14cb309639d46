"""Signature of the telephony webhooks: HMAC-SHA256 over the method, the path, the timestamp and
the raw body, with a shared secret, and a replay window.

    X-Encombot-Timestamp: 1764108000                 (Unix seconds, when the request was made)
    X-Encombot-Signature: v2=<hex HMAC-SHA256(secret, "1764108000\nPOST\n/missed-calls\n" + body)>

The body is the exact bytes sent (JSON or multipart alike), so the signature covers every field
and the uploaded audio; the method and path (with its query string, if any) bind it to one
endpoint and one resource, so a signed voicemail cannot be replayed to /missed-calls nor a signed
GET /calls/A to /calls/B. The legacy `v1=` (timestamp + body only) is checked only when the
caller allows it (`accept_v1`). Several values separated by commas are accepted (a sender that
signs with the old and the new secret during a rotation). Pure: the caller passes the clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TIMESTAMP_HEADER = "X-Encombot-Timestamp"
SIGNATURE_HEADER = "X-Encombot-Signature"
SCHEME = "v2"
LEGACY_SCHEME = "v1"
_MAX_TIMESTAMP_CHARS = 12
_MAX_SIGNATURES = 4


class SignatureError(Exception):
    """The request is not authenticated. The message says why, in French, and never holds
    the expected signature."""


class StaleRequestError(SignatureError):
    """A valid signature outside the replay window."""


def signature_v1(secret: bytes, timestamp: int | str, body: bytes) -> str:
    """The legacy hex HMAC-SHA256 of "<timestamp>." + body (replayable across endpoints)."""
    return hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def signature(secret: bytes, method: str, path: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>\n<METHOD>\n<path>\n" + body (the spec the PBX's
    deploy/asterisk/encombot-webhook signs with)."""
    head = f"{timestamp}\n{method.upper()}\n{path}\n".encode()
    return hmac.new(secret, head + body, hashlib.sha256).hexdigest()


def signature_header(
    secret: bytes, method: str, path: str, timestamp: int | str, body: bytes
) -> str:
    return f"{SCHEME}={signature(secret, method, path, timestamp, body)}"


def signed_headers(
    secret: bytes, body: bytes, now: float, *, method: str, path: str
) -> dict[str, str]:
    """The two headers a sender adds (tests, README examples, a telephony adapter). `path` is
    the request target: the path and, if any, "?" + the query string."""
    ts = str(int(now))
    return {
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: signature_header(secret, method, path, ts, body),
    }


def check_timestamp(
    timestamp: str | None, signature_value: str | None, *, now: float, window_s: float
) -> int:
    """The checks that need no body (so a request can be refused before it is read): both
    headers present, a well-formed timestamp inside the window. Returns the timestamp."""
    if not timestamp or not signature_value:
        raise SignatureError("signature manquante")
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TIMESTAMP_CHARS:
        raise SignatureError("horodatage invalide (secondes Unix attendues)")
    if abs(now - int(timestamp)) > window_s:
        raise StaleRequestError("requête périmée (horodatage hors de la fenêtre de rejeu)")
    return int(timestamp)


def verify(
    secrets: Sequence[bytes],
    timestamp: str | None,
    signature_value: str | None,
    body: bytes,
    *,
    method: str,
    path: str,
    now: float,
    window_s: float,
    accept_v1: bool = False,
) -> str:
    """Raise SignatureError unless one of the `v2=` values (or `v1=` when `accept_v1`) is the
    signature of the request with one of `secrets`, and `timestamp` is within `window_s` of
    `now`. Returns the matching signature value (the replay cache's key)."""
    check_timestamp(timestamp, signature_value, now=now, window_s=window_s)
    assert timestamp is not None and signature_value is not None
    timestamp = timestamp.strip()
    schemes = (SCHEME, LEGACY_SCHEME) if accept_v1 else (SCHEME,)
    given = [
        (scheme.strip(), value.strip())
        for scheme, sep, value in (
            part.strip().partition("=") for part in signature_value.split(",")[:_MAX_SIGNATURES]
        )
        if sep and scheme.strip() in schemes
    ]
    if not given:
        raise SignatureError(f"signature invalide (format attendu : {SCHEME}=<hex>)")
    matched = ""
    for secret in secrets:
        if not secret:
            continue
        expected = {
            SCHEME: signature(secret, method, path, timestamp, body),
            LEGACY_SCHEME: signature_v1(secret, timestamp, body),
        }
        for scheme, value in given:
            # compare_digest needs ASCII on both sides.
            if value.isascii() and hmac.compare_digest(value.lower(), expected[scheme]):
                matched = f"{scheme}={value.lower()}"
    if not matched:
        raise SignatureError("signature invalide")
    return matched
