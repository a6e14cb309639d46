"""Signature of the telephony webhooks: HMAC-SHA256 over the timestamp and the raw body, with a
shared secret, and a replay window.

    X-Encombot-Timestamp: 1764108000                 (Unix seconds, when the request was made)
    X-Encombot-Signature: v1=<hex HMAC-SHA256(secret, "1764108000." + body)>

The body is the exact bytes sent (JSON or multipart alike), so the signature covers every field
and the uploaded audio. Several `v1=` values separated by commas are accepted (a sender that
signs with the old and the new secret during a rotation). Pure: the caller passes the clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TIMESTAMP_HEADER = "X-Encombot-Timestamp"
SIGNATURE_HEADER = "X-Encombot-Signature"
SCHEME = "v1"
_MAX_TIMESTAMP_CHARS = 12
_MAX_SIGNATURES = 4


class SignatureError(Exception):
    """The request is not authenticated. The message says why, in French, and never holds
    the expected signature."""


class StaleRequestError(SignatureError):
    """A valid signature outside the replay window."""


def signature(secret: bytes, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>." + body."""
    return hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int | str, body: bytes) -> str:
    return f"{SCHEME}={signature(secret, timestamp, body)}"


def signed_headers(secret: bytes, body: bytes, now: float) -> dict[str, str]:
    """The two headers a sender adds (tests, README examples, a telephony adapter)."""
    ts = str(int(now))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature_header(secret, ts, body)}


def verify(
    secrets: Sequence[bytes],
    timestamp: str | None,
    signature_value: str | None,
    body: bytes,
    *,
    now: float,
    window_s: float,
) -> None:
    """Raise SignatureError unless one of the `v1=` values is the signature of `body` at
    `timestamp` with one of `secrets`, and `timestamp` is within `window_s` of `now`."""
    if not timestamp or not signature_value:
        raise SignatureError("signature manquante")
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TIMESTAMP_CHARS:
        raise SignatureError("horodatage invalide (secondes Unix attendues)")
    given = [
        value.strip()
        for scheme, sep, value in (
            part.strip().partition("=") for part in signature_value.split(",")[:_MAX_SIGNATURES]
        )
        if sep and scheme.strip() == SCHEME
    ]
    if not given:
        raise SignatureError(f"signature invalide (format attendu : {SCHEME}=<hex>)")
    valid = False
    for secret in secrets:
        if not secret:
            continue
        expected = signature(secret, timestamp, body)
        for value in given:
            # compare_digest needs ASCII on both sides.
            if value.isascii() and hmac.compare_digest(value.lower(), expected):
                valid = True
    if not valid:
        raise SignatureError("signature invalide")
    if abs(now - int(timestamp)) > window_s:
        raise StaleRequestError("requête périmée (horodatage hors de la fenêtre de rejeu)")
