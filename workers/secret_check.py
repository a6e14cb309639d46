"""Refusing weak or placeholder secrets at start: a secret copied from `.env.example` or a
tutorial is public, so a service started with it is open to anyone who read the same page.

Every secret the settings hold is checked when set (an empty one is either generated per host
for the demo, or refused by the process that needs it): `secret_problems` lists what is wrong,
naming the setting and the command that makes a good value, never the value itself."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.settings import Settings

# Values found in .env.example (before its secrets were left empty), the README, tutorials and
# vendors' defaults; compared case-insensitively with separators removed, as a prefix or the
# whole value.
_PLACEHOLDER_PREFIXES = (
    "changeme",
    "example",
    "placeholder",
    "yoursecret",
    "runencombot",
    "replaceme",
    "generate",
    "insert",
    "fixme",
)
_PLACEHOLDERS = frozenset(
    {
        "secret",
        "password",
        "motdepasse",
        "test",
        "xxx",
        "todo",
        "none",
        "null",
        "minioadmin",  # MinIO's default credentials
        "admin",
        "token",
        "key",
    }
)
_SEPARATORS = re.compile(r"[-_.\s]")
GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
GENERATE_CODEC_KEY = "encombot codec-key"
# A token_urlsafe(32) has ~25 distinct characters, `openssl rand -hex 32` 16: fewer than this
# is a typed or repeated value.
_MIN_DISTINCT_CHARS = 8


class WeakSecretError(ValueError):
    pass


def is_placeholder(value: str) -> bool:
    folded = _SEPARATORS.sub("", value.lower())
    return folded in _PLACEHOLDERS or folded.startswith(_PLACEHOLDER_PREFIXES)


def _repetitive(value: str) -> bool:
    if len(set(value)) < _MIN_DISTINCT_CHARS:
        return True
    # "abcdefgh" * 4: one short unit repeated.
    size = len(value)
    return any(
        value == (value[:period] * (size // period + 1))[:size]
        for period in range(1, size // 2 + 1)
    )


def check_secret(
    variable: str, value: str, *, min_chars: int = 24, generate: str = GENERATE
) -> None:
    """Raise WeakSecretError, naming `variable` (never the value), when `value` is a known
    placeholder, shorter than `min_chars`, or a repeated pattern."""
    if is_placeholder(value):
        raise WeakSecretError(
            f"{variable} contient une valeur d'exemple (placeholder refused): "
            f"générez-en une / generate one with: {generate}"
        )
    if len(value) < min_chars:
        raise WeakSecretError(
            f"{variable} est trop court ({min_chars} caractères au moins / too short, "
            f"{min_chars} characters minimum): {generate}"
        )
    if _repetitive(value):
        raise WeakSecretError(
            f"{variable} est répétitif (trop peu de caractères différents / too few distinct "
            f"characters, a repeated pattern): {generate}"
        )


def check_codec_key(variable: str, text: str, raw: bytes) -> None:
    """A payload encryption key: its text not a placeholder (the old `.env.example` value
    decoded to a valid 16-byte key), its bytes not a repeated pattern."""
    if is_placeholder(text):
        raise WeakSecretError(
            f"{variable} contient une clé d'exemple (placeholder key refused): "
            f"générez-en une / generate one with: {GENERATE_CODEC_KEY}"
        )
    # 16 random bytes have ~15 distinct values; a key typed by hand or padded has few.
    if len(set(raw)) < len(raw) // 2:
        raise WeakSecretError(
            f"{variable} n'est pas aléatoire (repeated bytes, not a random key): "
            f"{GENERATE_CODEC_KEY}"
        )


def _settings_secrets(settings: Settings) -> Iterator[tuple[str, str, int]]:
    """(variable, value, minimum length) of every secret that is set."""
    ingress, sms, codec = settings.ingress, settings.sms, settings.codec
    candidates = [
        ("ENCOMBOT_INGRESS__SECRET", ingress.secret, 24),
        *(("ENCOMBOT_INGRESS__PREVIOUS_SECRETS", s, 24) for s in ingress.previous_secrets),
        ("ENCOMBOT_CODEC__SERVER__TOKEN", codec.server.token, 24),
        # An HMAC key shared by every host (domain.phone.phone_key): token_urlsafe(32).
        ("ENCOMBOT_SMS__PHONE_KEY_SECRET", sms.phone_key_secret, 32),
        ("ENCOMBOT_AGENTS__AUDIO_LINK_SECRET", settings.agents.audio_link_secret, 24),
        # OVH's application key is 16 characters, its secret and consumer key 32.
        ("ENCOMBOT_SMS__OVH__APPLICATION_KEY", sms.ovh.application_key, 16),
        ("ENCOMBOT_SMS__OVH__APPLICATION_SECRET", sms.ovh.application_secret, 32),
        ("ENCOMBOT_SMS__OVH__CONSUMER_KEY", sms.ovh.consumer_key, 32),
        # MinIO asks 8 at least; S3's are 40. Its default (minioadmin) is a placeholder.
        ("ENCOMBOT_AUDIO_STORE__S3_SECRET_KEY", settings.audio_store.s3_secret_key, 16),
    ]
    for variable, secret, min_chars in candidates:
        value = secret.get_secret_value()
        if value:
            yield variable, value, min_chars
    # The service database's password, inside its URL (compose builds it from
    # ENCOMBOT_DB_PASSWORD, `openssl rand -hex 24`).
    for variable, url in (
        ("ENCOMBOT_BOOKING__DATABASE_URL", settings.booking.database_url),
        ("ENCOMBOT_INGRESS__REPLAY_CACHE_URL", ingress.replay_cache_url),
    ):
        try:
            password = urllib.parse.urlsplit(url).password
        except ValueError:
            password = None
        if password:
            yield f"{variable} (mot de passe / password)", urllib.parse.unquote(password), 16


def secret_problems(settings: Settings) -> list[str]:
    """Why the secrets of these settings must not be used (empty: fine), one line each."""
    from workers.codec.payload import CodecConfigError, parse_key

    problems: list[str] = []
    for variable, value, min_chars in _settings_secrets(settings):
        try:
            check_secret(variable, value, min_chars=min_chars)
        except WeakSecretError as err:
            problems.append(str(err))
    for key_id, secret in settings.codec.keys.items():
        variable = f"ENCOMBOT_CODEC__KEYS[{key_id}]"
        text = secret.get_secret_value()
        try:
            check_codec_key(variable, text, parse_key(key_id, text))
        except WeakSecretError as err:
            problems.append(str(err))
        except CodecConfigError:
            problems.append(
                f"{variable} n'est pas une clé AES en base64 de 16, 24 ou 32 octets "
                f"(not a base64 AES key): {GENERATE_CODEC_KEY}"
            )
    return problems
