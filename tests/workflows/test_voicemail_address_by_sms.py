"""A pickup request with items but no address heard: the caller is asked for it by SMS, and the
reply is resolved like a written address (real dev server, text channel, real activities:
understanding, gazetteer, booking, SMS outbox). Never a booking the reply does not support:
no reply, a reply without an address, a landline, or a reply that contradicts itself go to a
person with the reason.

With ENCOMBOT_RECORD_HISTORIES=1 the booked case's history is written to
tests/workflows/histories/i16-address-by-sms/ (with the session's test-only codec key), which
test_replay.py replays on every run, the `address-by-sms` patch's marker included;
histories/before-address-by-sms/ holds the same message's case from before the patch (sent
to an agent at once)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle

from domain.case_state import WorkflowState
from domain.models import (
    ItemCount,
    ResolveInput,
    ResolveResult,
    SmsReplyInput,
    Status,
    Understanding,
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
)
from workers.dev.demo import wait_settled
from workers.settings import Settings
from workers.worker.composition import workers_running
from workflows.voicemail_address import add_written_items

HISTORIES = Path(__file__).parent / "histories" / "i16-address-by-sms"
NUMBER_HISTORIES = Path(__file__).parent / "histories" / "i16-number-by-sms"
NO_ADDRESS = "Bonjour, je voudrais faire enlever un vieux canapé. Merci beaucoup."
ASKED = "Répondez à ce SMS avec votre adresse"


async def _start(
    client: Client, settings: Settings, call_id: str, *, text: str = NO_ADDRESS, **start: Any
) -> WorkflowHandle[Any, VoicemailResult]:
    return await start_text_message(client, settings, call_id, text, **start)


async def _asked(
    client: Client, settings: Settings, call_id: str, **start: Any
) -> WorkflowHandle[Any, VoicemailResult]:
    """The case started and its address asked: the SMS out, the case waiting for the caller."""
    handle = await _start(client, settings, call_id, **start)
    [sent] = await outbox_holds(settings, 1)
    assert ASKED in sent["text"] and "1 canapé" in sent["text"], sent
    assert sent["key"].endswith(":address_request"), sent
    state, result = await wait_settled(handle, 60)
    assert result is None
    # A 2-s wait for the reply may already be over.
    assert state.status == Status.WAITING_CALLER or start.get("confirm_timeout_s", 600) < 10
    return handle


async def _escalated(handle: WorkflowHandle[Any, VoicemailResult]) -> WorkflowState:
    state, result = await wait_settled(handle, 120, caller_wait_settles=False)
    assert result is None and state.escalation is not None
    assert state.status == Status.WAITING_AGENT and state.booking is None
    return state


async def test_the_address_asked_by_sms_is_booked_from_the_reply(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"vmask-{uuid.uuid4().hex[:6]}"
    async with workers_running(client, settings, "all"):
        handle = await _asked(client, settings, call_id)
        # A greeting first: the replies are read together until one gives the address.
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="Bonjour", message_id="hi"))
        await handle.signal(
            SMS_REPLY_SIGNAL,
            SmsReplyInput(text="12 boulevard Chave 13005 Marseille", message_id="addr"),
        )
        # The thresholds are calibrated on transcripts, not on what callers write: the
        # address found is read back to the caller, who confirms it with "1".
        [_, choice] = await outbox_holds(settings, 2)
        assert "Répondez 1 pour 12 Boulevard Chave, 13005 Marseille" in choice["text"], choice
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="1", message_id="one"))
        result = await asyncio.wait_for(handle.result(), 120)
        await record_history(handle, settings, HISTORIES, "VoicemailWorkflow")
    assert result.status == Status.BOOKED, result
    sent = outbox(settings)
    assert [s["key"].rsplit(":", 1)[1] for s in sent] == [
        "address_request",
        "address_choice",
        "confirmation",
    ]
    assert "12 Boulevard Chave" in sent[2]["text"], sent[2]
    row = store(settings).get_by_call(call_id)
    assert row is not None and row.reference == result.booking_reference
    assert (row.housenumber, row.street, row.postcode) == ("12", "Boulevard Chave", "13005")
    assert result.escalations == []


async def test_items_written_beside_the_address_are_booked_too(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    """The message asked for a sofa; the reply adds a fridge, writes the sofa again and the
    door code: both items are in the confirmation and booked, the sofa once, no door; the agent's
    details say what the reply added."""
    settings = case_settings(base_settings, tmp_path)
    call_id = f"vmask-{uuid.uuid4().hex[:6]}"
    async with workers_running(client, settings, "all"):
        handle = await _asked(client, settings, call_id)
        await handle.signal(
            SMS_REPLY_SIGNAL,
            SmsReplyInput(
                text="12 boulevard Chave 13005 Marseille, code porte 1234. Le canapé et un frigo",
                message_id="addr",
            ),
        )
        [_, choice] = await outbox_holds(settings, 2)
        assert "Répondez 1 pour 12 Boulevard Chave, 13005 Marseille" in choice["text"], choice
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="1", message_id="one"))
        result = await asyncio.wait_for(handle.result(), 120)
        state = await handle.query(STATE_QUERY, result_type=WorkflowState)
    assert "objets ajoutés par SMS (1 réfrigérateur)" in state.history, state.history
    assert result.status == Status.BOOKED, result
    confirmation = outbox(settings)[2]
    assert "pour 1 canapé, 1 réfrigérateur." in confirmation["text"], confirmation
    row = store(settings).get_by_call(call_id)
    assert row is not None
    assert sorted((i.item, i.count) for i in row.items) == [("canapé", 1), ("réfrigérateur", 1)]


def test_items_written_beside_the_address_add_to_the_message_never_recount_it() -> None:
    u = Understanding(intent="booking", items=[ItemCount("canapé", 3)])
    written = Understanding(
        intent="booking",
        # « les canapés » written again counts 2: the message's 3 stand.
        items=[ItemCount("canapé", 2), ItemCount("réfrigérateur", 1)],
        refused_items=[ItemCount("pneu", 4)],
        refusal_advice="chez un garagiste",
    )
    added, refused = add_written_items(u, written)
    assert (added, refused) == ([ItemCount("réfrigérateur", 1)], [ItemCount("pneu", 4)])
    assert u.items == [ItemCount("canapé", 3), ItemCount("réfrigérateur", 1)]
    assert (u.refused_items, u.refusal_advice) == ([ItemCount("pneu", 4)], "chez un garagiste")
    # The message names refused items already: the reply's cannot share its advice phrase,
    # so they stay out (nothing is booked for them either way).
    more = Understanding(
        intent="booking",
        refused_items=[ItemCount("gravats", 1)],
        refusal_advice="en déchèterie",
    )
    assert add_written_items(u, more) == ([], [])
    assert (u.refused_items, u.refusal_advice) == ([ItemCount("pneu", 4)], "chez un garagiste")


async def test_no_reply_hands_the_case_to_a_person(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        handle = await _asked(
            client, settings, f"vmask-{uuid.uuid4().hex[:6]}", confirm_timeout_s=2
        )
        state = await _escalated(handle)
    assert state.escalation is not None and state.escalation.reason == "no_address"
    assert "pas de réponse au SMS" in state.escalation.detail


async def test_a_reply_without_an_address_hands_the_case_to_a_person(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        call_id = f"vmask-{uuid.uuid4().hex[:6]}"
        handle = await _asked(client, settings, call_id, confirm_timeout_s=8)
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="oui merci", message_id="r1"))
        state = await _escalated(handle)
        # The agent reads the reply, and corrects the address from a call back.
        assert state.escalation is not None and state.escalation.reason == "no_address"
        assert "« oui merci »" in state.escalation.detail
        res = await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(
                agent_id="agent-1", housenumber="12", street="boulevard chave", postcode="13005"
            ),
            result_type=ResolveResult,
        )
        assert res.accepted
        result = await asyncio.wait_for(handle.result(), 120)
    assert result.status == Status.BOOKED and result.escalations == ["no_address"]
    assert [s["key"].rsplit(":", 1)[1] for s in outbox(settings)] == [
        "address_request",
        "ack",
        "confirmation",
    ]


async def test_a_landline_caller_goes_to_a_person_at_once(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        handle = await _start(
            client, settings, f"vmask-{uuid.uuid4().hex[:6]}", caller="0491000000"
        )
        state = await _escalated(handle)
    # Nobody to text: a person calls back, as before the address could be asked.
    assert state.escalation is not None and state.escalation.reason == "no_address"
    assert state.escalation.step == "understand"
    assert all(not s["key"].endswith(":address_request") for s in outbox(settings))


async def test_a_reply_naming_another_arrondissement_is_not_booked(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    """What the caller wrote about the place outranks the gazetteer, as when said: Boulevard
    Chave is in the 5th (and the 4th), never in the 14th."""
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        handle = await _asked(client, settings, f"vmask-{uuid.uuid4().hex[:6]}")
        await handle.signal(
            SMS_REPLY_SIGNAL,
            SmsReplyInput(text="12 boulevard Chave 13014 Marseille", message_id="addr"),
        )
        state, result = await wait_settled(handle, 120)
        query = await handle.query(STATE_QUERY, result_type=WorkflowState)
    assert result is None and query.booking is None, (state.status, state.escalation)


@pytest.mark.parametrize(
    "reply",
    ["Annulez ma demande svp, merci. 12 boulevard Chave 13005", "STOP"],
)
async def test_a_reply_that_cancels_is_never_booked(
    client: Client, base_settings: Settings, tmp_path: Path, reply: str
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        handle = await _asked(client, settings, f"vmask-{uuid.uuid4().hex[:6]}")
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text=reply, message_id="c"))
        state = await _escalated(handle)
    assert state.escalation is not None and state.escalation.reason == "cancel_request"
    assert store(settings).get_by_call(state.call_id) is None


async def test_a_question_beside_the_address_is_kept_to_be_answered(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        call_id = f"vmask-{uuid.uuid4().hex[:6]}"
        handle = await _asked(client, settings, call_id)
        await handle.signal(
            SMS_REPLY_SIGNAL,
            SmsReplyInput(text="c'est au 12 bd Chave 13005, vous passez quand ?", message_id="q"),
        )
        await outbox_holds(settings, 2)
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="1", message_id="one"))
        state, _ = await wait_settled(handle, 120, caller_wait_settles=False)
    assert state.understanding is not None and state.understanding.question
    assert store(settings).get_by_call(call_id) is not None


async def test_an_address_split_over_two_texts_is_read_as_one(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        call_id = f"vmask-{uuid.uuid4().hex[:6]}"
        handle = await _asked(client, settings, call_id)
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="C'est au 12.", message_id="a"))
        await asyncio.sleep(1)  # read alone first: a number, no street yet
        await handle.signal(
            SMS_REPLY_SIGNAL, SmsReplyInput(text="Boulevard Chave 13005", message_id="b")
        )
        [_, choice] = await outbox_holds(settings, 2)
        assert "Répondez 1 pour 12 Boulevard Chave, 13005 Marseille" in choice["text"], choice


NO_NUMBER = "Bonjour, j'habite boulevard Chave, 13005 Marseille. C'est pour un vieux canapé."


@pytest.mark.parametrize("reply", ["au 12", "12 bd Chave 13005"])
async def test_a_street_without_its_number_asks_for_the_address(
    client: Client, base_settings: Settings, tmp_path: Path, reply: str
) -> None:
    """The number alone completes the street heard; the whole address does as well."""
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        call_id = f"vmask-{uuid.uuid4().hex[:6]}"
        handle = await _asked(client, settings, call_id, text=NO_NUMBER)
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text=reply, message_id="n"))
        [_, choice] = await outbox_holds(settings, 2)
        assert "Répondez 1 pour 12 Boulevard Chave, 13005 Marseille" in choice["text"], choice
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="1", message_id="one"))
        result = await asyncio.wait_for(handle.result(), 120)
        if reply == "au 12":
            await record_history(handle, settings, NUMBER_HISTORIES, "VoicemailWorkflow")
    assert result.status == Status.BOOKED and result.escalations == []


async def test_a_street_without_its_number_unanswered_goes_to_a_person_with_it(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with workers_running(client, settings, "all"):
        call_id = f"vmask-{uuid.uuid4().hex[:6]}"
        handle = await _asked(client, settings, call_id, text=NO_NUMBER, confirm_timeout_s=2)
        state = await _escalated(handle)
    # The escalation the bot would have made, with the street found for the agent.
    assert state.escalation is not None and state.escalation.reason == "address_not_found"
    assert "adresse demandée par SMS : pas de réponse" in state.escalation.detail
    assert "aucune adresse entendue" not in state.escalation.detail  # a street was heard
    assert any(c.street == "Boulevard Chave" for c in state.escalation.candidates)
