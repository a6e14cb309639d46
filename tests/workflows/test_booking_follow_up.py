"""BookingFollowUpWorkflow on the real dev server with the real activities (SQLite booking
store, outbox SMS backend with its inbox, the SMS poller): delivery report, ANNULER by SMS
(place freed, cancellation confirmed, no reminder), the eve reminder, a booking cancelled
elsewhere, replies handed to a person, an undelivered confirmation.

The real reminder time is the eve at 18:00 Europe/Paris (computed by the booking activity;
DST cases in tests/domain/test_calendar.py). Temporal's time-skipping test server cannot be
downloaded here (no access to temporal.download), so these tests give the workflow a reminder
a few seconds ahead instead of skipping days."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributeKey

from activities.bookings.engine import make_engine
from activities.bookings.store import BookingStore
from activities.messaging.outbox import OutboxBackend
from activities.messaging.phone_keys import phone_key_secret
from activities.messaging.routes import SmsRoutes
from domain import names
from domain.booking_models import FollowUpInput, FollowUpResult, FollowUpState
from domain.models import AddressMatch, BookInput, ItemCount, SmsReplyInput
from domain.phone import phone_key
from domain.sms_models import IncomingSmsState, SmsPollInput, SmsPollResult
from tests.activities.test_sms_routing_table import ListQueries
from tests.workflows.recording import record_history
from tests.workflows.test_voicemail import case_settings, outbox, store
from workers.settings import Settings
from workers.worker.composition import workers_running
from workflows.booking_follow_up import is_cancel_request

# Recorded with ENCOMBOT_RECORD_HISTORIES=1 (a follow-up with the `follow-up-sms-route`
# marker, cancelled by SMS); replayed by test_replay.py.
HISTORIES = Path(__file__).parent / "histories" / "i17-sms-route"
CALLER = "+33612345678"
SECTOR = "13205"
SA_PHONE_KEY = SearchAttributeKey.for_keyword_list(names.SA_SMS_PHONE_KEY)
SA_REASON = SearchAttributeKey.for_keyword(names.SA_REASON)
SA_NEEDS_AGENT = SearchAttributeKey.for_bool(names.SA_NEEDS_AGENT)


def book(booking_store: BookingStore, call_id: str, caller: str = CALLER) -> tuple[str, str]:
    booking_store.create_schema()
    result = booking_store.book(
        BookInput(
            call_id=call_id,
            sector=SECTOR,
            address=AddressMatch(
                housenumber=str(10 + int(uuid.uuid4().int % 80)),
                street="Boulevard Chave",
                postcode="13005",
                citycode=SECTOR,
                city="Marseille",
                lon=5.39,
                lat=43.29,
                score=0.95,
                sector=SECTOR,
            ),
            items=[ItemCount("canapé", 1)],
            caller_number=caller,
        ),
        datetime.now(UTC),
    )
    assert result.status == "booked", result
    return result.reference, result.pickup_date


async def start_follow_up(
    client: Client,
    settings: Settings,
    reference: str,
    pickup_date: str,
    *,
    reminder_in_s: float | None,
    message_id: str = "",
    listen_after_s: int = 2,
    caller: str = CALLER,
) -> WorkflowHandle[Any, FollowUpResult]:
    secret = phone_key_secret(settings.sms, settings.data_dir)
    reminder_at = (
        (datetime.now(UTC) + timedelta(seconds=reminder_in_s)).isoformat()
        if reminder_in_s is not None
        else ""
    )
    return await client.start_workflow(
        names.BOOKING_FOLLOW_UP_WORKFLOW,
        FollowUpInput(
            call_id=f"call-{reference}",
            reference=reference,
            pickup_date=pickup_date,
            to=caller,
            address_label="12 Boulevard Chave, 13005 Marseille",
            reminder_at=reminder_at,
            phone_key=phone_key(caller, secret),
            sms_message_id=message_id,
            sms_backend="outbox",
            delivery_checks_s=[1, 2],
            listen_after_reminder_s=listen_after_s,
        ),
        id=names.booking_follow_up_workflow_id(f"call-{reference}"),
        task_queue=settings.temporal.task_queue,
        result_type=FollowUpResult,
    )


def sent(settings: Settings, suffix: str) -> list[dict[str, str]]:
    return [m for m in outbox(settings) if m["key"].endswith(suffix)]


async def wait_for(predicate: Any, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


def test_cancel_words() -> None:
    for text in ("ANNULER", "annuler", " Annuler svp", "Annulation.", "annulé", "ANNULEZ !"):
        assert is_cancel_request(text), text
    for text in ("", "1", "je ne veux pas annuler", "OK merci", "STOP"):
        assert not is_cancel_request(text), text


async def test_reminder_on_the_eve_after_a_delivered_confirmation(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    confirmation_id = OutboxBackend(settings.sms.outbox_path).send(CALLER, "confirmation", "k")
    reference, pickup = book(store(settings), f"rem-{uuid.uuid4().hex[:6]}")
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(
            client, settings, reference, pickup, reminder_in_s=4, message_id=confirmation_id
        )
        result = await asyncio.wait_for(handle.result(), 60)
        state = await handle.query(names.STATE_QUERY, result_type=FollowUpState)
    assert result.status == "booked"
    assert result.delivery == "delivered"
    assert result.reminded
    reminders = sent(settings, ":reminder")
    assert len(reminders) == 1
    assert reference in reminders[0]["text"] and "ANNULER" in reminders[0]["text"]
    assert reminders[0]["to"] == CALLER
    assert any("distribué" in line for line in state.history)


async def caller_texts(client: Client, settings: Settings, text: str) -> SmsPollResult:
    """The caller's SMS lands in the provider's inbox and one poll routes it by number."""
    OutboxBackend(settings.sms.outbox_path, settings.sms.inbox_path).add_incoming(
        "06 12 34 56 78", text
    )
    return await client.execute_workflow(
        names.SMS_POLL_WORKFLOW,
        SmsPollInput(),
        id=f"poll-{uuid.uuid4().hex[:6]}",
        task_queue=settings.temporal.task_queue,
        result_type=SmsPollResult,
    )


async def test_annuler_by_sms_cancels_frees_the_place_and_sends_no_reminder(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    booking_store = store(settings)
    reference, pickup = book(booking_store, f"can-{uuid.uuid4().hex[:6]}")
    before = booking_store.slot(SECTOR, datetime.fromisoformat(pickup).date())
    assert before is not None
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(client, settings, reference, pickup, reminder_in_s=20)

        async def listening() -> bool:
            attrs = (await handle.describe()).typed_search_attributes
            return bool(attrs.get(SA_PHONE_KEY))

        await wait_for(listening)
        polled = await caller_texts(client, settings, "Annuler svp")
        assert polled.routed == 1
        result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == "cancelled"
    assert not result.reminded
    stored = booking_store.get_by_reference(reference)
    assert stored is not None and stored.status == "cancelled"
    after = booking_store.slot(SECTOR, datetime.fromisoformat(pickup).date())
    assert after is not None and after.remaining == before.remaining + 1
    events = booking_store.events(stored.id)
    assert any(e["actor"] == "caller_sms" for e in events)
    confirmations = sent(settings, ":cancelled")
    assert len(confirmations) == 1 and reference in confirmations[0]["text"]
    assert sent(settings, ":reminder") == []


async def test_annuler_finds_the_follow_up_by_its_route_with_no_list_query(
    client: Client, base_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, item 6: the follow-up takes over the number's route at its start (its parent
    sent the confirmation, and ends), so the caller's ANNULER finds it in the routes table,
    with no visibility List query (the parent's route, older, is not even tried)."""
    settings = case_settings(base_settings, tmp_path)
    reference, pickup = book(store(settings), f"rt-{uuid.uuid4().hex[:6]}")
    routes = SmsRoutes(make_engine(settings.booking.database_url))
    key = phone_key(CALLER, phone_key_secret(settings.sms, settings.data_dir))
    parent = f"voicemail-{reference}-closed"  # recorded by its send_sms, long over
    routes.record(key, parent, now=1000.0)
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(client, settings, reference, pickup, reminder_in_s=30)

        async def route_taken_over() -> bool:
            return routes.lookup(key)[:1] == [handle.id]

        await wait_for(route_taken_over)
        lists = ListQueries(client, monkeypatch)
        polled = await caller_texts(client, settings, "ANNULER")
        assert (polled.routed, polled.kept_for_agent) == (1, 0)
        result = await asyncio.wait_for(handle.result(), 60)
        assert lists.count == 0
        await record_history(handle, settings, HISTORIES, "BookingFollowUpWorkflow")
    assert result.status == "cancelled"
    routes.engine.dispose()


