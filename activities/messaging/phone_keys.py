"""The HMAC key of the phone keys (domain.phone.phone_key), the `SmsPhoneKey` search attribute
by which a caller's reply finds its case: configured, or a random secret created once in a
private file that every worker and the webhook share."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from activities.config import SmsSettings
from activities.messaging.errors import SmsConfigError
from activities.private_files import create_private_file_once

log = logging.getLogger(__name__)

PHONE_KEY_FILE_NAME = "sms-phone-key.secret"


def load_or_create_secret_file(path: Path) -> bytes:
    """The random secret stored (hex, one line) at `path`, created on first use with mode
    0600. Creation is atomic (temporary file hard-linked into place), like the codec's
    development key: processes starting together all end up with the same secret."""
    if create_private_file_once(path, secrets.token_hex(32) + "\n"):
        log.warning(
            "created the SMS phone-key secret in %s: every worker and the webhook "
            "must share it (or set ENCOMBOT_SMS__PHONE_KEY_SECRET)",
            path,
        )
    text = path.read_text("ascii").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise SmsConfigError(
            f"{path} : secret illisible (attendu : une ligne hexadécimale)"
        ) from None
    if len(secret) < 16:
        raise SmsConfigError(f"{path} : secret trop court (16 octets au moins)")
    return secret


def phone_key_secret(sms_settings: SmsSettings, data_dir: Path) -> bytes:
    """The HMAC key of domain.phone.phone_key: the configured secret, else the one kept in
    `sms.phone_key_file` (default <data_dir>/sms-phone-key.secret), created on first use."""
    configured = sms_settings.phone_key_secret.get_secret_value()
    if configured:
        if len(configured) < 16:
            # A short key could be found by trying every mobile number against it.
            raise SmsConfigError("ENCOMBOT_SMS__PHONE_KEY_SECRET : 16 caractères au moins")
        return configured.encode("utf-8")
    return load_or_create_secret_file(sms_settings.phone_key_file or data_dir / PHONE_KEY_FILE_NAME)
