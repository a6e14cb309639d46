"""Booking references (what a caller reads aloud or types back), the duplicate-address key,
and the actors an audit event may name."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: read aloud or typed from an SMS, nothing can be confused.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_LENGTH = 6  # 25**6 ≈ 244 million references
ACTOR_BOT = "bot"
ACTOR_CALLER_SMS = "caller_sms"
AGENT_PREFIX = "agent:"
_ACTOR_RE = re.compile(r"^(bot|caller_sms|agent:[A-Za-z0-9._@-]{1,64})$")


def check_actor(actor: str) -> str:
    if not _ACTOR_RE.match(actor):
        raise ValueError(f"actor must be 'bot', 'caller_sms' or 'agent:<id>' (got {actor!r})")
    return actor


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def normalise_reference(reference: str) -> str:
    """Upper case without separators: "ac3 d-4f" and "AC3D4F" are the same reference."""
    return re.sub(r"[\s\-_.]", "", reference).upper()


def address_key(citycode: str, housenumber: str, street: str) -> str:
    def norm(value: str) -> str:
        return " ".join(value.casefold().split())

    return f"{norm(citycode)}|{norm(housenumber)}|{norm(street)}"
