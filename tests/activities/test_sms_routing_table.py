"""Issue 17, item 6: a caller's reply finds its case in the routes table (sms_routes), not
through the Temporal visibility API. On the real dev server:

- a reply whose case has a row costs no visibility List query (before: one per SMS, out of a
  namespace's ~10 a second shared with the UI, GET /calls and the CLI);
- a reply right after the send reaches the case: the row is written by `send_sms` itself,
  whereas visibility is eventually consistent (the stand-in case here does not even publish
  `SmsPhoneKey`, so only the table can find it);
- a closed case's row is deleted and the reply kept for an agent, whose case then gets the
  sender's next SMS; a case that continued as new still gets its reply (signal by id, no run);
- the List query stays only for a key with no running case in the table (a case begun before
  it), and the case it finds gets a row; off, such a reply goes to an agent;
- the purge drops the rows of closed cases, and keeps a running case's row however old."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.bookings.engine import make_engine
from activities.messaging.outbox import OutboxBackend
from activities.messaging.routes import SmsRoutes
from activities.messaging.routing import route_incoming_sms
from activities.purge_sms import PurgeSmsActivities
from activities.sms_inbox import SmsInboxActivities
from domain import names
from domain.models import SmsReplyInput
from domain.phone import phone_key
from domain.retention import PurgeSmsInput
from domain.sms_models import IncomingSms, IncomingSmsState, SmsPollInput, SmsRouteOutcome
from tests.activities.messaging.common import confirmation, make_activities
from tests.activities.test_sms_inbox import SA_PHONE_KEY, WaitingCase, end_case, visible
from workflows.incoming_sms import IncomingSmsWorkflow

MOBILE = "+33612345678"


@workflow.defn(name="SmsRouteTestCase", sandboxed=False)
class Case:
    """Stands for a case that texted a caller, without publishing `SmsPhoneKey`: only the
    routes table can find it. `roll` continues it as new once."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.roll = False
        self.done = False

    @workflow.run
    async def run(self, generation: int) -> list[str]:
        await workflow.wait_condition(lambda: self.roll or self.done)
        if not self.done:
            workflow.continue_as_new(generation + 1)
        return self.replies

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        self.replies.append(inp.message_id)

    @workflow.signal(name="roll")
    def do_roll(self) -> None:
        self.roll = True

    @workflow.signal(name="stop")
    def stop(self) -> None:
        self.done = True

    @workflow.query(name="replies")
    def get_replies(self) -> list[str]:
        return self.replies


class ListQueries:
    """Counts the visibility List calls of a client (as tests/workers/ingress/test_calls.py)."""

    def __init__(self, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        service = client.workflow_service
        original = service.list_workflow_executions

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(*args, **kwargs)

        monkeypatch.setattr(service, "list_workflow_executions", counted)


@dataclasses.dataclass
class Setup:
    client: Client
    queue: str
    secret: bytes
    routes: SmsRoutes
    tmp: Path

    @property
    def key(self) -> str:
        return phone_key(MOBILE, self.secret)

    async def case(self, name: str) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            Case.run, 0, id=f"{name}-{uuid.uuid4().hex[:8]}", task_queue=self.queue
        )

    async def route(self, text: str = "ANNULER", **kwargs: Any) -> Any:
        message = IncomingSms(f"m-{uuid.uuid4().hex[:10]}", "06 12 34 56 78", text, "")
        kwargs.setdefault("routes", self.routes)
        routed = await route_incoming_sms(
            self.client, message, phone_key_secret=self.secret, task_queue=self.queue, **kwargs
        )
        return message.message_id, routed


@asynccontextmanager
async def setup(client: Client, queue: str, tmp: Path) -> AsyncIterator[Setup]:
    engine = make_engine(f"sqlite:///{tmp / 'service.sqlite'}")
    async with Worker(client, task_queue=queue, workflows=[Case, WaitingCase, IncomingSmsWorkflow]):
        yield Setup(client, queue, secrets.token_bytes(32), SmsRoutes(engine), tmp)
    engine.dispose()


async def replies(client: Client, handle: WorkflowHandle[Any, Any]) -> list[str]:
    # No run id: the case's current run.
    current = client.get_workflow_handle(handle.id)
    return await current.query("replies", result_type=list[str])


