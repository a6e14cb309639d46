"""Files that hold a secret generated on first use (the codec's development key, the SMS
phone-key secret): created once, mode 0600, atomically, so that processes starting together
all end up reading the same secret."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_private_file_once(path: Path, content: str) -> bool:
    """Write `content` to `path` (mode 0600) unless the file exists; True when this call
    created it. A temporary file is hard-linked into place, so a reader never sees a
    partial file and a concurrent creator's file wins without being overwritten."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False  # another process created it first: use theirs
        return True
    finally:
        tmp.unlink(missing_ok=True)
