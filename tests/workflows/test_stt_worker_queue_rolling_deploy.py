"""Issue 15, a rolling deploy: a case whose transcription came from an upgraded STT worker
(TranscribeResult.worker_queue set) while its workflow code was still the former one (votes on
the shared queue, no `stt-worker-queue` marker), replayed by the new code: it must keep the
shared queue (workflow.patched is False without the marker). The replay alone cannot tell:
it does not compare an activity's task queue with the history's, so the queues the replayed
code asks for are recorded by an interceptor. Fails with the `workflow.patched` guard of
VoicemailWorkflow._steps removed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from domain.models import TranscribeResult
from tests.workflows.test_replay import HISTORIES, WORKFLOWS, converter, history
from workers.settings import Settings

SEEN: list[tuple[str, str | None]] = []


class _Out(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput):  # type: ignore[no-untyped-def]
        SEEN.append((input.activity, input.task_queue))
        return super().start_activity(input)


class _In(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Out(outbound))


class QueuesSeen(Interceptor):
    """The task queue each activity is scheduled on, as the replayed code asks (the replay
    itself does not compare task queues with the history's)."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _In


async def _with_worker_queue(base: Settings, path: Path) -> str:
    """The history with the transcription's result rewritten to name a worker queue."""
    conv = converter(base, path.parent)
    data = json.loads(path.read_text())
    done = 0
    for e in data["events"]:
        attrs = e.get("activityTaskCompletedEventAttributes")
        if attrs is None:
            continue
        scheduled = next(x for x in data["events"] if x["eventId"] == attrs["scheduledEventId"])[
            "activityTaskScheduledEventAttributes"
        ]
        if scheduled["activityType"]["name"] != "transcribe_voicemail":
            continue
        payloads = Payloads()
        json_format.ParseDict(attrs["result"], payloads)
        [result] = await conv.decode(payloads.payloads, [TranscribeResult])
        assert result.worker_queue == ""
        result.worker_queue = "encombot-stt@host-1-abcdef01"
        encoded = await conv.encode([result])
        attrs["result"] = json_format.MessageToDict(Payloads(payloads=encoded))
        done += 1
    assert done == 1
    return json.dumps(data)


def test_a_case_transcribed_by_a_new_worker_before_the_workflow_code_replays(
    base_settings: Settings,
) -> None:
    async def go() -> None:
        [path] = HISTORIES.glob("current/VoicemailWorkflow__voicemail-book-*.json")
        text = await _with_worker_queue(base_settings, path)
        replayer = Replayer(
            workflows=WORKFLOWS,
            data_converter=converter(base_settings, path.parent),
            interceptors=[QueuesSeen()],
        )
        SEEN.clear()
        result = await replayer.replay_workflow(history(path, text), raise_on_replay_failure=False)
        assert result.replay_failure is None, repr(result.replay_failure)
        votes = [q for a, q in SEEN if a in ("refine_items", "score_address_candidates")]
        # The history's votes ran on the shared queue: the replayed code asks the same.
        assert len(votes) == 2 and all("@" not in (q or "") for q in votes), SEEN

    asyncio.run(go())
