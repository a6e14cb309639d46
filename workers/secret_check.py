"""Refusing weak or placeholder secrets at start: a secret copied from `.env.example` or a
tutorial is public, so a service started with it is open to anyone who read the same page."""

from __future__ import annotations

import re

# Values found in .env.example, the README and tutorials; compared case-insensitively with
# separators removed, as a prefix or the whole value.
_PLACEHOLDER_PREFIXES = ("changeme", "example", "placeholder", "yoursecret", "runencombot")
_PLACEHOLDERS = frozenset({"secret", "password", "motdepasse", "test", "xxx", "todo", "none"})
_SEPARATORS = re.compile(r"[-_.\s]")
GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


class WeakSecretError(ValueError):
    pass


def is_placeholder(value: str) -> bool:
    folded = _SEPARATORS.sub("", value.lower())
    return folded in _PLACEHOLDERS or folded.startswith(_PLACEHOLDER_PREFIXES)


def check_secret(variable: str, value: str, *, min_chars: int = 24) -> None:
    """Raise WeakSecretError, naming `variable` (never the value), when `value` is a known
    placeholder or shorter than `min_chars`."""
    if is_placeholder(value):
        raise WeakSecretError(
            f"{variable} contient une valeur d'exemple (placeholder refused): "
            f"générez-en une / generate one with: {GENERATE}"
        )
    if len(value) < min_chars:
        raise WeakSecretError(
            f"{variable} est trop court ({min_chars} caractères au moins / too short, "
            f"{min_chars} characters minimum): {GENERATE}"
        )
