"""A voicemail's audio: its format told by its first bytes (415 otherwise), its storage under
`Settings.audio_dir` with a name derived from the call id, and the bounded fetch of an
`audio_url` from an allow-listed host."""

from __future__ import annotations

import logging
import urllib.parse

import httpx

from activities.audio_store.local import audio_file_name, store_audio
from workers.ingress.errors import IngressError
from workers.settings import IngressSettings

log = logging.getLogger(__name__)

# Where they moved (the audio store: activities/audio_store/), kept importable from here.
__all__ = ["audio_extension", "audio_file_name", "check_audio", "fetch_audio", "store_audio"]


def audio_extension(head: bytes) -> str | None:
    """File extension from the first bytes (magic numbers); None when no known audio."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:5] == b"#!AMR":
        return ".amr"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    return None


def check_audio(data: bytes) -> str:
    """The extension of a recording; 422 when empty, 415 when not a known audio format."""
    if not data:
        raise IngressError(422, "fichier audio vide")
    extension = audio_extension(data[:16])
    if extension is None:
        raise IngressError(415, "format audio non reconnu (WAV, MP3, OGG, FLAC, AMR, M4A, WebM)")
    return extension


def _check_audio_url(url: str, cfg: IngressSettings) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise IngressError(422, "audio_url invalide") from None
    host = (parts.hostname or "").lower()
    allowed = {h.strip().lower() for h in cfg.audio_url_hosts if h.strip()}
    if parts.scheme.lower() not in {s.lower() for s in cfg.audio_url_schemes}:
        raise IngressError(422, "audio_url : schéma non autorisé")
    if not host or (host not in allowed and f"{host}:{port}" not in allowed):
        raise IngressError(422, "audio_url : hôte non autorisé")
    if parts.username or parts.password:
        raise IngressError(422, "audio_url : identifiants interdits dans l'URL")


async def fetch_audio(url: str, cfg: IngressSettings) -> bytes:
    """The recording at `url`: an allowed scheme and host, no credentials, no redirect
    followed, at most `max_body_bytes` (422); an unreachable host is a 502."""
    _check_audio_url(url, cfg)
    data = bytearray()
    try:
        async with (
            httpx.AsyncClient(
                follow_redirects=False, timeout=cfg.audio_fetch_timeout_s, trust_env=False
            ) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise IngressError(
                    422, f"audio_url : réponse HTTP {response.status_code} de l'hôte"
                )
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > cfg.max_body_bytes:
                    raise IngressError(422, "audio_url : enregistrement trop volumineux")
    except httpx.HTTPError as err:
        log.warning("audio fetch failed: %s", type(err).__name__)
        raise IngressError(502, "audio_url : hôte injoignable") from None
    return bytes(data)
