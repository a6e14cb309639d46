"""The `score_address_candidates` activity: how much a voicemail's audio supports each
candidate address of `propose_addresses` (Whisper forced scoring, activities/speech/address.py),
on the speech-to-text task queue, which holds the model."""

from __future__ import annotations

from temporalio import activity

from activities.audio_store import AudioStore
from activities.speech.engine import SpeechEngine
from activities.speech.feature_cache import MessageAudio
from domain.address_models import AddressScores, AddressScoringInput

__all__ = ["AddressScoringActivities"]


class AddressScoringActivities:
    def __init__(
        self,
        speech: SpeechEngine,
        *,
        audio: AudioStore | None = None,
        features: MessageAudio | None = None,
    ) -> None:
        self._speech = speech
        self._features = features or MessageAudio(speech.settings.max_duration_s, store=audio)

    @activity.defn(name="score_address_candidates")
    def score_address_candidates(self, inp: AddressScoringInput) -> AddressScores:
        """Never fails on a missing segment or candidate: it says why nothing was scored, and
        the resolution then relies on the words alone."""
        try:
            return self._speech.score_address_candidates(
                inp, audio=self._features.loader(inp.call_id, inp.audio_path)
            )
        finally:
            # The message's last STT activity (domain/pipeline.py: transcription, items, then
            # the address): its audio is not needed on this worker any more.
            self._features.drop(inp.call_id)
