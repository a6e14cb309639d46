"""Links to a voicemail's audio for the agent who works the case: signed and expiring.

The link names the file relative to the audio directory, an expiry (Unix seconds) and an
HMAC-SHA256 of both under a secret that only the workers (who sign) and the codec server (which
serves) hold. It is written into the case's current details, which are encrypted: only someone
who can decode the case reads it, and it stops working at its expiry, so a link copied into a
ticket or a mail does not stay a way to the caller's voice. The codec server answers it behind
the same proxy and single sign-on as the UI (README "Agents").

Pure: no I/O; the callers give the clock."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote

# A link lives at most this long, whatever the settings ask: a longer one is refused by the
# server even with a valid signature.
MAX_TTL_S = 24 * 3600
# What a name under the audio directory may look like (the ingress names files after the call
# id, workers/ingress/audio.py): no "..", no absolute path, no hidden file.
_RELATIVE = re.compile(r"^(?!.*(?:^|/)\.)[A-Za-z0-9_.@+-]+(?:/[A-Za-z0-9_.@+-]+)*$")


@dataclass
class AudioLinkInput:
    call_id: str
    audio_path: str  # as in the voicemail's input


@dataclass
class AudioLinkResult:
    available: bool
    url: str = ""
    expires_at: str = ""  # ISO 8601, UTC
    # Why there is no link (French, no personal data): audio purged, not under the audio
    # directory, no secret configured…
    reason: str = ""


def valid_relative(name: str) -> bool:
    return bool(_RELATIVE.match(name)) and ".." not in name.split("/")


def signature(name: str, expires: int, secret: bytes) -> str:
    if not secret:
        raise ValueError("audio link: empty secret")
    message = f"audio\n{name}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_path(name: str, expires: int, secret: bytes) -> str:
    """`/audio/<name>?exp=…&sig=…`, to append to the codec server's public address."""
    if not valid_relative(name):
        raise ValueError("audio link: invalid file name")
    return f"/audio/{quote(name)}?exp={expires}&sig={signature(name, expires, secret)}"


def link_problem(name: str, expires: str, sig: str, secret: bytes, now: float) -> str | None:
    """Why the link cannot be served (a short reason for the HTTP answer), or None."""
    if not expires or not sig:
        return "signed link required"
    if not valid_relative(name):
        return "invalid file name"
    try:
        at = int(expires)
    except ValueError:
        return "invalid expiry"
    if not hmac.compare_digest(sig.encode(), signature(name, at, secret).encode()):
        return "invalid signature"
    if at <= now:
        return "link expired"
    if at > now + MAX_TTL_S:
        return "link lives too long"
    return None
