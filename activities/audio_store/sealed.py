"""Audio sealed with the payload codec's keys (AES-256-GCM, the keys of ENCOMBOT_CODEC__KEYS):
what leaves the process for the object store is ciphertext bound to its object name, so a
copied or swapped object does not open.

    MAGIC | key id length (1 byte) | key id | nonce (12) | ciphertext + tag

The key id says which key opens it: rotation adds a key and makes it active, objects sealed
with the old one still open while it is configured."""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"encombot-audio/1\n"


class SealError(ValueError):
    """An object that is not sealed audio, or that none of the keys opens."""


def seal(keys: Mapping[str, bytes], active: str, name: str, data: bytes) -> bytes:
    kid = active.encode("utf-8")
    if not 0 < len(kid) < 256 or active not in keys:
        raise SealError(f"clé active inconnue : {active!r}")
    nonce = os.urandom(12)
    header = MAGIC + bytes([len(kid)]) + kid
    return header + nonce + AESGCM(keys[active]).encrypt(nonce, data, header + name.encode())


def open_sealed(keys: Mapping[str, bytes], name: str, blob: bytes) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
        raise SealError("objet audio non scellé")
    size = blob[len(MAGIC)]
    start = len(MAGIC) + 1
    kid = blob[start : start + size].decode("utf-8", errors="replace")
    if kid not in keys:
        raise SealError(f"objet audio scellé par une clé absente : {kid!r}")
    header = blob[: start + size]
    nonce = blob[start + size : start + size + 12]
    try:
        return AESGCM(keys[kid]).decrypt(nonce, blob[start + size + 12 :], header + name.encode())
    except InvalidTag:
        raise SealError("objet audio altéré ou d'un autre appel") from None
