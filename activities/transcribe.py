"""The `transcribe_voicemail` activity: a voicemail's audio → its transcript, with faster-whisper
(CTranslate2) on CPU, on the speech-to-text task queue. The engine (model, decoding, bounds)
is activities/speech/."""

from __future__ import annotations

from dataclasses import replace

from temporalio import activity

from activities.audio_store import AudioStore, is_remote
from activities.metrics import StepMetrics
from activities.speech.engine import SpeechEngine
from domain.models import TranscribeInput, TranscribeResult

__all__ = ["TranscribeActivities"]


class TranscribeActivities:
    def __init__(
        self,
        speech: SpeechEngine,
        *,
        metrics: StepMetrics | None = None,
        audio: AudioStore | None = None,
    ) -> None:
        self._speech = speech
        self._metrics = metrics
        self._audio = audio

    @activity.defn(name="transcribe_voicemail")
    def transcribe(self, inp: TranscribeInput) -> TranscribeResult:
        if self._audio is not None and is_remote(inp.audio_path):
            with self._audio.local(inp.audio_path) as path:
                result = self._speech.transcribe_file(
                    replace(inp, audio_path=str(path)), heartbeat=True
                )
        else:
            result = self._speech.transcribe_file(inp, heartbeat=True)
        if self._metrics is not None:
            self._metrics.observe_transcription(result.processing_s, result.duration_s)
        return result
