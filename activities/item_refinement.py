"""The `refine_items` activity: the understanding of a booking completed with the items the
audio supports where the words name none ("un biffet" → buffet; activities/speech/items.py),
on the speech-to-text task queue, which holds the model."""

from __future__ import annotations

from temporalio import activity

from activities.audio_store import AudioStore
from activities.speech.engine import SpeechEngine
from activities.speech.feature_cache import MessageAudio
from domain.address_models import ItemRefineInput
from domain.models import Understanding

__all__ = ["ItemRefinementActivities"]


class ItemRefinementActivities:
    def __init__(
        self,
        speech: SpeechEngine,
        *,
        audio: AudioStore | None = None,
        features: MessageAudio | None = None,
    ) -> None:
        self._speech = speech
        self._features = features or MessageAudio(speech.settings.max_duration_s, store=audio)

    @activity.defn(name="refine_items")
    def refine_items(self, inp: ItemRefineInput) -> Understanding:
        """Bookings only; anything else comes back unchanged."""
        return self._speech.refine_items(
            inp, audio=self._features.loader(inp.call_id, inp.audio_path)
        )
