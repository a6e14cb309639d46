"""IncomingSmsWorkflow on the real dev server: an SMS nobody waited for sits in the agent
queue (search attributes without personal data), gathers the sender's next SMS once each, and
ends only when an agent closes it; corrections that make no sense here are refused, readable."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain import names
from domain.disclosure import CORRECTION_REJECTED
from domain.models import ResolveInput, ResolveResult, SmsReplyInput
from domain.phone import phone_key
from domain.sms_models import IncomingSmsInput, IncomingSmsResult, IncomingSmsState
from workflows.incoming_sms import IncomingSmsWorkflow, validate_incoming_resolution

SENDER = "+33798765432"
SA_NEEDS_AGENT = SearchAttributeKey.for_bool(names.SA_NEEDS_AGENT)
SA_REASON = SearchAttributeKey.for_keyword(names.SA_REASON)
SA_STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)
SA_WAITING_SINCE = SearchAttributeKey.for_datetime(names.SA_WAITING_SINCE)
SA_PHONE_KEY = SearchAttributeKey.for_keyword_list(names.SA_SMS_PHONE_KEY)


@asynccontextmanager
async def started(
    client: Client, queue: str, inp: IncomingSmsInput
) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    async with Worker(client, task_queue=queue, workflows=[IncomingSmsWorkflow]):
        handle = await client.start_workflow(
            IncomingSmsWorkflow.run,
            inp,
            id=names.incoming_sms_workflow_id(inp.message_id),
            task_queue=queue,
        )
        try:
            yield handle
        finally:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")


async def attributes_settled(handle: WorkflowHandle[Any, Any], needs_agent: bool) -> Any:
    for _ in range(100):
        attrs = (await handle.describe()).typed_search_attributes
        if attrs.get(SA_NEEDS_AGENT) is needs_agent:
            return attrs
        await asyncio.sleep(0.05)
    raise AssertionError("search attributes not upserted")


async def state(handle: WorkflowHandle[Any, Any]) -> IncomingSmsState:
    return await handle.query(names.STATE_QUERY, result_type=IncomingSmsState)


async def refusal(handle: WorkflowHandle[Any, Any], inp: ResolveInput) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(names.RESOLVE_UPDATE, inp, result_type=ResolveResult)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == CORRECTION_REJECTED
    return cause.message


async def test_unmatched_sms_waits_for_an_agent_then_closes(
    client: Client, unique_queue: str
) -> None:
    key = phone_key(SENDER, secrets.token_bytes(32))
    message_id = f"m-{uuid.uuid4().hex[:8]}"
    inp = IncomingSmsInput(
        message_id=message_id,
        sender=SENDER,
        text="Bonjour, le camion n'est pas passé",
        received_at="2026-11-25T22:00:00+01:00",
        phone_key=key,
    )
    async with started(client, unique_queue, inp) as handle:
        attrs = await attributes_settled(handle, True)
        assert attrs.get(SA_REASON) == "unmatched_sms"
        assert attrs.get(SA_STATUS) == "waiting_agent"
        assert attrs.get(SA_WAITING_SINCE) is not None
        assert attrs.get(SA_PHONE_KEY) == [key]
        assert "98765432" not in str(attrs)

        first = await state(handle)
        assert first.status == "waiting_agent" and first.message_id == message_id
        assert [(m.sender, m.text) for m in first.messages] == [(SENDER, inp.text)]

        # The sender writes again; a poll retried after a crash signals the same SMS twice.
        again = SmsReplyInput("Je suis au 12 boulevard Chave", SENDER, "", "m-2")
        await handle.signal(names.SMS_REPLY_SIGNAL, again)
        await handle.signal(names.SMS_REPLY_SIGNAL, again)
        await handle.signal(names.SMS_REPLY_SIGNAL, SmsReplyInput(inp.text, SENDER, "", message_id))
        later = await state(handle)
        assert [m.message_id for m in later.messages] == [message_id, "m-2"]

        # What makes no sense for an SMS without a case is refused, in words, and changes
        # nothing.
        assert "impossible" in await refusal(handle, ResolveInput("agent-1", action="correct"))
        assert "raison" in await refusal(handle, ResolveInput("agent-1", action="close"))
        assert "identifiant" in await refusal(
            handle, ResolveInput(" ", action="close", comment="x")
        )
        assert (await state(handle)).status == "waiting_agent"

        tried = await handle.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput("agent-1", action="no_answer"),
            result_type=ResolveResult,
        )
        assert tried.accepted and (await state(handle)).callback_attempts == 1
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

        closed = await handle.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput("agent-2", action="close", comment="rappelé, rendez-vous pris"),
            result_type=ResolveResult,
        )
        assert closed.accepted
        result = await asyncio.wait_for(handle.result(), 30)
        assert result == IncomingSmsResult(
            message_id=message_id,
            status="closed",
            closed_by="agent-2",
            closed_reason="rappelé, rendez-vous pris",
            messages=2,
        )
        attrs = await attributes_settled(handle, False)
        assert attrs.get(SA_STATUS) == "closed" and attrs.get(SA_REASON) is None
        assert attrs.get(SA_WAITING_SINCE) is None


async def test_sender_without_a_number_has_no_phone_key(client: Client, unique_queue: str) -> None:
    inp = IncomingSmsInput(f"m-{uuid.uuid4().hex[:8]}", "AMPMETRO", "STOP")
    async with started(client, unique_queue, inp) as handle:
        attrs = await attributes_settled(handle, True)
        assert attrs.get(SA_PHONE_KEY) is None
        assert (await state(handle)).messages[0].sender == "AMPMETRO"


def test_validation_rules() -> None:
    ok = ResolveInput("agent-1", action="close", comment="fait")
    assert validate_incoming_resolution(ok, closed=False) is None
    assert validate_incoming_resolution(ok, closed=True) == "Ce dossier est déjà clos."
    assert validate_incoming_resolution(ResolveInput("a", action="no_answer"), closed=False) is None
    for action in ("correct", "choose", "retry", "cancel"):
        problem = validate_incoming_resolution(ResolveInput("a", action=action), closed=False)
        # The refusal names what is allowed, never what was typed (issue 17, defect 8).
        assert problem is not None and "close" in problem and "no_answer" in problem
        assert action not in problem


async def test_flood_of_sms_keeps_the_case_bounded_and_continues_as_new(
    client: Client, unique_queue: str
) -> None:
    """A sender who texts a thousand times (issue 18, point 4): the case keeps MAX_MESSAGES of
    them and counts the rest, continues as new while it waits (its state carried), still
    answers its query and still closes when an agent says so."""
    from domain.case_carry import MAX_HISTORY_LINES
    from workflows.incoming_sms import MAX_MESSAGES

    inp = IncomingSmsInput(
        message_id=f"m-{uuid.uuid4().hex[:8]}",
        sender=SENDER,
        text="premier",
        phone_key="pk-flood",
        history_limit=300,
    )
    async with started(client, unique_queue, inp) as handle:
        await attributes_settled(handle, True)
        gate = asyncio.Semaphore(50)

        async def one(i: int) -> None:
            async with gate:
                await handle.signal(
                    names.SMS_REPLY_SIGNAL, SmsReplyInput(f"sms {i}", SENDER, "", f"f{i}")
                )

        await asyncio.gather(*(one(i) for i in range(1_000)))
        current = client.get_workflow_handle(handle.id)
        for _ in range(200):
            desc = await current.describe()
            if desc.run_id != handle.result_run_id:
                break
            await asyncio.sleep(0.1)
        assert desc.run_id != handle.result_run_id  # continued as new
        assert desc.status == WorkflowExecutionStatus.RUNNING
        now = await state(current)
        assert len(now.messages) == MAX_MESSAGES and now.messages[0].text == "premier"
        assert len(now.history) <= MAX_HISTORY_LINES + 1
        assert (await current.describe()).typed_search_attributes.get(SA_NEEDS_AGENT) is True
        closed = await current.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput("agent-9", action="close", comment="rappelé"),
            result_type=ResolveResult,
        )
        assert closed.accepted
        result = await asyncio.wait_for(handle.result(), 30)  # follows the runs
        assert result.status == "closed" and result.messages == MAX_MESSAGES
