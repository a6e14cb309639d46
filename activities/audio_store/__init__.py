"""Where voicemail audio lives between the ingress that receives it and the speech-to-text
workers that read it (issue 23): a local directory (the embedded default: one host, or a
volume shared by the roles) or an S3-compatible object store (several hosts, nothing shared but
the store).

An audio reference is what `VoicemailInput.audio_path` carries: a local path, or
`s3://<bucket>/<object>`. The object is sealed with the payload codec's keys before it leaves
the process (sealed.py): the store never holds a voice in clear. Readers get a local file for
the time of one activity (`local`), decoded by PyAV as before."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Protocol

from domain.retention import PurgeAudioResult

S3_SCHEME = "s3://"


class AudioStore(Protocol):
    def put(self, call_id: str, data: bytes, extension: str) -> str:
        """Store a voicemail's audio once (a retry keeps the first copy); its reference."""

    def local(self, ref: str) -> AbstractContextManager[Path]:
        """A local file holding the audio of `ref` while the block runs."""

    def purge(self, older_than: datetime) -> PurgeAudioResult:
        """Delete the audio stored before `older_than` (the retention purge)."""


def is_remote(ref: str) -> bool:
    return ref.startswith(S3_SCHEME)