async def test_a_reply_with_a_route_costs_no_list_query(
    client: Client, unique_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with setup(client, unique_queue, tmp_path) as s:
        older, newer = await s.case("older"), await s.case("newer")
        s.routes.record(s.key, older.id, now=1000.0)
        s.routes.record(s.key, newer.id, now=2000.0)
        lists = ListQueries(client, monkeypatch)
        sent = []
        for _ in range(20):
            message_id, routed = await s.route()
            assert (routed.outcome, routed.workflow_id) == (SmsRouteOutcome.ROUTED, newer.id)
            sent.append(message_id)
        # Before: 20 List queries (one per SMS). Now: none.
        assert lists.count == 0
        assert await replies(client, newer) == sent and await replies(client, older) == []
        for case in (older, newer):
            await case.signal("stop")


async def test_a_reply_right_after_the_send_reaches_the_case(
    client: Client, unique_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with setup(client, unique_queue, tmp_path) as s:
        case = await s.case("sent")
        outbox = OutboxBackend(tmp_path / "outbox.jsonl", tmp_path / "inbox.jsonl")
        # The case's send_sms, on the routes' database (the service database in production).
        sms = make_activities(outbox, tmp_path, phone_key_secret=s.secret)
        sms.routes = s.routes
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, workflow_id=case.id)
        env.run(sms.send_sms, confirmation(f"{case.id}:confirmation", to=MOBILE))
        # The caller answers at once; the poller reads it before any indexing could happen.
        message_id = outbox.add_incoming("06 12 34 56 78", "ANNULER")
        inbox = SmsInboxActivities(client, outbox, s.secret, s.queue, routes=s.routes)
        lists = ListQueries(client, monkeypatch)
        polled = await ActivityEnvironment().run(inbox.poll_incoming_sms, SmsPollInput())
        assert (polled.routed, polled.kept_for_agent, polled.errors) == (1, 0, 0)
        assert await replies(client, case) == [message_id]
        assert lists.count == 0
        await case.signal("stop")


async def test_a_closed_case_loses_its_route_and_the_reply_goes_to_an_agent(
    client: Client,
    unique_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with setup(client, unique_queue, tmp_path) as s:
        running, closed = await s.case("running"), await s.case("closed")
        s.routes.record(s.key, running.id, now=1000.0)
        s.routes.record(s.key, closed.id, now=2000.0)  # the newest, but over
        await closed.signal("stop")
        await closed.result()
        lists = ListQueries(client, monkeypatch)
        first, routed = await s.route()
        assert (routed.outcome, routed.workflow_id) == (SmsRouteOutcome.ROUTED, running.id)
        assert s.routes.lookup(s.key) == [running.id]  # the closed case's row is gone
        assert await replies(client, running) == [first]

        # That one closes too: the reply is kept for an agent, never dropped.
        await running.signal("stop")
        await running.result()
        second, kept = await s.route("Bonjour, le camion n'est pas passé")
        assert kept.outcome == SmsRouteOutcome.KEPT_FOR_AGENT
        assert kept.workflow_id == names.incoming_sms_workflow_id(second)
        # ... and the agent's case has the number's route: the next SMS joins it.
        assert s.routes.lookup(s.key) == [kept.workflow_id]
        third, joined = await s.route("12 boulevard Chave")
        assert (joined.outcome, joined.workflow_id) == (SmsRouteOutcome.ROUTED, kept.workflow_id)
        agent_case = client.get_workflow_handle(kept.workflow_id)

        async def messages() -> list[str]:
            state = await agent_case.query(names.STATE_QUERY, result_type=IncomingSmsState)
            return [m.text for m in state.messages]

        for _ in range(50):
            if len(await messages()) == 2:
                break
            await asyncio.sleep(0.1)
        assert await messages() == ["Bonjour, le camion n'est pas passé", "12 boulevard Chave"]
        # One List query when every case of the table had closed (a case begun before the
        # table may still wait for the number); none for the next SMS, which found the
        # agent's case in the table.
        assert lists.count == 1
        await end_case(client, second)
    # Ids and counts only in the logs.
    assert "612345678" not in caplog.text and "camion" not in caplog.text
    assert third in caplog.text


async def test_a_case_continued_as_new_still_gets_the_reply(
    client: Client, unique_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with setup(client, unique_queue, tmp_path) as s:
        case = await s.case("rolled")
        first_run = case.result_run_id
        s.routes.record(s.key, case.id)
        await case.signal("roll")
        for _ in range(50):
            described = await client.get_workflow_handle(case.id).describe()
            if described.run_id != first_run:
                break
            await asyncio.sleep(0.1)
        assert described.run_id != first_run
        lists = ListQueries(client, monkeypatch)
        message_id, routed = await s.route()
        assert (routed.outcome, routed.workflow_id) == (SmsRouteOutcome.ROUTED, case.id)
        assert await replies(client, case) == [message_id]  # the new run's
        assert s.routes.lookup(s.key) == [case.id] and lists.count == 0
        await client.get_workflow_handle(case.id).signal("stop")


async def test_visibility_only_for_a_key_the_table_does_not_know(
    client: Client, unique_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration: a case begun before the table (its key only in `SmsPhoneKey`)."""
    async with setup(client, unique_queue, tmp_path) as s:
        legacy = await client.start_workflow(
            WaitingCase.run, s.key, id=f"legacy-{uuid.uuid4().hex[:8]}", task_queue=s.queue
        )
        await visible(client, f"{names.SA_SMS_PHONE_KEY} = '{s.key}'")
        assert (await legacy.describe()).typed_search_attributes.get(SA_PHONE_KEY) == [s.key]
        # The fallback off: the reply goes to an agent, no List query.
        lists = ListQueries(client, monkeypatch)
        off_id, off = await s.route(visibility_fallback=False)
        assert off.outcome == SmsRouteOutcome.KEPT_FOR_AGENT and lists.count == 0
        await end_case(client, off_id)
        s.routes.forget(s.key, off.workflow_id)
        # On (the default): one List query finds the case, which gets a row...
        _, found = await s.route()
        assert (found.outcome, found.workflow_id) == (SmsRouteOutcome.ROUTED, legacy.id)
        assert lists.count == 1
        assert s.routes.lookup(s.key) == [legacy.id]
        # ... so its next reply costs none.
        _, again = await s.route()
        assert again.workflow_id == legacy.id and lists.count == 1
        await legacy.signal("stop")


async def test_the_purge_drops_the_routes_of_closed_cases_and_keeps_running_ones(
    client: Client, unique_queue: str, tmp_path: Path
) -> None:
    async with setup(client, unique_queue, tmp_path) as s:
        live, old, closed = await s.case("live"), await s.case("old"), await s.case("closed")
        await closed.signal("stop")
        await closed.result()
        now = datetime.now(UTC)
        cutoff = now - timedelta(days=30)
        s.routes.record(s.key, live.id, now=now.timestamp())
        # Texted 40 days ago and still running (a follow-up waiting for a pickup 45 days out):
        # its caller may still answer ANNULER, so its route stays past the SMS retention.
        s.routes.record(s.key, old.id, now=(now - timedelta(days=40)).timestamp())
        s.routes.record(s.key, closed.id, now=now.timestamp())
        s.routes.record("k-unknown", "never-started-" + uuid.uuid4().hex[:6])
        purge = PurgeSmsActivities(s.routes.engine, [], client=client)
        result = await ActivityEnvironment().run(
            purge.purge_sms_records, PurgeSmsInput(cutoff.isoformat())
        )
        assert result.routes_deleted == 2 and result.errors == []
        assert s.routes.lookup(s.key) == [live.id, old.id]
        assert s.routes.lookup("k-unknown") == []
        # Without a client (a tool): nothing can tell a running case, so no route goes.
        s.routes.record(s.key, closed.id, now=now.timestamp())
        alone = PurgeSmsActivities(s.routes.engine, [])
        result = await ActivityEnvironment().run(
            alone.purge_sms_records, PurgeSmsInput(cutoff.isoformat())
        )
        assert result.routes_deleted == 0
        for case in (live, old):
            await case.signal("stop")
