"""POST /missed-calls (workers/ingress/routes/missed_calls.py): one case per number, and a
missed call that ends booked through an SMS reply (POST /missed-calls → invitation SMS →
POST /sms/incoming → text channel → booking)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes
from temporalio.worker import Worker

from activities.bookings.schema import SMS_LEDGER
from activities.messaging.routing import phone_key_query
from domain import names
from domain.booking_models import CallCentreInput, CallCentreOpening
from domain.missed_call_models import MissedCallStatus
from domain.phone import phone_key
from domain.webhook_signature import signed_headers
from tests.workers.ingress.support import (
    PHONE_SECRET,
    SECRET,
    ensure_search_attributes,
    missed,
    now_iso,
    post,
)
from workers.settings import Settings
from workflows.common import SA_STATUS


async def test_missed_calls_join_one_case_per_number(
    api: httpx.AsyncClient, client: Client
) -> None:
    await ensure_search_attributes(client)
    number = f"+3361{uuid.uuid4().int % 10**7:07d}"  # 0690-0694: overseas, not +33
    first = await post(api, "/missed-calls", missed(caller=number))
    assert first.status_code == 202, first.text
    workflow_id = first.json()["workflow_id"]
    assert workflow_id == f"missed-call-{phone_key(number, PHONE_SECRET.encode())}"
    assert number not in first.text and number[4:] not in workflow_id
    retried = await post(api, "/missed-calls", {**missed(first.json()["call_id"], number)})
    other_call = await post(api, "/missed-calls", missed(caller=number.replace("+33", "0")))
    assert retried.json()["workflow_id"] == other_call.json()["workflow_id"] == workflow_id

    withheld = missed(caller="anonymous")
    one = await post(api, "/missed-calls", withheld)
    # A retry is signed anew (the same signature twice is a replay: 409).
    two = await post(api, "/missed-calls", withheld, at=time.time() + 1)
    assert one.json()["workflow_id"] == two.json()["workflow_id"]
    assert one.json()["workflow_id"] == f"missed-call-withheld-{withheld['call_id']}"
    assert (one.json()["created"], two.json()["created"]) == (True, False)


def closed_call_centre() -> Callable[[CallCentreInput], CallCentreOpening]:
    """Out of hours whatever the hour the test runs at."""

    @activity.defn(name="call_centre_opening")
    def call_centre_opening(inp: CallCentreInput) -> CallCentreOpening:
        at = datetime.fromisoformat(inp.at) if inp.at else datetime.now(UTC)
        opening = (at + timedelta(days=1)).astimezone(UTC)
        return CallCentreOpening(open_now=False, next_opening=opening.isoformat())

    return call_centre_opening


def outbox_lines(settings: Settings) -> list[dict[str, Any]]:
    path = settings.sms.outbox_path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def outbox(settings: Settings, to: str) -> list[str]:
    return [m["text"] for m in outbox_lines(settings) if m["to"] == to]


def sent_keys(settings: Settings) -> list[tuple[str, str]]:
    """The send ledger's purposes and states (the key's last part: no number)."""
    from activities.bookings.engine import make_engine

    engine = make_engine(settings.booking.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(SMS_LEDGER.c.key, SMS_LEDGER.c.state)).all()
    finally:
        engine.dispose()
    return [(key.rsplit(":", 1)[-1], state) for key, state in rows]


async def invitation_sent(client: Client, workflow_id: str) -> bool:
    """The case has sent its invitation: its status says it waits for the reply."""
    described = await client.get_workflow_handle(workflow_id).describe()
    status = (described.typed_search_attributes or TypedSearchAttributes.empty).get(SA_STATUS)
    return status == MissedCallStatus.WAITING_REPLY.value


async def wait_for(probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def where_is(client: Client, workflow_id: str) -> str:
    """Where a case stands, for a failure's message: its status, its pending activities and
    its history's last events (types only: no personal data)."""
    handle = client.get_workflow_handle(workflow_id)
    raw = (await handle.describe()).raw_description
    pending = [
        (p.activity_type.name, p.state, p.attempt, p.last_failure.message)
        for p in raw.pending_activities
    ]
    history = (await handle.fetch_history()).events
    start = history[0].event_time.ToDatetime() if history else None
    # Each event's type and its second since the case began: a late step shows where the time
    # went (an activity retried shows its attempt).
    events = [
        f"{EventType.Name(e.event_type).removeprefix('EVENT_TYPE_')}"
        f"@{(e.event_time.ToDatetime() - start).total_seconds():.1f}s"
        + (
            f"#{e.activity_task_started_event_attributes.attempt}"
            if e.HasField("activity_task_started_event_attributes")
            else ""
        )
        for e in history
    ][-10:]
    # Which activities ran and how the failed ones failed (their types and messages only).
    ran = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    failed = [
        e.activity_task_failed_event_attributes.failure.message
        for e in history
        if e.HasField("activity_task_failed_event_attributes")
    ]
    return (
        f"status {raw.workflow_execution_info.status}, pending {pending}, activities {ran}, "
        f"failures {failed}, last events {events}"
    )


