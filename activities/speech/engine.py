"""The speech engine of a process: one loaded Whisper model (model.py) and what is asked of
it. The three activities of the speech-to-text queue (activities/transcribe.py,
activities/address_scoring.py, activities/item_refinement.py), the live calls and the
evaluation share one engine, so one model and one silence encoding per process."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from activities.config import SttSettings
from activities.speech import address, items, second_pass, transcriber
from activities.speech.model import SpeechModel
from activities.speech.second_pass import AddressPassInput, AddressPassResult
from domain.address_models import AddressScores, AddressScoringInput, ItemRefineInput
from domain.catalogue import Catalogue
from domain.models import TranscribeInput, TranscribeResult, Understanding
from domain.understanding import Territory

AudioLoader = Callable[[], np.ndarray]


class SpeechEngine(SpeechModel):
    def __init__(
        self,
        settings: SttSettings,
        catalogue: Catalogue | None = None,
        *,
        territory: Territory | None = None,
    ) -> None:
        super().__init__(settings)
        self._catalogue = catalogue
        self._territory = territory

    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            from activities.understand import load_catalogue

            self._catalogue = load_catalogue()
        return self._catalogue

    def territory(self) -> Territory:
        """The territory whose words the item slots skip (commune names, street types):
        the worker passes its own; tools that pass none get the default folder's."""
        if self._territory is None:
            from activities.geo.territory_file import load_territory

            self._territory = load_territory()
        return self._territory

    # `audio`: the message's decoded audio (feature_cache.MessageAudio); None: decoded from
    # the input's `audio_path`.

    def transcribe_file(
        self, inp: TranscribeInput, heartbeat: bool = False, audio: AudioLoader | None = None
    ) -> TranscribeResult:
        return transcriber.transcribe_file(self, inp, heartbeat, audio)

    def score_address_candidates(
        self, inp: AddressScoringInput, audio: AudioLoader | None = None
    ) -> AddressScores:
        return address.score_address_candidates(self, inp, audio=audio)

    def refine_items(self, inp: ItemRefineInput, audio: AudioLoader | None = None) -> Understanding:
        return items.refine_items(self, self.catalogue, self.territory, inp, audio=audio)

    def transcribe_address(self, inp: AddressPassInput) -> AddressPassResult:
        """The evaluation's second pass (second_pass.py): no activity runs it."""
        return second_pass.transcribe_address(self, inp)
