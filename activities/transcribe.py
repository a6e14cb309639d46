"""The `transcribe_voicemail` activity: a voicemail's audio → its transcript, with faster-whisper
(CTranslate2) on CPU, on the speech-to-text task queue. The engine (model, decoding, bounds)
is activities/speech/."""

from __future__ import annotations

from temporalio import activity

from activities.metrics import StepMetrics
from activities.speech.engine import SpeechEngine
from domain.models import TranscribeInput, TranscribeResult

__all__ = ["TranscribeActivities"]


class TranscribeActivities:
    def __init__(self, speech: SpeechEngine, *, metrics: StepMetrics | None = None) -> None:
        self._speech = speech
        self._metrics = metrics

    @activity.defn(name="transcribe_voicemail")
    def transcribe(self, inp: TranscribeInput) -> TranscribeResult:
        result = self._speech.transcribe_file(inp, heartbeat=True)
        if self._metrics is not None:
            self._metrics.observe_transcription(result.processing_s, result.duration_s)
        return result
