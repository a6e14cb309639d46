"""Issue 17, point 9: the daily purge also reaches the SMS send ledger (keyed hashes of texts
guessable from the templates), the SMS reply routes (item 6) and the outbox backend's files
(numbers and texts in clear), behind the `purge-sms-records` patch (older purge histories
replay without it)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey

from activities.bookings.engine import make_engine
from activities.bookings.schema import SMS_LEDGER
from activities.messaging.ledger import SmsLedger
from activities.messaging.routes import SmsRoutes
from activities.speech.engine import SpeechEngine
from domain import names
from domain.retention import PURGE_WORKFLOW, RETENTION_AGENT, PurgeInput, PurgeResult
from domain.sms_models import IncomingSmsInput, IncomingSmsResult
from tests.workflows.recording import record_history
from tests.workflows.test_voicemail import case_settings, running_worker
from workers.settings import Settings
from workflows.incoming_sms import IncomingSmsWorkflow

# Recorded with ENCOMBOT_RECORD_HISTORIES=1 (with the `purge-sms-records` marker); replayed by
# test_replay.py.
HISTORIES = Path(__file__).parent / "histories" / "i17-purge-sms"


def ledger_row(key: str, at: datetime) -> dict[str, object]:
    return {
        "key": key,
        "state": "sent",
        "backend": "outbox",
        "message_id": f"id-{key}",
        "text_sha256": "0" * 64,
        "attempts": 1,
        "created_at": at.timestamp(),
        "updated_at": at.timestamp(),
    }


async def test_purge_deletes_old_sms_ledger_rows_and_file_lines(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    now = datetime.now(UTC)
    purge_now = now + timedelta(days=60)
    old, recent = purge_now - timedelta(days=40), purge_now - timedelta(days=5)

    engine = make_engine(settings.booking.database_url)
    SmsLedger(engine)  # the schema
    with engine.begin() as conn:
        conn.execute(insert(SMS_LEDGER), [ledger_row("old", old), ledger_row("new", recent)])
    # A reply route of a case long gone, written before the purge asks (the purge's clock is
    # the test's, 60 days on; the route's time is the wall clock's, as the purge's check is).
    SmsRoutes(engine).record("k-old", "voicemail-gone", now=(now - timedelta(days=40)).timestamp())
    outbox, inbox = settings.sms.outbox_path, settings.sms.inbox_path
    outbox.write_text(
        "".join(
            json.dumps({"id": i, "to": "+33612345678", "text": t, "at": at.isoformat()}) + "\n"
            for i, t, at in (("o1", "vieux", old), ("o2", "recent", recent))
        )
        + "not json\n",
        "utf-8",
    )
    inbox.write_text(
        json.dumps(
            {
                "id": "i1",
                "sender": "+33612345678",
                "message": "vieux",
                "creationDatetime": old.isoformat(),
            }
        )
        + "\n",
        "utf-8",
    )

    inp = PurgeInput(
        booking_days=30, audio_days=30, sms_days=30, case_days=0, now=purge_now.isoformat()
    )
    async with running_worker(client, settings, stt):
        handle = await client.start_workflow(
            PURGE_WORKFLOW,
            inp,
            id=f"purge-{uuid.uuid4().hex[:6]}",
            task_queue=settings.temporal.task_queue,
            result_type=PurgeResult,
        )
        result: PurgeResult = await handle.result()
        await record_history(handle, settings, HISTORIES, "PurgeWorkflow")
    assert (result.sms_ledger_deleted, result.sms_lines_deleted, result.errors) == (1, 2, [])
    assert result.sms_routes_deleted == 1 and SmsRoutes(engine).lookup("k-old") == []
    with engine.connect() as conn:
        assert [r.key for r in conn.execute(select(SMS_LEDGER.c.key))] == ["new"]
    assert "vieux" not in outbox.read_text("utf-8") and "recent" in outbox.read_text("utf-8")
    assert "not json" in outbox.read_text("utf-8")  # undated: kept, never guessed
    assert inbox.read_text("utf-8") == ""


async def test_purge_closes_cases_waiting_for_an_agent_past_the_retention(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    """An unmatched SMS nobody closed would wait forever: the purge closes it as `retention`."""
    settings = case_settings(base_settings, tmp_path)
    inp = IncomingSmsInput(
        message_id=f"m-{uuid.uuid4().hex[:8]}",
        sender="+33612345678",
        text="Bonjour, le camion n'est pas passé",
        received_at=datetime.now(UTC).isoformat(),
    )
    needs_agent = SearchAttributeKey.for_bool(names.SA_NEEDS_AGENT)
    async with running_worker(client, settings, stt):
        case = await client.start_workflow(
            IncomingSmsWorkflow.run,
            inp,
            id=names.incoming_sms_workflow_id(inp.message_id),
            task_queue=settings.temporal.task_queue,
        )
        # Waiting for an agent, and visible as such (the purge finds cases by visibility).
        query = f'WorkflowId = "{case.id}" AND {names.SA_NEEDS_AGENT} = true'
        for _ in range(200):
            if [e async for e in client.list_workflows(query)]:
                break
            await asyncio.sleep(0.05)
        assert (await case.describe()).typed_search_attributes.get(needs_agent)
        # A purge with today's clock leaves it; sixty days on, it is closed.
        for days, expected in ((0, 0), (60, 1)):
            now = datetime.now(UTC) + timedelta(days=days)
            result: PurgeResult = await client.execute_workflow(
                PURGE_WORKFLOW,
                PurgeInput(
                    case_days=30,
                    now=now.isoformat(),
                    case_task_queue=settings.temporal.task_queue,
                ),
                id=f"purge-{uuid.uuid4().hex[:6]}",
                task_queue=settings.temporal.task_queue,
                result_type=PurgeResult,
            )
            assert result.stale_cases_closed >= expected
            if expected == 0:
                assert (await case.describe()).status == WorkflowExecutionStatus.RUNNING
        closed: IncomingSmsResult = await asyncio.wait_for(
            case.result(),
            30,  # type: ignore[arg-type]
        )
    assert (closed.status, closed.closed_by) == ("closed", RETENTION_AGENT)
