"""The caller's reply to the address-choice SMS can reach the case before the SMS activity's
completion does: the provider delivered the SMS, the caller answered at once, and the worker
had not yet reported the send (a slow network, a worker restart). The answer must pick the
address all the same (`choice-open-during-send` patch); before, it was kept as a plain reply
and the case waited for an answer the caller had already given (a CI failure of 2026-12-04).

Here the send activity itself delivers the caller's "1" and waits until the signal is in the
case's history before it completes: the race, every time (real dev server, real activities).

With ENCOMBOT_RECORD_HISTORIES=1 the case's history is written to
tests/workflows/histories/choice-open-during-send/ (with the session's test-only codec key),
which test_replay.py replays on every run."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from domain.case_state import WorkflowState
from domain.models import (
    NotifyInput,
    NotifyResult,
    SmsReplyInput,
    Status,
)
from domain.names import SEND_SMS, SMS_REPLY_SIGNAL, STATE_QUERY
from tests.workflows.recording import record_history
from tests.workflows.test_voicemail import (
    case_settings,
    outbox,
    start_text_message,
    store,
    uncertain,
)
from workers.settings import Settings
from workers.worker.composition import build_default_activities, workers_running

HISTORIES = Path(__file__).parent / "histories" / "choice-open-during-send"


def _name(fn: Any) -> str:
    defn = activity._Definition.from_callable(fn)
    return defn.name if defn and defn.name else ""


async def _signal_in_history(handle: WorkflowHandle[Any, Any]) -> None:
    for _ in range(200):
        history = await handle.fetch_history()
        if any(
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED for e in history.events
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the reply never reached the case")


async def test_a_reply_that_arrives_before_the_send_completes_picks_the_address(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = uncertain(case_settings(base_settings, tmp_path))
    call_id = f"vmrace-{uuid.uuid4().hex[:6]}"
    workflow_id = f"voicemail-{call_id}"
    loop = asyncio.get_running_loop()
    acts = build_default_activities(settings, client)
    [real_send] = [a for a in acts if _name(a) == SEND_SMS]

    @activity.defn(name=SEND_SMS)
    def send_then_reply_first(inp: NotifyInput) -> NotifyResult:
        result: NotifyResult = real_send(inp)
        if inp.template == "address_choice":
            # The activity runs in a thread: the client's calls go to the test's event loop.
            handle = client.get_workflow_handle(workflow_id)
            reply = SmsReplyInput(text="1", message_id="choice")
            for step in (handle.signal(SMS_REPLY_SIGNAL, reply), _signal_in_history(handle)):
                asyncio.run_coroutine_threadsafe(step, loop).result(30)
        return result

    acts = [send_then_reply_first if a is real_send else a for a in acts]
    async with workers_running(client, settings, "default", default_activities=acts):
        handle = await start_text_message(
            client,
            settings,
            call_id,
            "Bonjour, pour enlever une table au 12 boulevard Chave, 13005 Marseille.",
        )
        try:
            result = await asyncio.wait_for(handle.result(), 120)
        except TimeoutError:
            st = await handle.query(STATE_QUERY, result_type=WorkflowState)
            raise AssertionError(f"{st.status} {st.step} {st.history}") from None
        state = await handle.query(STATE_QUERY, result_type=WorkflowState)
        await client.get_workflow_handle(f"booking-{call_id}").terminate("test over")
        await record_history(handle, settings, HISTORIES, "VoicemailWorkflow")
    assert result.status == Status.BOOKED, state.history
    # The answer picked the address; it was not kept as a reply for an agent.
    assert any(line.startswith("adresse confirmée par l'appelant") for line in state.history)
    booking = store(settings).get_by_call(call_id)
    assert booking is not None
    sent = outbox(settings)
    assert sent[0]["key"].endswith(":address_choice"), [s["key"] for s in sent]
    assert "enlèvement confirmé" in sent[-1]["text"]
