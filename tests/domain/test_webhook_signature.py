"""The webhook signature (domain/webhook_signature.py): HMAC-SHA256 over "<timestamp>." + body,
several secrets and several values for rotations, a replay window."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from domain.webhook_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    StaleRequestError,
    signature_header,
    signed_headers,
    verify,
)

SECRET = b"s3cret"
BODY = b'{"call_id":"c-1"}'
NOW = 1_795_000_000


def check(sig: str | None, ts: str | None = str(NOW), body: bytes = BODY, now: float = NOW) -> None:
    verify([SECRET], ts, sig, body, now=now, window_s=300)


def test_signature_is_the_documented_hmac() -> None:
    expected = hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, NOW, BODY) == f"v1={expected}"
    headers = signed_headers(SECRET, BODY, NOW + 0.9)
    assert headers == {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: f"v1={expected}"}
    check(headers[SIGNATURE_HEADER])
    check(headers[SIGNATURE_HEADER].upper().replace("V1=", "v1="))  # hex case does not matter


@pytest.mark.parametrize(
    ("sig", "ts", "why"),
    [
        (None, str(NOW), "manquante"),
        ("v1=abc", None, "manquante"),
        ("v1=abc", "soon", "horodatage invalide"),
        ("v1=abc", "-5", "horodatage invalide"),
        ("v1=abc", "1" * 13, "horodatage invalide"),
        ("v1=abc", "١٢٣", "horodatage invalide"),  # non-ASCII digits
        ("sha256=abc", str(NOW), "format"),
        ("v1=é", str(NOW), "signature invalide"),
        ("v1=" + "0" * 64, str(NOW), "signature invalide"),
    ],
)
def test_refusals_say_why(sig: str | None, ts: str | None, why: str) -> None:
    with pytest.raises(SignatureError, match=why):
        check(sig, ts)


def test_body_and_timestamp_are_both_covered() -> None:
    sig = signature_header(SECRET, NOW, BODY)
    with pytest.raises(SignatureError):
        check(sig, body=BODY + b" ")
    with pytest.raises(SignatureError):
        check(sig, ts=str(NOW + 1), now=NOW + 1)


def test_replay_window_both_ways() -> None:
    sig = signature_header(SECRET, NOW, BODY)
    check(sig, now=NOW + 300)
    check(sig, now=NOW - 300)
    for now in (NOW + 301, NOW - 301):
        with pytest.raises(StaleRequestError):
            check(sig, now=now)
    # A wrong signature is refused as such, not as stale.
    with pytest.raises(SignatureError) as err:
        check(signature_header(b"other", NOW, BODY), now=NOW + 1000)
    assert not isinstance(err.value, StaleRequestError)


def test_rotation_several_secrets_and_values() -> None:
    new, old = b"new-secret", b"old-secret"
    by_old = signature_header(old, NOW, BODY)
    verify([new, old], str(NOW), by_old, BODY, now=NOW, window_s=300)
    both = f"{signature_header(new, NOW, BODY)}, {by_old}"
    verify([new], str(NOW), both, BODY, now=NOW, window_s=300)
    with pytest.raises(SignatureError):
        verify([b""], str(NOW), signature_header(b"", NOW, BODY), BODY, now=NOW, window_s=300)
