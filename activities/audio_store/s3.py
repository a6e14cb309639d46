"""Voicemail audio in an S3-compatible object store (MinIO, SeaweedFS, Garage, a cloud's), for
deployments on several hosts: the ingress puts, the speech-to-text workers of any host get, the
retention purge deletes. Objects are sealed with the payload codec's keys (sealed.py) and named
from a hash of the call id (no number, no id in clear in the bucket).

Reads are bounded: the object's size is checked before it is fetched, and the body is read up
to that bound, so a stray huge object cannot exhaust a worker."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.audio_store import S3_SCHEME
from activities.audio_store.sealed import SealError, open_sealed, seal
from activities.speech.audio import unusable
from domain.retention import PurgeAudioResult

PREFIX = "voicemails/"
_MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")


class AudioStoreError(RuntimeError):
    """The store is unreachable or refused (retried by the activity's policy)."""


class AudioMissing(LookupError):
    """No such object: purged by the retention, or never stored."""


class AudioTooLarge(ValueError):
    def __init__(self, size: int) -> None:
        super().__init__(f"audio object of {size} bytes")
        self.size = size


def object_name(call_id: str, extension: str) -> str:
    digest = hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:32]
    return f"{PREFIX}vm-{digest}{extension}"


class S3AudioStore:
    def __init__(
        self,
        client: Any,  # minio.Minio (typed loosely: the tests hand in the real one)
        bucket: str,
        keys: Mapping[str, bytes],
        active_key_id: str,
        *,
        cache_dir: Path,
        max_bytes: int,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.keys = dict(keys)
        self.active = active_key_id
        self.cache_dir = Path(cache_dir)
        self.max_bytes = max_bytes

    def ref(self, name: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{name}"

    def put(self, call_id: str, data: bytes, extension: str) -> str:
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError

        name = object_name(call_id, extension)
        try:
            try:
                self.client.stat_object(self.bucket, name)
                return self.ref(name)  # a retried upload: the first copy stands
            except S3Error as err:
                if err.code not in _MISSING:
                    raise
            blob = seal(self.keys, self.active, name, data)
            self.client.put_object(
                self.bucket,
                name,
                io.BytesIO(blob),
                len(blob),
                content_type="application/octet-stream",
            )
        except S3Error as err:
            raise AudioStoreError(f"object store: {err.code}") from None
        except HTTPError as err:  # unreachable, timed out: urllib3's, not OSErrors
            raise AudioStoreError(f"object store unreachable: {type(err).__name__}") from None
        return self.ref(name)

    def _name(self, ref: str) -> str:
        name = self.link_name(ref)
        if name is None:
            raise unusable("référence audio hors du stockage configuré")
        return name

    def link_name(self, ref: str) -> str | None:
        """The object name of `ref` (what an agent's signed link carries), None when `ref` is
        not an object of this bucket."""
        prefix = f"{S3_SCHEME}{self.bucket}/"
        if not ref.startswith(prefix) or ".." in ref:
            return None
        return ref[len(prefix) :]

    def exists(self, name: str) -> bool:
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError

        try:
            self.client.stat_object(self.bucket, name)
        except S3Error as err:
            if err.code in _MISSING:
                return False
            raise AudioStoreError(f"object store: {err.code}") from None
        except HTTPError as err:
            raise AudioStoreError(f"object store unreachable: {type(err).__name__}") from None
        return True

    def fetch(self, name: str) -> bytes:
        """The audio of object `name` in clear, its size checked before the read and the read
        bounded. Raises AudioMissing, AudioTooLarge, SealError (not sealed, altered, or sealed
        by a key no longer configured) or AudioStoreError (unreachable, refused)."""
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError

        try:
            size = self.client.stat_object(self.bucket, name).size or 0
            if size > self.max_bytes:
                raise AudioTooLarge(size)
            response = self.client.get_object(self.bucket, name, length=size or None)
            try:
                blob = response.read(self.max_bytes + 1)
            finally:
                response.close()
                response.release_conn()
        except S3Error as err:
            if err.code in _MISSING:
                raise AudioMissing(name) from None
            raise AudioStoreError(f"object store: {err.code}") from None
        except HTTPError as err:
            raise AudioStoreError(f"object store unreachable: {type(err).__name__}") from None
        if len(blob) > self.max_bytes:  # grew between the stat and the read
            raise AudioTooLarge(len(blob))
        return open_sealed(self.keys, name, blob)

    def get(self, ref: str) -> bytes:
        """The audio in clear. A missing, oversized or unopenable object is the message's
        problem (non-retryable AUDIO_UNUSABLE); an unreachable store is retried."""
        try:
            return self.fetch(self._name(ref))
        except AudioMissing:
            raise unusable("audio absent du stockage (purgé ?)") from None
        except AudioTooLarge as err:
            raise unusable(f"objet audio trop volumineux ({err.size} octets)") from None
        except SealError as err:
            raise unusable(str(err)) from None

    @contextlib.contextmanager
    def local(self, ref: str) -> Iterator[Path]:
        """The audio decrypted into a private temporary file for one activity, then removed:
        no voice stays on a worker's disk."""
        data = self.get(ref)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=Path(ref).suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            yield Path(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def purge(self, older_than: datetime) -> PurgeAudioResult:
        result = PurgeAudioResult()
        cutoff = older_than if older_than.tzinfo else older_than.replace(tzinfo=UTC)
        for obj in self.client.list_objects(self.bucket, prefix=PREFIX, recursive=True):
            modified = obj.last_modified
            if modified is None or modified >= cutoff:
                continue
            try:
                self.client.remove_object(self.bucket, obj.object_name)
            except Exception as exc:  # one failure must not stop the purge of the others
                result.errors.append(f"{obj.object_name}: {type(exc).__name__}")
                continue
            result.deleted += 1
            result.bytes_freed += obj.size or 0
        return result
