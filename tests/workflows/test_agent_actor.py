"""Issue 17, defect 8: a booking that an agent's correction leads to names the agent in the
audit trail (it used to say `bot`), and the refusals an agent reads repeat nothing typed.

With ENCOMBOT_RECORD_HISTORIES=1 the case's history is written to
tests/workflows/histories/i17-agent-actor/ (with the session's test-only codec key), which
test_replay.py replays on every run: the `booking-actor-agent` patch's marker included."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.client import Client

from domain import names
from domain.agent import validate_callback_task, validate_resolution
from domain.models import (
    ItemCount,
    ResolveInput,
    ResolveResult,
    Status,
    TerritoryReference,
    VoicemailInput,
    VoicemailResult,
)
from tests.workflows.recording import record_history
from tests.workflows.test_voicemail import case_settings, running_worker, store
from workers.dev.demo import wait_settled
from workers.settings import Settings

HISTORIES = Path(__file__).parent / "histories" / "i17-agent-actor"


async def test_booking_after_an_agent_correction_names_the_agent(
    client: Client, base_settings: Settings, stt: object, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"actor-{uuid.uuid4().hex[:6]}"
    async with running_worker(client, settings, stt):  # type: ignore[arg-type]
        handle = await client.start_workflow(
            names.VOICEMAIL_WORKFLOW,
            VoicemailInput(
                call_id=call_id,
                audio_path="",
                caller_number="+33612345678",
                stt_task_queue=settings.temporal.stt_task_queue,
                confirm_timeout_s=2,
                text="Un canapé à prendre au 41 impasse Vernet 13005",
                channel="sms",
            ),
            id=names.voicemail_workflow_id(call_id),
            task_queue=settings.temporal.task_queue,
            result_type=VoicemailResult,
        )
        state, _ = await wait_settled(handle, 60, caller_wait_settles=False)
        assert state.status == Status.WAITING_AGENT
        ok = await handle.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput(
                agent_id="agent-7",
                housenumber="12",
                street="boulevard chave",
                postcode="13005",
                items=[ItemCount("canapé", 1)],
            ),
            result_type=ResolveResult,
        )
        assert ok.accepted
        result = await asyncio.wait_for(handle.result(), 60)
        follow = client.get_workflow_handle(names.booking_follow_up_workflow_id(call_id))
        await follow.terminate("test over")
        await record_history(handle, settings, HISTORIES, "VoicemailWorkflow")
    assert result.status == Status.BOOKED
    booking = store(settings).get_by_call(call_id)
    assert booking is not None
    events = store(settings).events(booking.id)
    assert [(e["actor"], e["action"]) for e in events] == [("agent:agent-7", "booked")]


def test_refusals_repeat_nothing_the_agent_typed() -> None:
    reference = TerritoryReference(
        postcodes=["13005"],
        items=["canapé"],
        refused_items=["pneu"],
        item_aliases={"canapé": "canapé", "pneu": "pneu"},
    )
    typed = [
        ResolveInput("agent-1", action="annuler Mme Berthelot"),
        ResolveInput("agent-1", housenumber="3", street="Rue de Rivoli", postcode="75001"),
        ResolveInput("agent-1", housenumber="3", street="Rue X", postcode="7500Z"),
        ResolveInput("agent-1", items=[ItemCount("piano de Mme Berthelot", 1)]),
        ResolveInput("agent-1", items=[ItemCount("pneu", 1)]),
        ResolveInput("agent-1", items=[ItemCount("canapé Berthelot", 0)]),
        ResolveInput("agent 1 Berthelot", action="close", comment="x"),
    ]
    for inp in typed:
        problem = validate_resolution(
            inp,
            reason="address_not_found",
            candidates=[],
            has_items=True,
            has_match=False,
            reference=reference,
        )
        assert problem is not None, inp
        for value in ("Berthelot", "75001", "7500Z", "Rivoli", "pneu", "piano", "annuler"):
            assert value not in problem, (value, problem)
    problem = validate_callback_task(ResolveInput("agent-1", action="rappel Berthelot"), "un SMS")
    assert problem is not None and "Berthelot" not in problem
