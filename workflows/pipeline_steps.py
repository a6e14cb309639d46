"""The voicemail pipeline's steps (domain/pipeline.py) as the workflow runs them: one activity
each. The steps that consult the recording run on the transcription workers' queue; their
failure (ActivityError, once their retries are spent) is the pipeline's `StepFailed`, since
they are optional. Any other step's failure propagates as it is.

The two audio votes go first to the worker that transcribed (its own task queue,
TranscribeResult.worker_queue), which keeps the message's decoded audio (issue 15). When no
worker takes them there within WORKER_QUEUE_WAIT (that worker is gone: stopped, restarted,
its queue is then a new one), they go to the shared queue, where any worker decodes the audio
again: the same scores, a little later, never a failure. The case remembers a gone worker:
its next vote goes to the shared queue at once (patch `stt-worker-gone-remembered`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, TimeoutType
from temporalio.exceptions import TimeoutError as TemporalTimeout

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


T = TypeVar("T")

# How long a vote may wait on the transcribing worker's own queue before it goes to the shared
# one. A live worker takes it at once (its own queue has its own slots): only a gone worker's
# queue waits this long, and then the case is late by this much.
WORKER_QUEUE_WAIT = timedelta(seconds=5)


def worker_gone(err: ActivityError) -> bool:
    """The activity was never taken from its queue (schedule-to-start timeout)."""
    cause = err.cause
    return isinstance(cause, TemporalTimeout) and cause.type == TimeoutType.SCHEDULE_TO_START


@dataclass(frozen=True)
class ActivitySteps:
    stt_queue: str  # the task queue of the transcription workers
    # The transcribing worker's own queue ("" : none, or a case begun before its patch).
    worker_queue: str = ""
    # Told when a vote found that worker gone, so that the case's next vote goes straight to
    # the shared queue instead of waiting WORKER_QUEUE_WAIT again.
    on_gone: Callable[[], None] | None = None

    async def _on_stt(self, call: Callable[..., Awaitable[T]], inp: Any) -> T:
        if self.worker_queue:
            try:
                return await call(
                    inp, task_queue=self.worker_queue, schedule_to_start=WORKER_QUEUE_WAIT
                )
            except ActivityError as err:
                if not worker_gone(err):
                    raise
                if self.on_gone is not None:
                    self.on_gone()
        return await call(inp, task_queue=self.stt_queue)

    async def understand(self, inp: UnderstandInput) -> Understanding:
        return await calls.UNDERSTAND(inp)

    async def refine_items(self, inp: ItemRefineInput) -> Understanding:
        try:
            return await self._on_stt(calls.REFINE_ITEMS, inp)
        except ActivityError as err:
            raise StepFailed(error_message(err)) from err

    async def propose(self, inp: AddressSearchInput) -> AddressCandidates:
        return await calls.PROPOSE_ADDRESSES(inp)

    async def score(self, inp: AddressScoringInput) -> AddressScores:
        try:
            return await self._on_stt(calls.SCORE_ADDRESS_CANDIDATES, inp)
        except ActivityError as err:
            raise StepFailed(error_message(err)) from err

    async def resolve(self, inp: ResolveAddressInput) -> GeocodeResult:
        return await calls.RESOLVE_ADDRESS(inp)
