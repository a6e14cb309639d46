"""`audio_link`: a signed, expiring link to a voicemail's audio for the agent who claimed the case
(domain/audio_links.py says what the link is; the codec server serves it). The audio is a file
of the voicemails' directory (the link names it relative to that directory) or an object of the
S3-compatible store (the link names the object). The secret is the configured one or, outside
production, a random one created once in the data directory, shared by the workers and the
codec server like the phone-key secret."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity

from activities.audio_store import is_remote
from activities.private_files import create_private_file_once
from domain.audio_links import AudioLinkInput, AudioLinkResult, signed_path, valid_relative

if TYPE_CHECKING:
    from activities.audio_store.s3 import S3AudioStore

AUDIO_LINK_SECRET_FILE = "audio-link.secret"
log = logging.getLogger(__name__)


def audio_link_secret(
    configured: str, data_dir: Path, *, create: bool = True, allow_file: bool = True
) -> bytes:
    """The configured secret (16 characters at least), else the one kept in
    `<data_dir>/audio-link.secret` (created on first use when `create`); b"" when none.
    `allow_file=False` (production): the configured one or an error, since a file made on one
    host is not the one the codec server or another worker host checks links with."""
    if configured:
        if len(configured) < 16:
            raise ValueError("ENCOMBOT_AGENTS__AUDIO_LINK_SECRET : 16 caractères au moins")
        return configured.encode("utf-8")
    if not allow_file:
        raise ValueError(
            "ENCOMBOT_AGENTS__AUDIO_LINK_SECRET est vide : en production, le secret des liens "
            "d'écoute est un réglage commun aux workers et au serveur de codec, jamais un "
            "fichier créé sur un hôte "
            '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    path = data_dir / AUDIO_LINK_SECRET_FILE
    if not create and not path.exists():
        return b""
    if create_private_file_once(path, secrets.token_hex(32) + "\n"):
        log.warning(
            "created the audio-link secret in %s: the workers and the codec server must share "
            "it (or set ENCOMBOT_AGENTS__AUDIO_LINK_SECRET)",
            path,
        )
    try:
        secret = bytes.fromhex(path.read_text("ascii").strip())
    except ValueError:
        raise ValueError(f"{path} : secret illisible (attendu : une ligne hexadécimale)") from None
    if len(secret) < 16:
        raise ValueError(f"{path} : secret trop court (16 octets au moins)")
    return secret


class AudioLinkActivities:
    def __init__(
        self,
        audio_dir: Path,
        secret: bytes,
        base_url: str,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
        *,
        remote: S3AudioStore | None = None,
    ) -> None:
        self.audio_dir = audio_dir
        # The object store the voicemails of `s3://` references are in (None: local only).
        self.remote = remote
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s
        self.clock = clock

    @activity.defn(name="audio_link")
    def audio_link(self, inp: AudioLinkInput) -> AudioLinkResult:
        if not self.base_url:
            return AudioLinkResult(False, reason="écoute non configurée (adresse du serveur)")
        if is_remote(inp.audio_path):
            remote = self.remote
            name = remote.link_name(inp.audio_path) if remote else None
            if remote is None or name is None or not valid_relative(name):
                return AudioLinkResult(False, reason="audio hors du stockage configuré")
            # AudioStoreError (store unreachable) propagates: the activity is retried.
            if not remote.exists(name):
                return AudioLinkResult(False, reason="audio supprimé (durée de conservation)")
        else:
            name = self._relative(inp.audio_path)
            if name is None:
                return AudioLinkResult(False, reason="audio hors du dossier des messages")
            if not (self.audio_dir / name).is_file():
                return AudioLinkResult(False, reason="audio supprimé (durée de conservation)")
        expires = int(self.clock()) + self.ttl_s
        return AudioLinkResult(
            True,
            url=self.base_url + signed_path(name, expires, self._secret),
            expires_at=datetime.fromtimestamp(expires, UTC).isoformat(),
        )

    def _relative(self, audio_path: str) -> str | None:
        try:
            path = Path(audio_path).resolve()
            name = path.relative_to(self.audio_dir.resolve()).as_posix()
        except (OSError, ValueError):
            return None
        return name if valid_relative(name) else None
