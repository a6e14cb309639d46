"""The voicemail pipeline's steps (domain/pipeline.py) as the workflow runs them: one activity
each. The steps that consult the recording run on the transcription workers' queue; their
failure (ActivityError, once their retries are spent) is the pipeline's `StepFailed`, since
they are optional. Any other step's failure propagates as it is."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import calls
from workflows.common import error_message

with workflow.unsafe.imports_passed_through():
    from domain.address_models import (
        AddressCandidates,
        AddressScores,
        AddressScoringInput,
        AddressSearchInput,
        ItemRefineInput,
        ResolveAddressInput,
    )
    from domain.models import GeocodeResult, Understanding, UnderstandInput
    from domain.pipeline import StepFailed


@dataclass(frozen=True)
class ActivitySteps:
    stt_queue: str  # the task queue of the transcription workers

    async def understand(self, inp: UnderstandInput) -> Understanding:
        return await calls.UNDERSTAND(inp)

    async def refine_items(self, inp: ItemRefineInput) -> Understanding:
        try:
            return await calls.REFINE_ITEMS(inp, task_queue=self.stt_queue)
        except ActivityError as err:
            raise StepFailed(error_message(err)) from err

    async def propose(self, inp: AddressSearchInput) -> AddressCandidates:
        return await calls.PROPOSE_ADDRESSES(inp)

    async def score(self, inp: AddressScoringInput) -> AddressScores:
        try:
            return await calls.SCORE_ADDRESS_CANDIDATES(inp, task_queue=self.stt_queue)
        except ActivityError as err:
            raise StepFailed(error_message(err)) from err

    async def resolve(self, inp: ResolveAddressInput) -> GeocodeResult:
        return await calls.RESOLVE_ADDRESS(inp)
