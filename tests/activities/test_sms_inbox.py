"""Callers' replies on the real dev server: the poll reads the fake OVH API with the real `ovh`
client, signals the case that texted the sender (found by its SmsPhoneKey), keeps the others
for an agent (IncomingSmsWorkflow), deletes only what it has routed, and routes again after a
crash without opening a second case. The SMS-poll Schedule is idempotent and runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    WorkflowHandle,
)
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.messaging.backends import InboxBackend
from activities.messaging.errors import SmsNotSentError
from activities.messaging.outbox import OutboxBackend
from activities.messaging.ovh import OvhBackend
from activities.messaging.routing import phone_key_query, route_incoming_sms
from activities.sms_inbox import SmsInboxActivities
from domain import names
from domain.errors import SMS_LOOKUP_REJECTED
from domain.models import SmsReplyInput
from domain.phone import phone_key
from domain.sms_models import (
    IncomingSms,
    IncomingSmsState,
    SmsPollInput,
    SmsPollResult,
    SmsRouteOutcome,
)
from tests.fakes.fake_ovh import FakeOvhApi
from workers.codec.payload import ENCODING
from workers.settings import Settings
from workers.worker.schedules import ensure_sms_poll_schedule
from workflows.incoming_sms import IncomingSmsWorkflow
from workflows.sms_poll import SmsPollWorkflow

MOBILE = "+33612345678"
STRANGER = "+33798765432"
SA_PHONE_KEY = SearchAttributeKey.for_keyword_list(names.SA_SMS_PHONE_KEY)
SA_NEEDS_AGENT = SearchAttributeKey.for_bool(names.SA_NEEDS_AGENT)
SA_REASON = SearchAttributeKey.for_keyword(names.SA_REASON)
SA_STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)


@workflow.defn(name="SmsWaitingCaseTestWorkflow", sandboxed=False)
class WaitingCase:
    """Stands for a case that texted a caller: publishes the key, records every reply."""

    def __init__(self) -> None:
        self.replies: list[SmsReplyInput] = []
        self.done = False

    @workflow.run
    async def run(self, key: str) -> list[SmsReplyInput]:
        workflow.upsert_search_attributes([SA_PHONE_KEY.value_set([key])])
        await workflow.wait_condition(lambda: self.done)
        return self.replies

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        self.replies.append(inp)

    @workflow.signal(name="stop")
    def stop(self) -> None:
        self.done = True

    @workflow.query(name="replies")
    def get_replies(self) -> list[SmsReplyInput]:
        return self.replies


@pytest.fixture
def fake_ovh() -> Iterator[FakeOvhApi]:
    with FakeOvhApi(first_id=secrets.randbelow(10**12) * 1000) as fake:
        yield fake


@pytest.fixture
def secret() -> bytes:
    # One per test: cases of other tests on the shared dev server never match.
    return secrets.token_bytes(32)


@asynccontextmanager
async def worker(
    client: Client, queue: str, backend: InboxBackend, secret: bytes
) -> AsyncIterator[SmsInboxActivities]:
    inbox = SmsInboxActivities(client, backend, secret, queue)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[IncomingSmsWorkflow, SmsPollWorkflow, WaitingCase],
        activities=[inbox.poll_incoming_sms],
    ):
        yield inbox


async def poll(client: Client, queue: str) -> SmsPollResult:
    return await client.execute_workflow(
        SmsPollWorkflow.run,
        SmsPollInput(),
        id=f"poll-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
    )


async def visible(client: Client, query: str, count: int = 1) -> None:
    """Visibility lags the workflow a little: wait until the query sees `count` runs."""
    for _ in range(100):
        if len([w async for w in client.list_workflows(query)]) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not visible: {query}")


async def start_case(client: Client, queue: str, key: str, name: str) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        WaitingCase.run, key, id=f"{name}-{uuid.uuid4().hex[:8]}", task_queue=queue
    )


async def end_case(client: Client, message_id: int | str) -> None:
    """Cases kept for an agent would wait forever on the shared dev server."""
    handle = client.get_workflow_handle(names.incoming_sms_workflow_id(str(message_id)))
    # Never started (routed elsewhere) or already over: nothing to end.
    with contextlib.suppress(Exception):
        await handle.terminate("test over")


async def replies(handle: WorkflowHandle[Any, Any]) -> list[SmsReplyInput]:
    return await handle.query("replies", result_type=list[SmsReplyInput])


async def incoming_state(client: Client, message_id: int | str) -> IncomingSmsState:
    handle = client.get_workflow_handle(names.incoming_sms_workflow_id(str(message_id)))
    return await handle.query(names.STATE_QUERY, result_type=IncomingSmsState)


async def test_poll_routes_a_reply_and_keeps_an_unknown_number_for_an_agent(
    client: Client,
    unique_queue: str,
    fake_ovh: FakeOvhApi,
    secret: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    key = phone_key(MOBILE, secret)
    async with worker(client, unique_queue, OvhBackend(fake_ovh.settings()), secret):
        older = await start_case(client, unique_queue, key, "older")
        newer = await start_case(client, unique_queue, key, "newer")
        await visible(client, phone_key_query(key), 2)
        # As the operator writes it, and in national form: the same caller.
        answer = fake_ovh.add_incoming(MOBILE, "ANNULER")
        unknown = fake_ovh.add_incoming("07 98 76 54 32", "Bonjour, le camion n'est pas passé")
        result = await poll(client, unique_queue)
        assert result == SmsPollResult(seen=2, routed=1, kept_for_agent=1, errors=0)

        # The most recently started case got the reply, once, with the provider's id.
        [reply] = await replies(newer)
        assert (reply.text, reply.sender, reply.message_id) == ("ANNULER", MOBILE, str(answer))
        assert reply.received_at
        assert await replies(older) == []

        # The unknown number waits for an agent, under its own key, with no number in sight.
        state = await incoming_state(client, unknown)
        assert [(m.text, m.sender) for m in state.messages] == [
            ("Bonjour, le camion n'est pas passé", STRANGER)
        ]
        handle = client.get_workflow_handle(names.incoming_sms_workflow_id(str(unknown)))
        attrs = (await handle.describe()).typed_search_attributes
        assert attrs.get(SA_NEEDS_AGENT) is True
        assert attrs.get(SA_REASON) == "unmatched_sms"
        assert attrs.get(SA_STATUS) == "waiting_agent"
        assert attrs.get(SA_PHONE_KEY) == [phone_key(STRANGER, secret)]
        assert "98765432" not in str(attrs) and "612345678" not in str(attrs)

        # Both deleted at OVH, only after routing.
        assert fake_ovh.incoming == []
        deletes = [path for method, path in fake_ovh.requests if method == "DELETE"]
        assert len(deletes) == 2 and fake_ovh.rejected == []
        for case in (older, newer):
            await case.signal("stop")
        await handle.terminate("test over")
    # No number and no text in the logs.
    assert "612345678" not in caplog.text and "98765432" not in caplog.text
    assert "ANNULER" not in caplog.text and "camion" not in caplog.text


async def test_crash_before_delete_routes_again_without_a_second_case(
    client: Client, unique_queue: str, fake_ovh: FakeOvhApi, secret: bytes
) -> None:
    key = phone_key(MOBILE, secret)
    async with worker(client, unique_queue, OvhBackend(fake_ovh.settings()), secret):
        case = await start_case(client, unique_queue, key, "case")
        await visible(client, phone_key_query(key))
        known = fake_ovh.add_incoming(MOBILE, "1")
        unknown = fake_ovh.add_incoming(STRANGER, "Je voudrais un rendez-vous")
        unreadable = fake_ovh.add_incoming(STRANGER, "encore moi")
        # Both routed but neither deleted (the provider failed), the third unreadable.
        fake_ovh.fail_next(503, times=2, method="DELETE", path=r"/incoming/")
        fake_ovh.fail_next(502, method="GET", path=rf"/incoming/{unreadable}$")
        first = await poll(client, unique_queue)
        assert first == SmsPollResult(seen=3, routed=1, kept_for_agent=1, errors=3)
        assert len(fake_ovh.incoming) == 3

        second = await poll(client, unique_queue)
        assert second.errors == 0 and second.seen == 3 and fake_ovh.incoming == []
        # The case saw the same message id twice: the contract is that it keeps it once.
        got = await replies(case)
        assert [r.message_id for r in got] == [str(known), str(known)]
        # One case for the stranger, holding each message once.
        state = await incoming_state(client, unknown)
        texts = [m.text for m in state.messages]
        assert texts.count("Je voudrais un rendez-vous") == 1
        await case.signal("stop")
        for message_id in (unknown, unreadable):
            await end_case(client, message_id)


async def test_next_sms_of_an_unknown_number_joins_its_case(
    client: Client, unique_queue: str, fake_ovh: FakeOvhApi, secret: bytes
) -> None:
    async with worker(client, unique_queue, OvhBackend(fake_ovh.settings()), secret):
        first = fake_ovh.add_incoming(STRANGER, "Bonjour")
        assert (await poll(client, unique_queue)).kept_for_agent == 1
        await visible(client, phone_key_query(phone_key(STRANGER, secret)))
        fake_ovh.add_incoming(STRANGER, "12 boulevard Chave, un canapé")
        assert (await poll(client, unique_queue)).routed == 1
        state = await incoming_state(client, first)
        assert [m.text for m in state.messages] == ["Bonjour", "12 boulevard Chave, un canapé"]
        await end_case(client, first)


async def test_webhook_path_keeps_a_sender_that_is_no_number(
    client: Client, unique_queue: str, secret: bytes, tmp_path: Path
) -> None:
    message_id = f"wh-{uuid.uuid4().hex[:8]}"
    message = IncomingSms(message_id, "AMPMETRO", "STOP", "2026-11-25T22:00:00+01:00")
    async with worker(client, unique_queue, OutboxBackend(tmp_path / "o.jsonl"), secret):
        routed = await route_incoming_sms(
            client, message, phone_key_secret=secret, task_queue=unique_queue
        )
        assert routed.outcome == SmsRouteOutcome.KEPT_FOR_AGENT
        assert routed.workflow_id == f"sms-{message_id}"
        # Called twice (webhook retried by the provider): still one case.
        again = await route_incoming_sms(
            client, message, phone_key_secret=secret, task_queue=unique_queue
        )
        assert again == routed
        state = await incoming_state(client, message_id)
        assert [(m.sender, m.text) for m in state.messages] == [("AMPMETRO", "STOP")]
        handle = client.get_workflow_handle(routed.workflow_id)
        assert (await handle.describe()).typed_search_attributes.get(SA_PHONE_KEY) is None
        await handle.terminate()
    with pytest.raises(ValueError, match="message id"):
        await route_incoming_sms(
            client,
            IncomingSms("", MOBILE, "x"),
            phone_key_secret=secret,
            task_queue=unique_queue,
        )


async def test_outbox_inbox_reply_reaches_its_case(
    client: Client, unique_queue: str, secret: bytes, tmp_path: Path
) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl", tmp_path / "inbox.jsonl")
    key = phone_key(MOBILE, secret)
    async with worker(client, unique_queue, outbox, secret):
        case = await start_case(client, unique_queue, key, "outbox-case")
        await visible(client, phone_key_query(key))
        message_id = outbox.add_incoming("06 12 34 56 78", "2")
        assert (await poll(client, unique_queue)).routed == 1
        [reply] = await replies(case)
        assert (reply.text, reply.sender, reply.message_id) == ("2", MOBILE, message_id)
        assert outbox.list_incoming() == []
        await case.signal("stop")


async def test_provider_refusing_the_listing_fails_for_good(
    client: Client, fake_ovh: FakeOvhApi, secret: bytes
) -> None:
    inbox = SmsInboxActivities(client, OvhBackend(fake_ovh.settings()), secret, "unused")
    fake_ovh.fail_next(403, method="GET", path=r"/incoming$", error_code="NOT_GRANTED_CALL")
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(inbox.poll_incoming_sms, SmsPollInput())
    assert info.value.type == SMS_LOOKUP_REJECTED and info.value.non_retryable
    fake_ovh.fail_next(503, method="GET", path=r"/incoming$")
    with pytest.raises(SmsNotSentError):
        await ActivityEnvironment().run(inbox.poll_incoming_sms, SmsPollInput())
    assert await ActivityEnvironment().run(inbox.poll_incoming_sms, SmsPollInput()) == (
        SmsPollResult()
    )


async def test_sms_poll_schedule_is_idempotent_keeps_a_pause_and_runs(
    client: Client, base_settings: Settings, unique_queue: str, secret: bytes, tmp_path: Path
) -> None:
    schedule_id = f"encombot-sms-poll-{uuid.uuid4().hex[:6]}"
    sms = base_settings.sms.model_copy(
        update={"poll_schedule_id": schedule_id, "poll_interval_s": 3600, "poll_max_messages": 7}
    )
    settings = base_settings.model_copy(
        update={
            "sms": sms,
            "temporal": base_settings.temporal.model_copy(update={"task_queue": unique_queue}),
        }
    )
    handle = client.get_schedule_handle(schedule_id)
    outbox = OutboxBackend(tmp_path / "outbox.jsonl", tmp_path / "inbox.jsonl")
    try:
        assert await ensure_sms_poll_schedule(client, settings) == "created"
        await handle.pause(note="maintenance")
        faster = settings.model_copy(update={"sms": sms.model_copy(update={"poll_interval_s": 60})})
        assert await ensure_sms_poll_schedule(client, faster) == "updated"
        desc = await handle.describe()
        assert desc.schedule.state.paused and desc.schedule.state.note == "maintenance"
        [interval] = desc.schedule.spec.intervals
        assert interval.every.total_seconds() == 60
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == names.SMS_POLL_WORKFLOW and action.task_queue == unique_queue
        [raw] = action.args
        assert isinstance(raw, Payload) and raw.metadata["encoding"] == ENCODING
        [args] = await client.data_converter.decode([raw], [SmsPollInput])
        assert args == SmsPollInput(max_messages=7)

        kept = outbox.add_incoming(STRANGER, "Bonjour")
        async with worker(client, unique_queue, outbox, secret):
            await handle.trigger()
            for _ in range(100):
                desc = await handle.describe()
                if desc.info.recent_actions:
                    break
                await asyncio.sleep(0.1)
            run = desc.info.recent_actions[-1].action
            assert isinstance(run, ScheduleActionExecutionStartWorkflow)
            polled = client.get_workflow_handle(run.workflow_id, result_type=SmsPollResult)
            result = await asyncio.wait_for(polled.result(), 60)
        assert result.kept_for_agent == 1 and outbox.list_incoming() == []
        await end_case(client, kept)

        disabled = settings.model_copy(
            update={"sms": sms.model_copy(update={"poll_enabled": False})}
        )
        assert await ensure_sms_poll_schedule(client, disabled) == "deleted"
        assert await ensure_sms_poll_schedule(client, disabled) == "disabled"
    finally:
        with contextlib.suppress(Exception):  # deleted by the test itself
            await handle.delete()
