"""A voicemail transcribed: the whole file through Whisper, with the bounds of a usable message
(some speech heard, at least `min_speech_s` of it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from temporalio import activity

from activities.speech.audio import SAMPLE_RATE, load_audio, unusable
from activities.speech.model import SpeechModel
from domain.models import Segment, TranscribeInput, TranscribeResult


def transcribe_file(
    speech: SpeechModel,
    inp: TranscribeInput,
    heartbeat: bool = False,
    audio: Callable[[], np.ndarray] | None = None,
) -> TranscribeResult:
    """`audio`: the decoded audio of `inp` (the worker's feature cache); None: decoded from
    `inp.audio_path`."""
    settings = speech.settings
    samples = (
        load_audio(Path(inp.audio_path), settings.max_duration_s) if audio is None else audio()
    )
    duration = samples.shape[0] / SAMPLE_RATE
    started = time.perf_counter()
    options: dict[str, Any] = {
        "language": settings.language,
        "beam_size": settings.beam_size,
        # Temperature fallback on unintelligible audio multiplies decoding time for
        # garbage text; greedy-at-zero keeps the worst case bounded.
        "temperature": 0.0,
        "vad_filter": settings.vad_filter,
        "condition_on_previous_text": False,
    }
    if inp.initial_prompt:
        options["initial_prompt"] = inp.initial_prompt
    if inp.hotwords:
        options["hotwords"] = inp.hotwords
    segments_iter, info = speech.model().transcribe(samples, **options)
    segments: list[Segment] = []
    for seg in segments_iter:
        segments.append(
            Segment(
                start=round(float(seg.start), 2),
                end=round(float(seg.end), 2),
                text=seg.text.strip(),
                avg_logprob=float(seg.avg_logprob),
                no_speech_prob=float(seg.no_speech_prob),
            )
        )
        if heartbeat:
            activity.heartbeat(len(segments))
    text = " ".join(s.text for s in segments if s.text).strip()
    speech_s = sum(s.end - s.start for s in segments)
    if not text or speech_s < settings.min_speech_s:
        raise unusable("aucune parole détectée dans le message")
    total_len = sum(max(len(s.text), 1) for s in segments)
    avg_logprob = sum(s.avg_logprob * max(len(s.text), 1) for s in segments) / total_len
    return TranscribeResult(
        text=text,
        segments=segments,
        duration_s=round(duration, 3),
        language=info.language,
        avg_logprob=round(avg_logprob, 4),
        processing_s=round(time.perf_counter() - started, 3),
        model=speech.model_dir.name,
    )
