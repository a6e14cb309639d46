"""Histories recorded by earlier versions of the workflows replay on today's code.

`histories/current/` holds a history of each workflow type (recorded with ddba2a9, before the
layout refactor; its follow-ups are from before the `agent-booking-changes` patch);
`histories/before-ack-in-background/` voicemail escalations from before the
`ack-in-background` patch; `histories/before-i18/` the cases issue 18 bounded, recorded before
its patches (`follow-up-bounded`, `missed-call-continue-as-new`, `incoming-sms-continue-as-new`):
a follow-up that forwarded several replies then took ANNULER, one that forwarded replies then
reminded, a missed call with repeated calls that became a callback task, an SMS case with
several messages and an agent's no-answer; `histories/agents/` what agents do since issue 20 (a
booking moved, its items changed and cancelled through `change_booking`; an SMS case claimed by
two agents; a voicemail claimed with its audio link) and a route-sheet export.
`histories/i17-agent-actor/`
a voicemail booked after an agent's correction, with the `booking-actor-agent` marker
(recorded by test_agent_actor.py with ENCOMBOT_RECORD_HISTORIES=1); `histories/i17-purge-sms/`
a purge run with the `purge-sms-records` and `close-stale-cases` markers (test_purge_sms.py);
`histories/i21-warm-transfer/` two live calls transferred whose caller no agent reached (hung
up during the announcement; nobody took the case before its timer), texted that a person
will call back, with the `live-call-transfer-sms` marker (test_live_call_transfer.py);
`histories/i16-booking-and-question/` messages with a pickup and a question: booked then
answered; booked, then the question handed to an agent who closed it; with the
`booking-and-question` marker (test_voicemail_question.py);
`histories/choice-open-during-send/` a message whose caller's address choice reached the case
before the choice SMS's completion did, then booked, with the `choice-open-during-send` marker
(test_voicemail_choice_race.py); `histories/i17-sms-route/` a follow-up that took over its
number's SMS reply route at start and was cancelled by SMS, with the `follow-up-sms-route`
marker (test_booking_follow_up.py); `histories/i15-stt-worker-queue/` two messages whose audio
votes went to the transcribing worker's own queue, one taken there, one whose worker was gone
(a schedule-to-start timeout, then the shared queue), with the `stt-worker-queue` marker
(test_voicemail_stt_worker_queue.py); `histories/before-address-by-sms/` a request with items
and no address, sent to an agent at once before the `address-by-sms` patch, and
`histories/i16-address-by-sms/` the same message's case since: the address asked by SMS, a
greeting then the address in reply, read back and booked, with the marker
(test_voicemail_address_by_sms.py); `histories/i16-number-by-sms/` a street said without its
number, the number asked by SMS (« au 12 »), read back and booked, with the same marker;
`histories/i15-stt-worker-gone-remembered/` a message whose transcribing worker was gone: the
items' vote waited on its queue, then the address vote went to the shared queue at once, with
the `stt-worker-gone-remembered` marker (test_voicemail_stt_worker_queue.py).
Each folder has
the test-only codec key its payloads were encrypted with. A change that alters the commands a
workflow issues for a given history (an activity added, removed or reordered, a timer, a child
workflow, a missing `workflow.patched`) breaks the cases those histories stand for: the replay
reports a
nondeterminism error.

The last two tests prove the check can fail: an altered copy of a workflow, and an altered
history, are both reported.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from domain.retention import (
    PURGE_WORKFLOW,
    AnonymiseInput,
    PurgeAudioInput,
    PurgeInput,
    PurgeResult,
)
from workers.codec.payload import data_converter
from workers.settings import Settings
from workflows import calls
from workflows.booking_follow_up import BookingFollowUpWorkflow
from workflows.incoming_sms import IncomingSmsWorkflow
from workflows.live_call import LiveCallWorkflow
from workflows.missed_call import MissedCallWorkflow
from workflows.purge import PurgeWorkflow
from workflows.route_sheets import RouteSheetExportWorkflow
from workflows.sms_poll import SmsPollWorkflow
from workflows.voicemail import VoicemailWorkflow

HISTORIES = Path(__file__).parent / "histories"
WORKFLOWS = [
    BookingFollowUpWorkflow,
    IncomingSmsWorkflow,
    LiveCallWorkflow,
    MissedCallWorkflow,
    PurgeWorkflow,
    RouteSheetExportWorkflow,
    SmsPollWorkflow,
    VoicemailWorkflow,
]
FILES = sorted(HISTORIES.glob("*/*.json"))


def converter(base: Settings, folder: Path) -> DataConverter:
    """The workers' data converter, keyed with the folder's test-only key (and no other)."""
    codec = base.codec.model_copy(
        update={"keys": {}, "allow_dev_key": True, "dev_key_file": folder / "test-codec.key"}
    )
    return data_converter(base.model_copy(update={"codec": codec}))


def history(path: Path, text: str | None = None) -> WorkflowHistory:
    # File names: <workflow type>__<workflow id>.json
    return WorkflowHistory.from_json(path.stem.split("__", 1)[1], text or path.read_text())


def test_every_workflow_type_has_a_history() -> None:
    recorded = {f.stem.split("__", 1)[0] for f in FILES}
    assert recorded == {w.__name__ for w in WORKFLOWS}
    assert any(f.parent.name == "before-ack-in-background" for f in FILES)
    assert {f.stem.split("__", 1)[0] for f in FILES if f.parent.name == "before-i18"} == {
        "BookingFollowUpWorkflow",
        "IncomingSmsWorkflow",
        "MissedCallWorkflow",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_replays(base_settings: Settings, path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=converter(base_settings, path.parent))
    result = await replayer.replay_workflow(history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"


@workflow.defn(name=PURGE_WORKFLOW, sandboxed=False)
class PurgeBookingsFirst:
    """PurgeWorkflow with its two activities swapped: what a careless edit would do."""

    @workflow.run
    async def run(self, inp: PurgeInput) -> PurgeResult:
        await calls.ANONYMISE_BOOKINGS(AnonymiseInput(pickup_before="2000-01-01"))
        await calls.PURGE_AUDIO(PurgeAudioInput(older_than="2000-01-01T00:00:00+00:00"))
        return PurgeResult()


async def test_an_altered_workflow_fails_the_replay(base_settings: Settings) -> None:
    [path] = HISTORIES.glob("current/PurgeWorkflow__*.json")
    replayer = Replayer(
        workflows=[PurgeBookingsFirst], data_converter=converter(base_settings, path.parent)
    )
    result = await replayer.replay_workflow(history(path), raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, workflow.NondeterminismError), result.replay_failure


async def test_an_altered_history_fails_the_replay(base_settings: Settings) -> None:
    [path] = HISTORIES.glob("current/SmsPollWorkflow__*.json")
    data = json.loads(path.read_text())
    scheduled = next(
        e["activityTaskScheduledEventAttributes"]
        for e in data["events"]
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
    )
    assert scheduled["activityType"]["name"] == "poll_incoming_sms"
    scheduled["activityType"]["name"] = "poll_incoming_mail"
    replayer = Replayer(workflows=WORKFLOWS, data_converter=converter(base_settings, path.parent))
    result = await replayer.replay_workflow(
        history(path, json.dumps(data)), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, workflow.NondeterminismError), result.replay_failure


def _marker_renamed(data: dict, patch_id: str) -> dict:
    """The history as a workflow that never called `workflow.patched(patch_id)` would meet it:
    that patch's marker names another patch."""

    def payload(event: dict) -> dict | None:
        attrs = event.get("markerRecordedEventAttributes")
        return attrs["details"]["patch-data"]["payloads"][0] if attrs else None

    renamed = 0
    for event in data["events"]:
        p = payload(event)
        if p is not None and json.loads(base64.b64decode(p["data"]))["id"] == patch_id:
            other = {"id": f"not-{patch_id}", "deprecated": False}
            p["data"] = base64.b64encode(json.dumps(other).encode()).decode()
            renamed += 1
    assert renamed == 1, patch_id
    return data


