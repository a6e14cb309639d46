"""A message with two requests, a pickup and a question, gets both in one SMS exchange (issue
16, item 4): the address choice, the booking's confirmation, then the answer (real dev server,
text channel, real activities: understanding, FAQ with the item catalogue, booking, SMS).

With ENCOMBOT_RECORD_HISTORIES=1 the cases' histories (booked then answered; booked, then the
question handed to an agent who closes it) are written to
tests/workflows/histories/i16-booking-and-question/ (with the session's test-only codec key),
which test_replay.py replays on every run: the `booking-and-question` patch's marker included."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from domain.case_state import WorkflowState
from domain.models import (
    ResolveInput,
    ResolveResult,
    SmsReplyInput,
    Status,
    VoicemailResult,
)
from domain.names import RESOLVE_UPDATE, SMS_REPLY_SIGNAL, STATE_QUERY
from tests.workflows.recording import record_history
from tests.workflows.test_voicemail import (
    case_settings,
    outbox,
    outbox_holds,
    start_text_message,
    store,
    uncertain,
)
from workers.dev.demo import wait_settled
from workers.settings import Settings
from workers.worker.composition import workers_running

HISTORIES = Path(__file__).parent / "histories" / "i16-booking-and-question"


async def _one_message(
    client: Client, settings: Settings, call_id: str, text: str
) -> tuple[WorkflowHandle[Any, Any], VoicemailResult, list[dict[str, str]]]:
    handle = await start_text_message(client, settings, call_id, text)
    sent = await outbox_holds(settings, 1)
    assert "Répondez 1 pour" in sent[0]["text"], sent
    await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="1", message_id="choice"))
    try:
        result = await asyncio.wait_for(handle.result(), 180)
    except TimeoutError:
        st = await handle.query(STATE_QUERY, result_type=WorkflowState)
        raise AssertionError(f"{st.status} {st.step} {st.history} {st.escalation}") from None
    return handle, result, outbox(settings)


async def test_one_message_gets_a_booking_and_the_catalogues_answer(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = uncertain(case_settings(base_settings, tmp_path))
    call_id = f"vmq-{uuid.uuid4().hex[:6]}"
    text = (
        "Bonjour, je voudrais faire enlever un canapé au 12 boulevard Chave, 13005 Marseille. "
        "Et aussi, vous ramassez les miroirs ?"
    )
    async with workers_running(client, settings, "default"):
        handle, result, sent = await _one_message(client, settings, call_id, text)
        state = await handle.query(STATE_QUERY, result_type=WorkflowState)
        follow = client.get_workflow_handle(f"booking-{call_id}")
        await follow.terminate("test over")
        await record_history(handle, settings, HISTORIES, "VoicemailWorkflow")
    assert result.status == Status.BOOKED
    booking = store(settings).get_by_call(call_id)
    assert booking is not None
    assert [(i.item, i.count) for i in booking.items] == [("canapé", 1)]
    assert len(sent) == 3, [s["key"] for s in sent]
    confirmation, answer = sent[1]["text"], sent[2]["text"]
    assert "enlèvement confirmé" in confirmation and "canapé" in confirmation
    assert "miroir" not in confirmation
    # The FAQ names no mirror: the catalogue answers, and speaks of the booking.
    assert "Oui, nous collectons les miroirs avec les encombrants." in answer
    assert "votre rendez-vous" in answer
    assert result.sms_text == confirmation
    assert any(line.startswith("FAQ: catalogue des objets") for line in state.history)


async def test_a_refused_item_asked_about_is_answered_beside_the_booking(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = uncertain(case_settings(base_settings, tmp_path))
    call_id = f"vmq-{uuid.uuid4().hex[:6]}"
    text = (
        "Je voudrais faire enlever une table au 12 boulevard Chave, 13005 Marseille, "
        "et aussi, vous prenez les pneus ?"
    )
    async with workers_running(client, settings, "default"):
        _, result, sent = await _one_message(client, settings, call_id, text)
        await client.get_workflow_handle(f"booking-{call_id}").terminate("test over")
    assert result.status == Status.BOOKED
    assert len(sent) == 3, [s["key"] for s in sent]
    assert "enlèvement confirmé" in sent[1]["text"]
    # Asked about, not given: the confirmation refuses nothing; the answer says where to go.
    assert "Non collectés" not in sent[1]["text"]
    assert "pneus ne sont pas collectés" in sent[2]["text"]
    assert "garagiste" in sent[2]["text"]


async def test_a_side_question_the_faq_cannot_answer_goes_to_a_person_after_the_booking(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = uncertain(case_settings(base_settings, tmp_path))
    call_id = f"vmqa-{uuid.uuid4().hex[:6]}"
    text = (
        "Je voudrais faire enlever une table au 12 boulevard Chave, 13005 Marseille. "
        "Au fait, est-ce que vous vendez des billets de train ?"
    )
    async with workers_running(client, settings, "default"):
        handle = await start_text_message(client, settings, call_id, text)
        await outbox_holds(settings, 1)
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="1", message_id="choice"))
        state, _ = await wait_settled(handle, 120, caller_wait_settles=False)
        # The booking is made and confirmed; the question waits for a person, the caller told.
        assert state.status == Status.WAITING_AGENT, state.history
        assert state.escalation is not None
        assert (state.escalation.reason, state.escalation.step) == ("question", "answer")
        assert store(settings).get_by_call(call_id) is not None
        sent = await outbox_holds(settings, 3)
        assert "enlèvement confirmé" in sent[1]["text"]
        assert "votre question nous est bien parvenue" in sent[2]["text"]
        ok = await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-3", action="close", comment="répondu par téléphone"),
            result_type=ResolveResult,
        )
        assert ok.accepted
        result = await asyncio.wait_for(handle.result(), 60)
        await client.get_workflow_handle(f"booking-{call_id}").terminate("test over")
        await record_history(handle, settings, HISTORIES, "VoicemailWorkflow")
    assert result.status == Status.BOOKED
    assert result.booking_reference
    assert len(outbox(settings)) == 3  # no answer of the bot's own to the unsure question


async def test_an_item_question_alone_is_answered_from_the_catalogue(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"vmqi-{uuid.uuid4().hex[:6]}"
    async with workers_running(client, settings, "default"):
        handle = await start_text_message(
            client, settings, call_id, "Bonjour, est-ce que vous ramassez les miroirs ?"
        )
        result = await asyncio.wait_for(handle.result(), 120)
    assert result.status == Status.ANSWERED
    [sms] = outbox(settings)
    assert "Oui, nous collectons les miroirs avec les encombrants, sur rendez-vous." in sms["text"]
    assert "votre rendez-vous" not in sms["text"]  # nothing was booked
    assert result.sms_text == sms["text"]
