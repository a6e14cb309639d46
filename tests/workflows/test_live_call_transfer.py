"""The warm transfer on the workflow's side (workflows/live_call.py): the case the agents see
while the dialplan rings them, and the SMS to a caller whom no agent reached (hung up during
the transfer's announcement, or nobody took the case in time). The dialogue's activity is a
stand-in returning a transfer's progress: what it says on the line is tested in
tests/domain/test_dialogue_transfer.py.

With ENCOMBOT_RECORD_HISTORIES=1 the histories of the dropped call and of the transfer
nobody took (its timer) are written to
tests/workflows/histories/i21-warm-transfer/ (with the session's test-only codec key), which
test_replay.py replays on every run: the `live-call-transfer-sms` patch's marker included."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.speech.engine import SpeechEngine
from domain import names
from domain.claims import ClaimInput, ClaimResult
from domain.escaping import markdown_text
from domain.live_call_models import (
    LiveCallActivityInput,
    LiveCallInput,
    LiveCallProgress,
    LiveCallResult,
    LiveCallState,
    Outcome,
    Phase,
)
from domain.models import (
    AddressMatch,
    ItemCount,
    ResolveInput,
    ResolveResult,
    SmsReplyInput,
    SpokenAddress,
    Understanding,
)
from tests.workflows.recording import record_history
from tests.workflows.test_claims import details
from tests.workflows.test_voicemail import case_settings, outbox, running_worker
from workers.settings import Settings

HISTORIES = Path(__file__).parent / "histories" / "i21-warm-transfer"
MOBILE = "+33612345678"
MATCH = AddressMatch(
    "12", "Boulevard Chave", "13005", "13205", "Marseille", 5.40, 43.29, score=1.0, sector="13205"
)


def transferred(*, dropped: bool) -> LiveCallProgress:
    return LiveCallProgress(
        phase=Phase.ENDED.value,
        outcome=Outcome.TRANSFER.value,
        transfer_reason="caller_asked",
        heard=["J'habite au 12 boulevard Chave", "un canapé", "je veux parler à quelqu'un"],
        understanding=Understanding(
            intent="booking",
            address=SpokenAddress(housenumber="12", street="boulevard Chave"),
            items=[ItemCount("canapé", 1)],
        ),
        match=MATCH,
        confirmed=["number"],
        turns=3,
        dropped=dropped,
    )


@asynccontextmanager
async def call_ending_with(
    client: Client,
    settings: Settings,
    stt: SpeechEngine,
    progress: LiveCallProgress,
    wait_s: int,
    caller: str = MOBILE,
) -> AsyncIterator[WorkflowHandle[Any, LiveCallResult]]:
    """The workers, a stand-in for the telephony process's dialogue, and a live call whose
    dialogue ends with `progress`."""

    @activity.defn(name=names.RUN_LIVE_CALL)
    async def run_live_call(inp: LiveCallActivityInput) -> LiveCallProgress:
        return progress

    media_queue = f"{settings.temporal.task_queue}-media"
    call_id = str(uuid.uuid4())
    async with (
        running_worker(client, settings, stt),
        Worker(client, task_queue=media_queue, activities=[run_live_call]),
    ):
        handle = await client.start_workflow(
            names.LIVE_CALL_WORKFLOW,
            LiveCallInput(
                call_id=call_id,
                media_task_queue=media_queue,
                caller_number=caller,
                transfer_answer_s=wait_s,
            ),
            id=names.live_call_workflow_id(call_id),
            task_queue=settings.temporal.task_queue,
            result_type=LiveCallResult,
        )
        yield handle


async def texts(settings: Settings, count: int, timeout: float) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while len(sent := outbox(settings)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return sent


async def waiting_agent(handle: WorkflowHandle[Any, Any]) -> LiveCallState:
    deadline = time.monotonic() + 30
    while True:
        state = await handle.query(names.STATE_QUERY, result_type=LiveCallState)
        if state.status == "waiting_agent" or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.2)


async def record(handle: WorkflowHandle[Any, Any], settings: Settings) -> None:
    await record_history(handle, settings, HISTORIES, "LiveCallWorkflow")


async def close(handle: WorkflowHandle[Any, LiveCallResult]) -> LiveCallResult:
    done = await handle.execute_update(
        names.RESOLVE_UPDATE,
        ResolveInput(agent_id="agent-1", action="close", comment="rappelé"),
        result_type=ResolveResult,
    )
    assert done.accepted
    return await asyncio.wait_for(handle.result(), 30)


async def test_caller_hung_up_during_the_transfer_is_texted_at_once(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    progress = transferred(dropped=True)
    async with call_ending_with(client, settings, stt, progress, wait_s=3600) as handle:
        state = await waiting_agent(handle)
        assert state.status == "waiting_agent"
        # The agent's case: a transfer, why, and what is known and how sure, not to ask twice.
        shown = await details(handle)
        assert "## Appel transféré par le bot" in shown
        assert "l'appelant a demandé à parler à une personne" in shown
        assert "- numéro : 12 — confirmé par l'appelant" in shown
        assert "- rue : Boulevard Chave — trouvée dans la base adresse" in shown
        assert "- objets : 1 canapé" in shown
        sent = await texts(settings, 1, 30)
        assert [s["to"] for s in sent] == [MOBILE]
        assert "Un conseiller va vous rappeler" in sent[0]["text"]
        # The caller answers the text: the agent who calls back reads it (before, the reply
        # reached this case, which had no handler for it, and was lost).
        reply = SmsReplyInput(text="Rappelez-moi après 18h *svp*", message_id="r-1")
        await handle.signal(names.SMS_REPLY_SIGNAL, reply)
        await handle.signal(names.SMS_REPLY_SIGNAL, reply)  # re-delivered: once
        for _ in range(50):
            if "Réponses SMS" in (shown := await details(handle)):
                break
            await asyncio.sleep(0.1)
        assert "**Réponses SMS de l'appelant**" in shown
        assert shown.count(f"> {markdown_text(reply.text)}") == 1, shown
        assert "\\*svp\\*" in shown  # escaped: the caller's text is no Markdown
        result = await close(handle)
        await record(handle, settings)
    assert result.status == "closed" and result.outcome == Outcome.TRANSFER
    assert len(outbox(settings)) == 1  # once


async def test_a_transfer_nobody_takes_is_texted_and_stays_a_callback_task(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with call_ending_with(
        client, settings, stt, transferred(dropped=False), wait_s=2
    ) as handle:
        await waiting_agent(handle)
        sent = await texts(settings, 1, 30)
        assert len(sent) == 1 and "Un conseiller va vous rappeler" in sent[0]["text"]
        state = await handle.query(names.STATE_QUERY, result_type=LiveCallState)
        assert state.status == "waiting_agent"  # the callback task it was, texted or not
        desc = await handle.describe()
        assert desc.search_attributes.get("NeedsAgent") == [True]
        result = await close(handle)
        await record(handle, settings)
    assert result.status == "closed"


async def test_a_transfer_an_agent_takes_sends_no_text(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with call_ending_with(
        client, settings, stt, transferred(dropped=False), wait_s=3
    ) as handle:
        await waiting_agent(handle)
        taken = await handle.execute_update(
            names.CLAIM_UPDATE, ClaimInput(agent_id="agent-1"), result_type=ClaimResult
        )
        assert taken.accepted
        await asyncio.sleep(5)  # past transfer_answer_s
        assert outbox(settings) == []
        result = await close(handle)
    assert result.status == "closed" and outbox(settings) == []


async def test_no_text_without_a_mobile_number(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    landline = "+33491000000"
    async with call_ending_with(
        client, settings, stt, transferred(dropped=True), wait_s=3600, caller=landline
    ) as handle:
        state = await waiting_agent(handle)
        assert state.status == "waiting_agent"  # the callback task is all there is
        await asyncio.sleep(3)
        assert outbox(settings) == []
        result = await close(handle)
    assert result.status == "closed" and outbox(settings) == []
