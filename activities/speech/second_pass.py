"""The second, targeted pass of the evaluation (`encombot eval --second-pass`): the address
segment transcribed again with the candidate street names as initial prompt. Measured no
better than forced scoring, and it can write streets that were not said: kept for
measurement, used by no workflow."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from activities.speech.address import address_clip
from activities.speech.audio import SAMPLE_RATE, load_audio
from activities.speech.model import SpeechModel
from activities.speech.scoring import segment_spans
from domain.address_models import AddressCandidates
from domain.models import Segment


@dataclass
class AddressPassInput:
    """Second, targeted transcription of the address (hotwords / initial prompt built from the
    candidates of the first pass)."""

    audio_path: str
    text: str
    segments: list[Segment]
    candidates: AddressCandidates
    call_id: str = ""
    max_names: int = 8


@dataclass
class AddressPassResult:
    text: str  # the whole transcript with the address segment(s) replaced by the new pass
    segment_text: str = ""  # what the second pass heard on the address segment(s)
    segments: list[Segment] = field(default_factory=list)  # the segments of `text`
    processing_s: float = 0.0
    reason: str = ""


def transcribe_address(speech: SpeechModel, inp: AddressPassInput) -> AddressPassResult:
    started = time.perf_counter()
    clip = address_clip(inp.text, inp.segments, inp.candidates)
    if clip is None:
        return AddressPassResult(text=inp.text, reason="adresse non localisée")
    audio = load_audio(Path(inp.audio_path), speech.settings.max_duration_s)
    piece = audio[int(clip.start_s * SAMPLE_RATE) : int(clip.end_s * SAMPLE_RATE)]
    names = [c.street for c in inp.candidates.candidates[: inp.max_names]]
    prompt = ", ".join(names)
    segments_iter, _ = speech.model().transcribe(
        piece,
        language=speech.settings.language,
        beam_size=speech.settings.beam_size,
        temperature=0.0,
        vad_filter=False,
        condition_on_previous_text=False,
        initial_prompt=prompt,
        # A prompt made of names invites Whisper to repeat them: cut loops short.
        max_new_tokens=64,
        compression_ratio_threshold=2.0,
    )
    heard = " ".join(seg.text.strip() for seg in segments_iter).strip()
    spans = [
        sp
        for sp in segment_spans(inp.text, inp.segments)
        if sp[1] > inp.candidates.region_start and sp[0] < inp.candidates.region_end
    ]
    text = inp.text
    segments = list(inp.segments)
    if heard and spans:
        text = (inp.text[: spans[0][0]] + heard + inp.text[spans[-1][1] :]).strip()
        replaced = {id(sp[2]) for sp in spans}
        merged = Segment(spans[0][2].start, spans[-1][2].end, heard, spans[0][2].avg_logprob)
        segments = []
        for seg in inp.segments:
            if id(seg) not in replaced:
                segments.append(seg)
            elif seg is spans[0][2]:
                segments.append(merged)
    return AddressPassResult(
        text=text,
        segment_text=heard,
        segments=segments,
        processing_s=round(time.perf_counter() - started, 3),
    )
