"""Audio sealed with the codec's keys (activities/audio_store/sealed.py)."""

from __future__ import annotations

import os

import pytest

from activities.audio_store.sealed import SealError, open_sealed, seal

OLD, NEW = os.urandom(32), os.urandom(32)
AUDIO = b"RIFF\x00\x00\x00\x00WAVEfmt " + os.urandom(2000)


def test_sealed_audio_opens_with_its_key_and_hides_the_voice() -> None:
    blob = seal({"k1": OLD}, "k1", "voicemails/vm-a.wav", AUDIO)
    assert b"RIFF" not in blob and AUDIO[20:60] not in blob
    assert open_sealed({"k1": OLD}, "voicemails/vm-a.wav", blob) == AUDIO


def test_rotation_keeps_old_objects_readable() -> None:
    blob = seal({"k1": OLD}, "k1", "voicemails/vm-a.wav", AUDIO)
    assert open_sealed({"k1": OLD, "k2": NEW}, "voicemails/vm-a.wav", blob) == AUDIO
    with pytest.raises(SealError, match="clé absente"):
        open_sealed({"k2": NEW}, "voicemails/vm-a.wav", blob)


def test_an_object_moved_to_another_call_does_not_open() -> None:
    blob = seal({"k1": OLD}, "k1", "voicemails/vm-a.wav", AUDIO)
    with pytest.raises(SealError, match="altéré"):
        open_sealed({"k1": OLD}, "voicemails/vm-b.wav", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SealError, match="altéré"):
        open_sealed({"k1": OLD}, "voicemails/vm-a.wav", tampered)


def test_what_is_not_sealed_is_refused() -> None:
    with pytest.raises(SealError, match="non scellé"):
        open_sealed({"k1": OLD}, "voicemails/vm-a.wav", AUDIO)
