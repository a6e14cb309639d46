"""The voicemail pipeline's sequence and its rules, in one place: the workflow awaits it through
its activity calls (workflows/pipeline_steps.py), the evaluation harness through the engines
called in-process (`encombot eval`, workers/dev/evaluation.py), so that what the eval measures
is what production does.

    understand → refine items (audio) → decide_request
      → propose addresses → score them (audio) → resolve → decide_address

Refining the items and scoring the addresses consult the recording: they run only when there
is one (not for a text-channel message), and they are optional. An implementation of the
steps raises `StepFailed` when one of them cannot run; the request then stands as understood
from the words, or the address is resolved from the words alone (its calibrated confidence is
lower: doubt goes to the caller or an agent, never a guess). Any other failure is the caller's
to handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from domain.address_models import (
    AddressCandidates,
    AddressScores,
    AddressScoringInput,
    AddressSearchInput,
    ItemRefineInput,
    ResolveAddressInput,
)
from domain.decision import BOOK_THRESHOLD, CONFIRM_THRESHOLD, Decision, decide_address
from domain.models import (
    GeocodeResult,
    Intent,
    Segment,
    Understanding,
    UnderstandInput,
)


class StepFailed(Exception):
    """An optional step could not run. The message says why (an error, never caller data)."""


@dataclass(frozen=True)
class Message:
    """What the pipeline works from: the words and, when there is one, the recording."""

    call_id: str
    caller_number: str
    text: str
    segments: list[Segment] = field(default_factory=list)
    audio_path: str = ""  # "" : no recording to consult (a message that came as text)
    written: bool = False  # the words are the caller's own (an SMS), not a transcript


class PipelineSteps(Protocol):
    """The steps, each one activity in production."""

    async def understand(self, inp: UnderstandInput) -> Understanding: ...

    async def refine_items(self, inp: ItemRefineInput) -> Understanding: ...

    async def propose(self, inp: AddressSearchInput) -> AddressCandidates: ...

    async def score(self, inp: AddressScoringInput) -> AddressScores: ...

    async def resolve(self, inp: ResolveAddressInput) -> GeocodeResult: ...


async def understand_message(
    steps: PipelineSteps,
    msg: Message,
    *,
    note: Callable[[str], None],
    refine: bool = True,
    understood: Callable[[Understanding], None] | None = None,
) -> Understanding:
    """The request said in the message: the words understood, then the items the words missed
    named by the audio ("un biffet" → buffet), for a booking. `note` receives what went
    wrong on the way; `understood`, each understanding as soon as it is known. `refine`
    False: no audio refinement (an evaluation option)."""
    u = await steps.understand(UnderstandInput(text=msg.text, caller_number=msg.caller_number))
    if understood is not None:
        understood(u)
    if not refine or u.intent != Intent.BOOKING or not msg.audio_path:
        return u
    try:
        u = await steps.refine_items(
            ItemRefineInput(
                audio_path=msg.audio_path,
                text=msg.text,
                segments=msg.segments,
                understanding=u,
                call_id=msg.call_id,
            )
        )
    except StepFailed as err:
        note(f"vérification des objets par l'audio impossible: {err}")
    return u


async def resolve_address(
    steps: PipelineSteps,
    msg: Message,
    u: Understanding,
    *,
    note: Callable[[str], None],
    score: bool = True,
) -> GeocodeResult:
    """Gazetteer streets that could have been said, the audio's vote among them, then one
    address with a calibrated confidence (`decide_on_address` turns it into book / confirm by
    SMS / escalate). `score` False: no audio vote (an evaluation option)."""
    candidates = await steps.propose(AddressSearchInput(text=msg.text, address=u.address))
    scores: AddressScores | None = None
    if score and candidates.candidates and msg.audio_path:
        try:
            scores = await steps.score(
                AddressScoringInput(
                    audio_path=msg.audio_path,
                    text=msg.text,
                    segments=msg.segments,
                    candidates=candidates,
                    call_id=msg.call_id,
                )
            )
        except StepFailed as err:
            # Without the audio's vote the words alone decide, and the calibrated
            # confidence is lower: doubt goes to the caller or an agent, never a guess.
            note(f"adresse non vérifiée par l'audio: {err}")
    return await steps.resolve(
        ResolveAddressInput(
            candidates=candidates, scores=scores, address=u.address, written=msg.written
        )
    )


def decide_on_address(
    geo: GeocodeResult,
    *,
    book_threshold: float = BOOK_THRESHOLD,
    confirm_threshold: float = CONFIRM_THRESHOLD,
) -> Decision:
    """`decide_address` with the thresholds the resolver was configured with (the worker's
    settings travel with its result), else the given ones."""
    return decide_address(
        geo,
        book_threshold=geo.book_threshold or book_threshold,
        confirm_threshold=geo.confirm_threshold or confirm_threshold,
    )