async def test_missed_call_reply_by_sms_ends_booked(
    api: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    from workers.worker.composition import build_default_activities
    from workflows.missed_call import MissedCallWorkflow
    from workflows.voicemail import VoicemailWorkflow

    await ensure_search_attributes(client)
    # 06 numbers are all mobiles; 07 0x… are not allocated to mobiles (a random 07 number was
    # a landline one time in ten, and the case called back instead of texting).
    number = f"+336{uuid.uuid4().int % 10**8:08d}"
    activities = [
        a
        for a in build_default_activities(settings, client)
        if activity._Definition.must_from_callable(a).name != "call_centre_opening"
    ]
    activities += [closed_call_centre()]
    from concurrent.futures import ThreadPoolExecutor

    async with Worker(
        client,
        task_queue=settings.temporal.task_queue,
        workflows=[MissedCallWorkflow, VoicemailWorkflow],
        activities=activities,
        activity_executor=ThreadPoolExecutor(max_workers=4),
    ):
        call = missed(caller=number)
        response = await post(api, "/missed-calls", call)
        assert response.status_code == 202, response.text
        workflow_id = response.json()["workflow_id"]
        # The case says when its invitation is out (its status); only then is the outbox read.
        # Late in a full run the invitation was twice not out after 60 s, then 120 s, with
        # every activity completed by the time the message was built: the bound is the case's
        # own, generous, and a failure tells a late send from a lost one (the send ledger's
        # state and the outbox's line count, no number or text).
        waiting = await wait_for(lambda: invitation_sent(client, workflow_id), 300)
        invite = outbox(settings, number)
        assert waiting and invite, (
            await where_is(client, workflow_id),
            sent_keys(settings),
            len(outbox_lines(settings)),
        )
        assert "adresse et vos objets" in invite[0]

        # The reply is routed by the keyed hash of the number, once the case publishes it.
        key = phone_key(number, PHONE_SECRET.encode())

        async def listed() -> bool:
            return any(
                [e.id == workflow_id async for e in client.list_workflows(phone_key_query(key))]
            )

        assert await wait_for(listed, 30)
        reply = {
            "message_id": f"sms-{uuid.uuid4().hex[:8]}",
            "sender": number,
            "text": "12 boulevard Chave 13005, un canapé",
            "received_at": now_iso(),
        }
        routed = await post(api, "/sms/incoming", reply)
        assert routed.status_code == 202, routed.text
        assert routed.json()["outcome"] == "routed"
        assert routed.json()["workflow_id"] == workflow_id

        status_path = f"/calls/{call['call_id']}"
        headers = lambda: signed_headers(  # noqa: E731
            SECRET.encode(), b"", time.time(), method="GET", path=status_path
        )

        async def booked() -> dict[str, Any] | None:
            body = (await api.get(status_path, headers=headers())).json()
            return body if body.get("status") == "booked" else None

        status = await wait_for(booked, 90)
        assert status, (await api.get(f"/calls/{call['call_id']}", headers=headers())).json()
        assert status["kind"] == "missed_call"
        assert status["detail"]["handed_over_to"] == names.voicemail_workflow_id(
            f"{call['call_id']}-sms"
        )
        texts = outbox(settings, number)
        assert len(texts) == 2 and "Boulevard Chave" in texts[1]
        public = await api.get(f"/calls/{call['call_id']}")
        assert public.json()["status"] == "booked" and "detail" not in public.json()
        assert number not in public.text and "Chave" not in public.text
