"""The embedded audio store: one directory (`Settings.audio_dir`), files named from the call id,
written atomically, read in place, purged by age. Every role must see the same directory (one
host, or a volume they share); several hosts use the object store (s3.py)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from domain.retention import PurgeAudioResult


def audio_file_name(call_id: str, extension: str) -> str:
    """Derived from the call id only: a retried upload lands on the same file, and nothing
    the client sends (file name, path) ever reaches the file system."""
    digest = hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:32]
    return f"vm-{digest}{extension}"


def store_audio(audio_dir: Path, call_id: str, data: bytes, extension: str) -> Path:
    """Write atomically (temporary file, fsync, link); an existing file (a retry) is kept."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    path = audio_dir / audio_file_name(call_id, extension)
    if path.exists():
        return path
    tmp = audio_dir / f".{path.name}.{uuid.uuid4().hex}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # A concurrent retry of the same call may have written it first: keep theirs.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class LocalAudioStore:
    def __init__(self, audio_dir: Path) -> None:
        self.audio_dir = Path(audio_dir)

    def put(self, call_id: str, data: bytes, extension: str) -> str:
        return str(store_audio(self.audio_dir, call_id, data, extension))

    @contextlib.contextmanager
    def local(self, ref: str) -> Iterator[Path]:
        yield Path(ref)

    def purge(self, older_than: datetime) -> PurgeAudioResult:
        from activities.purge import purge_audio_files

        return purge_audio_files(self.audio_dir, older_than)
