"""The `score_address_candidates` activity: how much a voicemail's audio supports each
candidate address of `propose_addresses` (Whisper forced scoring, activities/speech/address.py),
on the speech-to-text task queue, which holds the model."""

from __future__ import annotations

from dataclasses import replace

from temporalio import activity

from activities.audio_store import AudioStore, is_remote
from activities.speech.engine import SpeechEngine
from domain.address_models import AddressScores, AddressScoringInput

__all__ = ["AddressScoringActivities"]


class AddressScoringActivities:
    def __init__(self, speech: SpeechEngine, *, audio: AudioStore | None = None) -> None:
        self._speech = speech
        self._audio = audio

    @activity.defn(name="score_address_candidates")
    def score_address_candidates(self, inp: AddressScoringInput) -> AddressScores:
        """Never fails on a missing segment or candidate: it says why nothing was scored, and
        the resolution then relies on the words alone."""
        if self._audio is not None and is_remote(inp.audio_path):
            # The object store's audio, in a private file for this activity only.
            with self._audio.local(inp.audio_path) as path:
                return self._speech.score_address_candidates(replace(inp, audio_path=str(path)))
        return self._speech.score_address_candidates(inp)
