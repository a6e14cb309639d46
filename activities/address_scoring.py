"""The `score_address_candidates` activity: how much a voicemail's audio supports each
candidate address of `propose_addresses` (Whisper forced scoring, activities/speech/address.py),
on the speech-to-text task queue, which holds the model."""

from __future__ import annotations

from temporalio import activity

from activities.speech.engine import SpeechEngine
from domain.address_models import AddressScores, AddressScoringInput

__all__ = ["AddressScoringActivities"]


class AddressScoringActivities:
    def __init__(self, speech: SpeechEngine) -> None:
        self._speech = speech

    @activity.defn(name="score_address_candidates")
    def score_address_candidates(self, inp: AddressScoringInput) -> AddressScores:
        """Never fails on a missing segment or candidate: it says why nothing was scored, and
        the resolution then relies on the words alone."""
        return self._speech.score_address_candidates(inp)
