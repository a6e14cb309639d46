"""The `refine_items` activity: the understanding of a booking completed with the items the
audio supports where the words name none ("un biffet" → buffet; activities/speech/items.py),
on the speech-to-text task queue, which holds the model."""

from __future__ import annotations

from dataclasses import replace

from temporalio import activity

from activities.audio_store import AudioStore, is_remote
from activities.speech.engine import SpeechEngine
from domain.address_models import ItemRefineInput
from domain.models import Understanding

__all__ = ["ItemRefinementActivities"]


class ItemRefinementActivities:
    def __init__(self, speech: SpeechEngine, *, audio: AudioStore | None = None) -> None:
        self._speech = speech
        self._audio = audio

    @activity.defn(name="refine_items")
    def refine_items(self, inp: ItemRefineInput) -> Understanding:
        """Bookings only; anything else comes back unchanged."""
        if self._audio is not None and is_remote(inp.audio_path):
            # The object store's audio, in a private file for this activity only.
            with self._audio.local(inp.audio_path) as path:
                return self._speech.refine_items(replace(inp, audio_path=str(path)))
        return self._speech.refine_items(inp)
