"""A voicemail's audio: its format told by its first bytes (415 otherwise), its storage under
`Settings.audio_dir` with a name derived from the call id, and the bounded fetch of an
`audio_url` (audio_url.py)."""

from __future__ import annotations

import logging

from activities.audio_store.local import audio_file_name, store_audio
from workers.ingress.audio_url import fetch_audio_url
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


async def fetch_audio(url: str, cfg: IngressSettings) -> bytes:
    """The recording at `url` (workers/ingress/audio_url.py: the SSRF guards)."""
    return await fetch_audio_url(url, cfg)
