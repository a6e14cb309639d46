"""The webhook signature (domain/webhook_signature.py): v2 = HMAC-SHA256 over method, path,
timestamp and body; v1 (timestamp + body) only when allowed; several secrets and several values
for rotations, a replay window."""

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
    signature_v1,
    signed_headers,
    verify,
)

SECRET = b"s3cret"
BODY = b'{"call_id":"c-1"}'
NOW = 1_795_000_000
M, P = "POST", "/missed-calls"


def sig_of(secret: bytes = SECRET, ts: int = NOW, body: bytes = BODY) -> str:
    return signature_header(secret, M, P, ts, body)


def check(
    sig: str | None,
    ts: str | None = str(NOW),
    body: bytes = BODY,
    now: float = NOW,
    method: str = M,
    path: str = P,
    accept_v1: bool = False,
) -> str:
    return verify(
        [SECRET],
        ts,
        sig,
        body,
        method=method,
        path=path,
        now=now,
        window_s=300,
        accept_v1=accept_v1,
    )


def test_signature_is_the_documented_hmac() -> None:
    message = f"{NOW}\nPOST\n/missed-calls\n".encode() + BODY
    expected = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    assert sig_of() == f"v2={expected}"
    headers = signed_headers(SECRET, BODY, NOW + 0.9, method="post", path=P)
    assert headers == {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: f"v2={expected}"}
    assert check(headers[SIGNATURE_HEADER]) == f"v2={expected}"
    check(headers[SIGNATURE_HEADER].upper().replace("V2=", "v2="))  # hex case does not matter


@pytest.mark.parametrize(
    ("sig", "ts", "why"),
    [
        (None, str(NOW), "manquante"),
        ("v2=abc", None, "manquante"),
        ("v2=abc", "soon", "horodatage invalide"),
        ("v2=abc", "-5", "horodatage invalide"),
        ("v2=abc", "1" * 13, "horodatage invalide"),
        ("v2=abc", "١٢٣", "horodatage invalide"),  # non-ASCII digits
        ("sha256=abc", str(NOW), "format"),
        ("v2=é", str(NOW), "signature invalide"),
        ("v2=" + "0" * 64, str(NOW), "signature invalide"),
    ],
)
def test_refusals_say_why(sig: str | None, ts: str | None, why: str) -> None:
    with pytest.raises(SignatureError, match=why):
        check(sig, ts)


def test_method_path_body_and_timestamp_are_all_covered() -> None:
    sig = sig_of()
    for changed in (
        {"body": BODY + b" "},
        {"ts": str(NOW + 1), "now": NOW + 1},
        {"path": "/voicemails"},
        {"path": "/missed-calls?x=1"},
        {"method": "PUT"},
    ):
        with pytest.raises(SignatureError):
            check(sig, **changed)  # type: ignore[arg-type]


def test_v1_only_when_accepted() -> None:
    v1 = f"v1={signature_v1(SECRET, NOW, BODY)}"
    with pytest.raises(SignatureError, match="format"):
        check(v1)
    assert check(v1, accept_v1=True) == v1
    # v1 never covered the path: that is why it stays off by default.
    check(v1, path="/voicemails", accept_v1=True)


def test_replay_window_both_ways() -> None:
    sig = sig_of()
    check(sig, now=NOW + 300)
    check(sig, now=NOW - 300)
    for now in (NOW + 301, NOW - 301):
        with pytest.raises(StaleRequestError):
            check(sig, now=now)


def test_rotation_several_secrets_and_values() -> None:
    new, old = b"new-secret", b"old-secret"
    by_old = sig_of(old)
    kw = {"method": M, "path": P, "now": NOW, "window_s": 300}
    verify([new, old], str(NOW), by_old, BODY, **kw)  # type: ignore[arg-type]
    both = f"{sig_of(new)}, {by_old}"
    verify([new], str(NOW), both, BODY, **kw)  # type: ignore[arg-type]
    with pytest.raises(SignatureError):
        verify([b""], str(NOW), sig_of(b""), BODY, **kw)  # type: ignore[arg-type]
