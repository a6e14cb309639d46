"""The object-store audio (activities/audio_store/s3.py) on a real S3-compatible server
(SeaweedFS, conftest.py): sealed objects named from the call id, idempotent puts, bounded and
checked reads, no clear audio left on the worker's disk, the retention purge, and a
transcription read from the store."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.audio_store.s3 import AudioStoreError, S3AudioStore, object_name
from activities.speech.engine import SpeechEngine
from activities.transcribe import TranscribeActivities
from corpus import DEMO_DIR
from domain.errors import AUDIO_UNUSABLE
from domain.models import TranscribeInput
from tests.activities.audio_store.conftest import S3Server

KEYS = {"2026-12": os.urandom(32)}
WAV = (DEMO_DIR / "audio" / "demo01.wav").read_bytes()


def store(server: S3Server, tmp_path: Path, **kw: object) -> S3AudioStore:
    options: dict[str, object] = {"cache_dir": tmp_path / "cache", "max_bytes": 5_000_000}
    options.update(kw)
    return S3AudioStore(server.client(), server.bucket, KEYS, "2026-12", **options)  # type: ignore[arg-type]


def call_id() -> str:
    return f"c-{os.urandom(6).hex()}"


def test_put_seals_names_from_the_call_and_is_idempotent(
    s3_server: S3Server, tmp_path: Path
) -> None:
    audio = store(s3_server, tmp_path)
    cid = call_id()
    ref = audio.put(cid, WAV, ".wav")
    name = object_name(cid, ".wav")
    assert ref == f"s3://{s3_server.bucket}/{name}" and cid not in ref
    client = s3_server.client()
    raw = client.get_object(s3_server.bucket, name).read()  # type: ignore[attr-defined]
    assert not raw.startswith(b"RIFF") and WAV[100:200] not in raw
    # A retried upload keeps the first object.
    assert audio.put(cid, b"RIFF-other-bytes", ".wav") == ref
    assert audio.get(ref) == WAV


def test_a_reader_gets_a_private_file_that_is_gone_afterwards(
    s3_server: S3Server, tmp_path: Path
) -> None:
    audio = store(s3_server, tmp_path)
    ref = audio.put(call_id(), WAV, ".wav")
    with audio.local(ref) as path:
        assert path.read_bytes() == WAV
        assert path.stat().st_mode & 0o077 == 0
    assert not path.exists()
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("case", ["missing", "too_big", "foreign_bucket", "other_key"])
def test_unusable_audio_is_a_clear_non_retryable_error(
    s3_server: S3Server, tmp_path: Path, case: str
) -> None:
    audio = store(s3_server, tmp_path)
    ref = audio.put(call_id(), WAV, ".wav")
    if case == "missing":
        ref = f"s3://{s3_server.bucket}/{object_name(call_id(), '.wav')}"
    elif case == "too_big":
        audio = store(s3_server, tmp_path, max_bytes=1000)
    elif case == "foreign_bucket":
        ref = ref.replace(s3_server.bucket, "elsewhere")
    else:
        audio = S3AudioStore(
            s3_server.client(), s3_server.bucket, {"k9": os.urandom(32)}, "k9",
            cache_dir=tmp_path, max_bytes=5_000_000,
        )  # fmt: skip
    with pytest.raises(ApplicationError) as err:
        audio.get(ref)
    assert err.value.type == AUDIO_UNUSABLE and err.value.non_retryable


def test_wrong_credentials_are_refused(s3_server: S3Server, tmp_path: Path) -> None:
    audio = S3AudioStore(
        s3_server.client("intruder", "not-the-secret-0123456789"), s3_server.bucket, KEYS,
        "2026-12", cache_dir=tmp_path, max_bytes=5_000_000,
    )  # fmt: skip
    with pytest.raises(AudioStoreError, match="InvalidAccessKeyId"):
        audio.put(call_id(), WAV, ".wav")


def test_the_purge_deletes_what_is_older_than_the_cutoff(
    s3_server: S3Server, tmp_path: Path
) -> None:
    audio = store(s3_server, tmp_path)
    refs = [audio.put(call_id(), WAV, ".wav") for _ in range(3)]
    assert audio.purge(datetime.now(UTC) - timedelta(days=1)).deleted == 0
    result = audio.purge(datetime.now(UTC) + timedelta(minutes=1))
    assert result.deleted >= 3 and result.bytes_freed >= 3 * len(WAV) and not result.errors
    for ref in refs:
        with pytest.raises(ApplicationError):
            audio.get(ref)


def test_a_transcription_reads_its_audio_from_the_store(
    s3_server: S3Server, tmp_path: Path, stt: SpeechEngine
) -> None:
    audio = store(s3_server, tmp_path)
    cid = call_id()
    ref = audio.put(cid, WAV, ".wav")
    acts = TranscribeActivities(stt, audio=audio)
    result = ActivityEnvironment().run(acts.transcribe, TranscribeInput(audio_path=ref))
    assert result.text.strip() and result.duration_s > 1
    assert list((tmp_path / "cache").iterdir()) == []
