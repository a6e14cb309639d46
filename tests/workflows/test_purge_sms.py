"""Issue 17, point 9: the daily purge also reaches the SMS send ledger (keyed hashes of texts
guessable from the templates) and the outbox backend's files (numbers and texts in clear),
behind the `purge-sms-records` patch (older purge histories replay without it)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from temporalio.client import Client

from activities.bookings.engine import make_engine
from activities.bookings.schema import SMS_LEDGER
from activities.messaging.ledger import SmsLedger
from activities.speech.engine import SpeechEngine
from domain.retention import PURGE_WORKFLOW, PurgeInput, PurgeResult
from tests.workflows.test_voicemail import case_settings, running_worker
from workers.codec.payload import dev_key_path
from workers.settings import Settings

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

    inp = PurgeInput(booking_days=30, audio_days=30, sms_days=30, now=purge_now.isoformat())
    async with running_worker(client, settings, stt):
        handle = await client.start_workflow(
            PURGE_WORKFLOW,
            inp,
            id=f"purge-{uuid.uuid4().hex[:6]}",
            task_queue=settings.temporal.task_queue,
            result_type=PurgeResult,
        )
        result: PurgeResult = await handle.result()
        if os.environ.get("ENCOMBOT_RECORD_HISTORIES"):
            HISTORIES.mkdir(parents=True, exist_ok=True)
            history = await handle.fetch_history()
            (HISTORIES / f"PurgeWorkflow__{handle.id}.json").write_text(history.to_json())
            shutil.copy(dev_key_path(settings), HISTORIES / "test-codec.key")
    assert (result.sms_ledger_deleted, result.sms_lines_deleted, result.errors) == (1, 2, [])
    with engine.connect() as conn:
        assert [r.key for r in conn.execute(select(SMS_LEDGER.c.key))] == ["new"]
    assert "vieux" not in outbox.read_text("utf-8") and "recent" in outbox.read_text("utf-8")
    assert "not json" in outbox.read_text("utf-8")  # undated: kept, never guessed
    assert inbox.read_text("utf-8") == ""
