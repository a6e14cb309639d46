"""Issue 17, defect 1: the workers' logs are clear text kept outside the retention purge, so
they carry reason codes and ids only. Each test runs a full case of one workflow type on the
session's dev server (or the time-skipping server for the missed call, as its own tests do),
captures every log record of the process at DEBUG (the workflows', the activities', the SDK's)
and looks for the case's personal values in any spelling.

The live call runs on the AudioSocket telephony harness of tests/workflows/test_live_call.py
(keypad for the number, the postcode and the mobile, Whisper for the street and the items:
about a minute).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import time
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey
from temporalio.worker import Worker

from activities.speech.engine import SpeechEngine
from domain import names
from domain.dialogue import TRANSFER_KEY
from domain.live_call_models import LiveCallResult, Phase
from domain.missed_call_models import MissedCallStatus
from domain.models import (
    ResolveInput,
    ResolveResult,
    SmsReplyInput,
    Status,
    VoicemailInput,
    VoicemailResult,
)
from domain.names import live_call_workflow_id
from domain.phone import phone_key
from domain.sms_models import IncomingSmsInput
from tests.fakes.audiosocket_client import AudioSocketCaller
from tests.workflows.test_live_call import (
    ADDRESS_LABEL,
    MOBILE,
    live_settings,
    result_of,
    telephony,
    turn,
    wait_listening,
    wait_status,
)
from tests.workflows.test_live_call_keypad import keys
from tests.workflows.test_missed_call import (  # noqa: F401 (the fixture)
    Harness,
    eventually,
    harness,
    next_local,
    search_attributes,
    state,
)
from tests.workflows.test_voicemail import case_settings, running_worker, store
from workers.dev.demo import wait_settled
from workers.logs import PAYLOAD_LOGGERS, configure_logging, quiet_payload_loggers
from workers.settings import Settings
from workflows.incoming_sms import IncomingSmsWorkflow

NEEDS_AGENT = SearchAttributeKey.for_bool(names.SA_NEEDS_AGENT)
NUMBER = "+33645127389"
# What an agent types about a caller: a name, a number, an address.
COMMENT = "Mme Berthelot rappelée au 06 45 12 73 89, passera au 41 impasse Vernet"


def spellings(number: str) -> list[str]:
    """+33645127389 → the E.164, national, spaced and dotted forms and the bare digits."""
    national = "0" + number[3:]
    pairs = [national[i : i + 2] for i in range(0, 10, 2)]
    return [number, national, " ".join(pairs), ".".join(pairs), number[3:], number[1:]]


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


class Logs:
    """Every record of the process, formatted with its traceback, as a handler would write it."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def lines(self) -> list[str]:
        return [self._formatter.format(r) for r in self._caplog.records]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    """DEBUG everywhere, as `configure_logging(level=DEBUG)` leaves a worker process."""
    caplog.set_level(logging.DEBUG)
    for name in ("temporalio", "temporalio.workflow", "temporalio.activity", "temporalio.worker"):
        caplog.set_level(logging.DEBUG, logger=name)
    saved = {name: logging.getLogger(name).level for name in PAYLOAD_LOGGERS}
    quiet_payload_loggers()
    try:
        yield Logs(caplog)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_debug_logging_keeps_the_sdk_payload_dumps_off() -> None:
    """The SDK logs whole activity results and Update arguments at DEBUG (clear text without
    the codec, as the missed-call case below shows on the test server)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    on_message = (
        activity.logger.activity_info_on_message,
        workflow.logger.workflow_info_on_message,
    )
    levels = {name: logging.getLogger(name).level for name in PAYLOAD_LOGGERS}
    try:
        configure_logging("json", logging.DEBUG)
        assert root.isEnabledFor(logging.DEBUG)
        for name in PAYLOAD_LOGGERS:
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        # Heartbeat details (a live call's progress) are dropped; the activities' lines stay.
        heard: list[str] = []
        probe = logging.Handler()
        probe.emit = lambda record: heard.append(record.getMessage())  # type: ignore[method-assign]
        root.addHandler(probe)
        activity.logger.debug("Recording heartbeat with details %s", ("12 boulevard Chave",))
        activity.logger.debug("transcribed")
        assert heard == ["transcribed"]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        activity.logger.activity_info_on_message = on_message[0]
        workflow.logger.workflow_info_on_message = on_message[1]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def assert_private(logs: Logs, *values: str, number: str = NUMBER) -> None:
    lines = logs.lines()
    # The workflows' own lines must be there, or the test proves nothing.
    assert any("temporalio.workflow" in line for line in lines), "capture is broken"
    national_digits = number[3:]
    for line in lines:
        lowered = line.lower()
        for value in (*values, *spellings(number)):
            assert value.lower() not in lowered, f"{value!r} in log line: {line}"
        assert national_digits not in digits(line), f"phone number in log line: {line}"


async def run_text_case(
    client: Client, settings: Settings, stt: object, text: str, call_id: str
) -> tuple[object, VoicemailResult | None]:
    inp = VoicemailInput(
        call_id=call_id,
        audio_path="",
        caller_number=NUMBER,
        stt_task_queue=settings.temporal.stt_task_queue,
        confirm_timeout_s=2,
        text=text,
        channel="sms",
    )
    handle = await client.start_workflow(
        names.VOICEMAIL_WORKFLOW,
        inp,
        id=names.voicemail_workflow_id(call_id),
        task_queue=settings.temporal.task_queue,
        result_type=VoicemailResult,
    )
    return handle, None


async def test_booked_text_case_and_its_follow_up_log_no_personal_value(
    client: Client, base_settings: Settings, stt: object, tmp_path: Path, logs: Logs
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"priv-{uuid.uuid4().hex[:6]}"
    text = "Bonjour c'est Berthelot, une table à enlever au 12 boulevard Chave 13005"
    async with running_worker(client, settings, stt):  # type: ignore[arg-type]
        handle, _ = await run_text_case(client, settings, stt, text, call_id)
        result = await asyncio.wait_for(handle.result(), 120)  # type: ignore[attr-defined]
        follow = client.get_workflow_handle(names.booking_follow_up_workflow_id(call_id))
        # The follow-up hears a reply it cannot act on and hands it to a person, who closes.
        await follow.signal(
            names.SMS_REPLY_SIGNAL,
            SmsReplyInput("Berthelot ici, sonnez au 12 boulevard Chave", NUMBER, "", "r-1"),
        )
        for _ in range(200):
            desc = await follow.describe()
            if desc.typed_search_attributes.get(NEEDS_AGENT):
                break
            await asyncio.sleep(0.05)
        await follow.terminate("test over")
    assert result.status == Status.BOOKED
    assert store(settings).get_by_call(call_id) is not None
    assert_private(logs, "Berthelot", "boulevard Chave", "12 boulevard", "sonnez", result.sms_text)


async def test_escalated_case_closed_by_an_agent_logs_no_personal_value(
    client: Client, base_settings: Settings, stt: object, tmp_path: Path, logs: Logs
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"priv-{uuid.uuid4().hex[:6]}"
    # A street the territory does not know: address_not_found, with the caller's words in the
    # escalation's detail.
    text = "Madame Berthelot, un canapé à prendre au 41 impasse Vernet 13005"
    async with running_worker(client, settings, stt):  # type: ignore[arg-type]
        handle, _ = await run_text_case(client, settings, stt, text, call_id)
        state, result = await wait_settled(handle, 60, caller_wait_settles=False)  # type: ignore[arg-type]
        assert result is None and state.status == Status.WAITING_AGENT
        assert state.escalation is not None and state.escalation.detail
        closed = await handle.execute_update(  # type: ignore[attr-defined]
            names.RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-7", action="close", comment=COMMENT),
            result_type=ResolveResult,
        )
        assert closed.accepted
        await asyncio.wait_for(handle.result(), 30)  # type: ignore[attr-defined]
    assert_private(
        logs,
        "Berthelot",
        "impasse Vernet",
        "41 impasse",
        COMMENT,
        "Vernet",
        state.escalation.detail,
    )


async def test_unmatched_sms_closed_by_an_agent_logs_no_personal_value(
    client: Client, unique_queue: str, logs: Logs
) -> None:
    body = "Bonjour, Berthelot au 41 impasse Vernet, le camion n'est pas passé"
    inp = IncomingSmsInput(
        message_id=f"m-{uuid.uuid4().hex[:8]}",
        sender=NUMBER,
        text=body,
        received_at="2026-11-25T22:00:00+01:00",
        phone_key=phone_key(NUMBER, secrets.token_bytes(32)),
    )
    async with Worker(client, task_queue=unique_queue, workflows=[IncomingSmsWorkflow]):
        handle = await client.start_workflow(
            IncomingSmsWorkflow.run,
            inp,
            id=names.incoming_sms_workflow_id(inp.message_id),
            task_queue=unique_queue,
        )
        await handle.signal(
            names.SMS_REPLY_SIGNAL, SmsReplyInput("C'est au 41 impasse Vernet", NUMBER, "", "m-2")
        )
        await handle.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput("agent-7", action="close", comment=COMMENT),
            result_type=ResolveResult,
        )
        await asyncio.wait_for(handle.result(), 30)
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert_private(logs, "Berthelot", "impasse Vernet", body, COMMENT)


async def test_missed_call_reply_and_callback_log_no_personal_value(
    harness: Harness,  # noqa: F811
    logs: Logs,
) -> None:
    # Out of hours: the caller gets the invitation, answers with their request.
    number = NUMBER
    sunday = next_local(await harness.now(), 6, time(10, 0))
    await harness.skip_to(sunday)
    handle = await harness.call(number)
    await eventually(lambda: state(handle), lambda s: s.status == MissedCallStatus.WAITING_REPLY)
    await handle.signal(
        names.SMS_REPLY_SIGNAL,
        SmsReplyInput("Berthelot, 41 impasse Vernet, un canapé", number, "", "m-1"),
    )
    await eventually(lambda: state(handle), lambda s: bool(s.handed_over_to))
    await handle.signal(names.SMS_REPLY_SIGNAL, SmsReplyInput("fin", number, "", "m-2"))
    await handle.result()
    # In hours: a callback task, closed by an agent with a comment.
    other = "+33698321457"
    tuesday = next_local(await harness.now(), 1, time(10, 0))
    await harness.skip_to(tuesday)
    callback = await harness.call(other)
    await eventually(
        lambda: search_attributes(callback),
        lambda a: bool(a.get(NEEDS_AGENT)),
    )
    await callback.execute_update(
        names.RESOLVE_UPDATE,
        ResolveInput(agent_id="agent-7", action="close", comment=COMMENT),
        result_type=ResolveResult,
    )
    await callback.result()
    assert_private(logs, "Berthelot", "impasse Vernet", COMMENT)
    assert_private(logs, number=other)


async def test_live_call_handed_to_a_person_logs_no_personal_value(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path, logs: Logs
) -> None:
    """A live call (AudioSocket, the telephony process's dialogue, LiveCallWorkflow): the
    caller keys the house number, says the street, keys the postcode, says the items, keys
    their mobile, then asks for a person at the read-back; an agent closes the callback with
    a comment. Neither the address, the number nor the comment reaches the logs."""
    settings = live_settings(base_settings, tmp_path)
    street, items = turn("street"), turn("items")
    async with telephony(client, settings, stt) as tel:
        call = AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0)
        cid = call.call_id
        async with call:
            await wait_listening(tel, cid, Phase.ASK_ADDRESS, 40)
            await keys(call, "12#")
            await wait_listening(tel, cid, Phase.ASK_STREET, 20)
            await call.say(street)
            await wait_listening(tel, cid, Phase.ASK_POSTCODE, 40)
            await keys(call, "13005")
            await wait_listening(tel, cid, Phase.ASK_ITEMS, 40)
            await call.say(items)
            await wait_listening(tel, cid, Phase.ASK_PHONE, 40)
            await keys(call, MOBILE)
            await wait_listening(tel, cid, Phase.CONFIRM, 20)
            match = tel.activities.dialogues[cid].progress.match
            assert match is not None and match.label() == ADDRESS_LABEL
            await keys(call, TRANSFER_KEY)  # "pour parler à un conseiller, tapez 0"
            await call.wait_closed(30)
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        await wait_status(handle, "waiting_agent", 30)
        closed = await handle.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-7", action="close", comment=COMMENT),
            result_type=ResolveResult,
        )
        assert closed.accepted
        result = await result_of(handle)
    assert result.status == "closed"
    mobile = "+33" + MOBILE[1:]
    assert_private(
        logs, "Chave", "12 Boulevard", "Berthelot", "impasse Vernet", "rappelée", number=mobile
    )