def _scheduled(data: dict) -> list[str]:
    return [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in data["events"]
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
    ]


async def _fails_without_marker(
    base_settings: Settings, path: Path, data: dict, patch_id: str
) -> None:
    """The history, its `patch_id` marker renamed, no longer replays: the commands that
    patch guards are the history's."""
    altered = _marker_renamed(data, patch_id)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=converter(base_settings, path.parent))
    result = await replayer.replay_workflow(
        history(path, json.dumps(altered)), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, workflow.NondeterminismError), result.replay_failure


async def test_the_side_question_answer_stands_on_its_patch(base_settings: Settings) -> None:
    """The `booking-and-question` case (histories/i16-booking-and-question) replays only with
    its marker: the answer after the confirmation is a command the patch guards."""
    [path] = HISTORIES.glob("i16-booking-and-question/VoicemailWorkflow__voicemail-vmq-*.json")
    data = json.loads(path.read_text())
    scheduled = _scheduled(data)
    # The booking, its confirmation, then the question's answer and its SMS.
    assert scheduled[-4:] == ["book_pickup", "send_sms", "answer_question", "send_sms"]
    await _fails_without_marker(base_settings, path, data, "booking-and-question")


async def test_the_choice_taken_during_its_sms_stands_on_its_patch(base_settings: Settings) -> None:
    """The `choice-open-during-send` case replays only with its marker: without it, the reply
    that came during the SMS's send is a plain reply, and the case would have waited (a timer)
    instead of booking."""
    [path] = HISTORIES.glob("choice-open-during-send/VoicemailWorkflow__voicemail-vmrace-*.json")
    data = json.loads(path.read_text())
    events = data["events"]
    first_sms = next(
        e["eventId"]
        for e in events
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
        and e["activityTaskScheduledEventAttributes"]["activityType"]["name"] == "send_sms"
    )
    sms_done = next(
        int(e["eventId"])
        for e in events
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"
        and e["activityTaskCompletedEventAttributes"]["scheduledEventId"] == first_sms
    )
    signalled = next(
        int(e["eventId"])
        for e in events
        if e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"
    )
    # The reply is in the history before the choice SMS's completion (the race recorded).
    assert signalled < sms_done
    await _fails_without_marker(base_settings, path, data, "choice-open-during-send")