async def test_booking_cancelled_elsewhere_gets_no_reminder(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    booking_store = store(settings)
    reference, pickup = book(booking_store, f"else-{uuid.uuid4().hex[:6]}")
    booking_store.cancel(reference, actor="agent:agent-3", reason="rappel téléphonique")
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(client, settings, reference, pickup, reminder_in_s=2)
        result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == "cancelled"
    assert sent(settings, ":reminder") == []


async def test_other_replies_go_to_a_person_and_the_booking_stays(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    reference, pickup = book(store(settings), f"txt-{uuid.uuid4().hex[:6]}")
    message_id = f"m-{uuid.uuid4().hex[:8]}"
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(client, settings, reference, pickup, reminder_in_s=6)
        reply = SmsReplyInput(
            text="Je serai absent, le gardien sera là", sender=CALLER, message_id=message_id
        )
        # The router retried after a crash: the same message twice, one task.
        await handle.signal(names.SMS_REPLY_SIGNAL, reply)
        await handle.signal(names.SMS_REPLY_SIGNAL, reply)
        result = await asyncio.wait_for(handle.result(), 60)
        task = client.get_workflow_handle(
            names.incoming_sms_workflow_id(f"call-{reference}-{message_id}")
        )
        task_state = await task.query(names.STATE_QUERY, result_type=IncomingSmsState)
        attrs = (await task.describe()).typed_search_attributes
        await task.terminate("test over")
    assert result.status == "booked" and result.reminded
    assert result.forwarded_to_agent == 1
    assert [m.text for m in task_state.messages] == [reply.text]
    assert attrs.get(SA_REASON) == "sms_reply" and attrs.get(SA_NEEDS_AGENT) is True
    # The task does not take the caller's number: a later ANNULER still reaches the booking.
    assert not attrs.get(SA_PHONE_KEY)


async def test_undelivered_confirmation_opens_a_callback_task(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    reference, pickup = book(store(settings), f"und-{uuid.uuid4().hex[:6]}")
    async with workers_running(client, settings, "default"):
        # An id the provider does not know: nobody can say the caller got their date.
        handle = await start_follow_up(
            client, settings, reference, pickup, reminder_in_s=None, message_id="outbox-unknown"
        )
        result = await asyncio.wait_for(handle.result(), 60)
        task = client.get_workflow_handle(
            names.incoming_sms_workflow_id(f"call-{reference}-undelivered")
        )
        desc = await task.describe()
        await task.terminate("test over")
    assert result.delivery == "failed"
    assert desc.status == WorkflowExecutionStatus.RUNNING
    assert desc.typed_search_attributes.get(SA_REASON) == "sms_undelivered"
