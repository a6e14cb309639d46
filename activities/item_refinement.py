"""The `refine_items` activity: the understanding of a booking completed with the items the
audio supports where the words name none ("un biffet" → buffet; activities/speech/items.py),
on the speech-to-text task queue, which holds the model."""

from __future__ import annotations

from temporalio import activity

from activities.speech.engine import SpeechEngine
from domain.address_models import ItemRefineInput
from domain.models import Understanding

__all__ = ["ItemRefinementActivities"]


class ItemRefinementActivities:
    def __init__(self, speech: SpeechEngine) -> None:
        self._speech = speech

    @activity.defn(name="refine_items")
    def refine_items(self, inp: ItemRefineInput) -> Understanding:
        """Bookings only; anything else comes back unchanged."""
        return self._speech.refine_items(inp)