async def test_the_missed_call_route_dropped_at_close_stands_on_its_patch(
    base_settings: Settings,
) -> None:
    """The `missed-call-route-closed` case replays only with its marker: the activity that
    drops the route is a command the patch guards."""
    [path] = HISTORIES.glob("i17-missed-call-route/MissedCallWorkflow__*.json")
    data = json.loads(path.read_text())
    scheduled = _scheduled(data)
    assert scheduled[-1] == "listen_for_sms_replies"
    await _fails_without_marker(base_settings, path, data, "missed-call-route-closed")


async def test_the_follow_up_route_stands_on_its_patch(base_settings: Settings) -> None:
    """The `follow-up-sms-route` case replays only with its marker: the route taken over at
    the follow-up's start is a command the patch guards."""
    [path] = HISTORIES.glob("i17-sms-route/BookingFollowUpWorkflow__*.json")
    data = json.loads(path.read_text())
    assert "listen_for_sms_replies" in _scheduled(data)
    await _fails_without_marker(base_settings, path, data, "follow-up-sms-route")


async def test_the_votes_routed_to_the_transcribing_worker_stand_on_their_patch(
    base_settings: Settings,
) -> None:
    """The `stt-worker-queue` case whose worker was gone replays only with its marker: each
    vote scheduled on that worker's queue, then again on the shared one, are commands the
    patch guards."""
    [path] = [p for p in HISTORIES.glob("i15-stt-worker-queue/*.json") if "@gone" in p.read_text()]
    data = json.loads(path.read_text())
    votes = {"refine_items", "score_address_candidates"}
    assert [n for n in _scheduled(data) if n in votes] == [
        "refine_items",
        "refine_items",
        "score_address_candidates",
        "score_address_candidates",
    ]
    await _fails_without_marker(base_settings, path, data, "stt-worker-queue")


async def test_the_address_asked_by_sms_stands_on_its_patch(base_settings: Settings) -> None:
    """The `address-by-sms` case replays only with its marker: the SMS asking for the address,
    then the reply's understanding and address lookup, are commands the patch guards; the
    case from before it (the agent queue at once) replays on today's code without one."""
    [path] = HISTORIES.glob("i16-address-by-sms/VoicemailWorkflow__*.json")
    data = json.loads(path.read_text())
    # The message, the request; the greeting read, then with the address; the address read
    # back ("Répondez 1"), booked and confirmed.
    assert _scheduled(data) == [
        "understand_message",
        "send_sms",
        "understand_message",
        "understand_message",
        "propose_addresses",
        "resolve_address",
        "send_sms",
        "book_pickup",
        "send_sms",
    ]
    await _fails_without_marker(base_settings, path, data, "address-by-sms")
    [before] = HISTORIES.glob("before-address-by-sms/VoicemailWorkflow__*.json")
    assert "address-by-sms" not in before.read_text()
    # The agent queue at once: the reference for the agent's corrections, the callback SMS.
    assert _scheduled(json.loads(before.read_text())) == [
        "understand_message",
        "territory_reference",
        "send_sms",
    ]


async def test_the_gone_worker_remembered_stands_on_its_patch(base_settings: Settings) -> None:
    """The `stt-worker-gone-remembered` case replays only with its marker: the address vote
    scheduled on the shared queue at once, instead of the gone worker's queue first, is the
    command that patch changes (the `stt-worker-queue` case of the same kind, recorded
    before, still replays with its two waits)."""
    [path] = HISTORIES.glob("i15-stt-worker-gone-remembered/VoicemailWorkflow__*.json")
    data = json.loads(path.read_text())
    votes = {"refine_items", "score_address_candidates"}
    assert [n for n in _scheduled(data) if n in votes] == [
        "refine_items",
        "refine_items",
        "score_address_candidates",
    ]
    await _fails_without_marker(base_settings, path, data, "stt-worker-gone-remembered")


async def test_the_number_asked_by_sms_stands_on_its_patch(base_settings: Settings) -> None:
    """A street without its number: the lookup, then the `address-by-sms` marker, the SMS
    asking, the reply read and looked up again; without the marker the case would have
    gone to a person after the first lookup."""
    [path] = HISTORIES.glob("i16-number-by-sms/VoicemailWorkflow__*.json")
    data = json.loads(path.read_text())
    assert _scheduled(data) == [
        "understand_message",
        "propose_addresses",
        "resolve_address",
        "send_sms",
        "understand_message",
        "propose_addresses",
        "resolve_address",
        "send_sms",
        "book_pickup",
        "send_sms",
    ]
    await _fails_without_marker(base_settings, path, data, "address-by-sms")
