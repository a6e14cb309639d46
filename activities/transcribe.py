"""The `transcribe_voicemail` activity: a voicemail's audio → its transcript, with faster-whisper
(CTranslate2) on CPU, on the speech-to-text task queue. The engine (model, decoding, bounds)
is activities/speech/."""

from __future__ import annotations

from dataclasses import replace

from temporalio import activity

from activities.audio_store import AudioStore
from activities.metrics import StepMetrics
from activities.speech.engine import SpeechEngine
from activities.speech.feature_cache import MessageAudio
from domain.models import TranscribeInput, TranscribeResult

__all__ = ["TranscribeActivities"]


class TranscribeActivities:
    def __init__(
        self,
        speech: SpeechEngine,
        *,
        metrics: StepMetrics | None = None,
        audio: AudioStore | None = None,
        features: MessageAudio | None = None,
        worker_queue: str = "",
    ) -> None:
        """`features`: where the decoded audio is kept for the message's next activities
        (shared with them); `worker_queue`: this worker's own task queue, which the workflow
        sends those activities to ("" : the worker polls none)."""
        self._speech = speech
        self._metrics = metrics
        self._features = features or MessageAudio(speech.settings.max_duration_s, store=audio)
        self._worker_queue = worker_queue

    @activity.defn(name="transcribe_voicemail")
    def transcribe(self, inp: TranscribeInput) -> TranscribeResult:
        try:
            result = self._speech.transcribe_file(
                inp, heartbeat=True, audio=self._features.loader(inp.call_id, inp.audio_path)
            )
        except BaseException:
            self._features.drop(inp.call_id)  # no follow-up will read it
            raise
        if self._metrics is not None:
            self._metrics.observe_transcription(result.processing_s, result.duration_s)
        return replace(result, worker_queue=self._worker_queue)
