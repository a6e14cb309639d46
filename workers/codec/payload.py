"""Payload encryption: every payload that leaves a client or a worker is AES-GCM encrypted, so
the Temporal server (its database, its history API, the UI without the codec server) never
sees a caller's name, number, address, transcript or SMS text.

Wire format of an encrypted payload:

    metadata  encoding = "binary/encrypted", encryption-key-id = <key id>
    data      12-byte random nonce || AES-GCM(key, nonce, original Payload protobuf, aad)

The whole original `Payload` (its metadata included: `json/plain`, the dataclass type...) is
encrypted, and the key id is bound to the ciphertext as associated data. Keys rotate: every
configured key decrypts, the active one encrypts. Payloads that are not encrypted (histories
written before encryption was enabled, a UI without the codec server) decode unchanged.

Failures are encoded too: the data converter's failure converter (a
`DefaultFailureConverterWithEncodedAttributes`) moves a failure's message and stack trace into an
encoded payload (the server then only stores "Encoded failure"); see domain/disclosure.py for
the one kind of message left readable.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    PayloadConverter,
)
from temporalio.exceptions import ApplicationError

from activities.private_files import create_private_file_once
from domain.disclosure import PUBLIC_MESSAGE_TYPES
from workers.settings import CodecSettings, Settings

log = logging.getLogger(__name__)

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = (16, 24, 32)
_AAD_PREFIX = b"encombot/aes-gcm/v1:"
DEV_KEY_FILE_NAME = "codec-dev.key"


class CodecConfigError(ValueError):
    """The encryption keys are missing or malformed (the message never contains a key)."""


class PayloadDecryptionError(ValueError):
    """A payload that cannot be decrypted: unknown key id, wrong key or tampered data."""


def parse_key(key_id: str, value: str) -> bytes:
    """A base64 (standard or URL-safe, padding optional) AES key of 16, 24 or 32 bytes."""
    text = value.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise CodecConfigError(f"codec key {key_id!r} is not valid base64") from None
    if len(raw) not in KEY_BYTES:
        raise CodecConfigError(
            f"codec key {key_id!r} has {len(raw)} bytes: AES-GCM needs 16, 24 or 32"
        )
    return raw


def new_key() -> str:
    """A fresh 256-bit key, base64 (what ENCOMBOT_CODEC__KEYS expects)."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def key_fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"encombot-key-id:" + key).hexdigest()[:8]


class EncryptionCodec(PayloadCodec):
    """AES-GCM payload codec with key rotation (see the module docstring for the format)."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise CodecConfigError("no encryption key")
        if active_key_id not in keys:
            raise CodecConfigError(f"active key id {active_key_id!r} is not among the keys")
        for key_id, key in keys.items():
            if not key_id or len(key) not in KEY_BYTES:
                raise CodecConfigError(f"invalid codec key {key_id!r}")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id
        # The same keys seal the voicemail audio put in an object store (activities/audio_store).
        self.keys: dict[str, bytes] = dict(keys)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, payload.SerializeToString(), _AAD_PREFIX + key_id.encode()
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with unknown key id {key_id!r} "
                f"(known: {', '.join(self.key_ids)}): add that key to ENCOMBOT_CODEC__KEYS"
            )
        data = payload.data
        if len(data) <= NONCE_BYTES:
            raise PayloadDecryptionError(f"encrypted payload too short (key id {key_id!r})")
        try:
            plain = cipher.decrypt(
                data[:NONCE_BYTES], data[NONCE_BYTES:], _AAD_PREFIX + key_id.encode()
            )
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload does not decrypt with key {key_id!r}: wrong key or altered data"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def dev_key_path(settings: Settings) -> Path:
    return settings.codec.dev_key_file or settings.data_dir / DEV_KEY_FILE_NAME


def load_or_create_dev_key(path: Path) -> tuple[str, bytes]:
    """The development key stored at `path`, created (random, mode 0600) on first use.

    File format: one line `<key id>:<base64 key>`. Creation is atomic (write a temporary file,
    then hard-link it into place): concurrent first starts of several processes all end up
    with the same key."""
    key = secrets.token_bytes(32)
    line = f"dev-{key_fingerprint(key)}:{base64.b64encode(key).decode('ascii')}\n"
    if create_private_file_once(path, line):
        log.warning(
            "created a DEVELOPMENT payload encryption key in %s: fine for the demo and "
            "tests, not for production (set ENCOMBOT_CODEC__KEYS)",
            path,
        )
    text = path.read_text("ascii").strip()
    key_id, sep, value = text.partition(":")
    if not sep or not key_id:
        raise CodecConfigError(f"{path}: expected one line '<key id>:<base64 key>'")
    return key_id, parse_key(key_id, value)


def codec_from_settings(settings: Settings) -> EncryptionCodec:
    """The codec for these settings: the configured keys, or the development key file."""
    cfg: CodecSettings = settings.codec
    if cfg.keys:
        keys = {kid: parse_key(kid, secret.get_secret_value()) for kid, secret in cfg.keys.items()}
        active = cfg.active_key_id
        if not active:
            if len(keys) > 1:
                raise CodecConfigError(
                    "several codec keys: set ENCOMBOT_CODEC__ACTIVE_KEY_ID to the one that encrypts"
                )
            active = next(iter(keys))
        if active not in keys:
            raise CodecConfigError(f"ENCOMBOT_CODEC__ACTIVE_KEY_ID={active!r} is not in the keys")
        return EncryptionCodec(keys, active)
    if not cfg.allow_dev_key:
        raise CodecConfigError(
            "no payload encryption key: set ENCOMBOT_CODEC__KEYS (`encombot codec-key` makes "
            "one) or allow the development key (ENCOMBOT_CODEC__ALLOW_DEV_KEY=true)"
        )
    key_id, key = load_or_create_dev_key(dev_key_path(settings))
    return EncryptionCodec({key_id: key}, key_id)


class EncodedFailureConverter(DefaultFailureConverterWithEncodedAttributes):
    """Failure messages and stack traces moved into an encoded (hence encrypted) payload, as
    `DefaultFailureConverterWithEncodedAttributes` does, except the message of the
    `ApplicationError` types of `domain.disclosure.PUBLIC_MESSAGE_TYPES` (an Update's
    rejection, shown by the Web UI without decoding), which never carries personal data."""

    def to_failure(
        self,
        exception: BaseException,
        payload_converter: PayloadConverter,
        failure: Failure,
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        if isinstance(exception, ApplicationError) and exception.type in PUBLIC_MESSAGE_TYPES:
            failure.message = exception.message


def data_converter(settings: Settings) -> DataConverter:
    """The data converter of every client and worker: default conversion, encrypted payloads,
    failure messages and stack traces encoded (hence encrypted) too."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=codec_from_settings(settings),
        failure_converter_class=EncodedFailureConverter,
    )
