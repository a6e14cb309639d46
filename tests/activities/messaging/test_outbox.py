"""The local outbox backend: one JSON line per SMS, safe with threads; its delivery reports and
its inbox of replies."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from activities.config import SmsSettings
from activities.messaging.build import build_sms_backend
from activities.messaging.errors import (
    SmsNotFoundError,
)
from activities.messaging.outbox import OutboxBackend
from domain.sms import GSM7
from domain.sms_models import SmsDeliveryStatus
from tests.activities.messaging.common import (
    MOBILE,
    check,
    confirmation,
    make_activities,
    run,
)


def test_outbox_line_format(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "sub" / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    result = run(activities, confirmation())
    lines = (tmp_path / "sub" / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"id", "to", "text", "key", "at"}
    assert record["id"] == result.message_id
    assert record["text"] == result.text
    assert record["key"] == "voicemail-42:confirmation"
    assert result.backend == "outbox" and not result.duplicate
    assert (result.encoding, result.segments) == (GSM7, 2)


def test_outbox_is_safe_with_threads(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")

    def worker(n: int) -> None:
        for i in range(25):
            outbox.send(MOBILE, f"message {n}-{i} " + "é" * 200, f"k-{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = outbox.messages()
    assert len(messages) == 200
    assert len({m["id"] for m in messages}) == 200
    assert outbox.find(MOBILE, "", "k-3-7") is not None
    assert outbox.find(MOBILE, "", "k-unknown") is None


def test_outbox_delivery(tmp_path: Path) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    sent = run(activities, confirmation())
    assert check(activities, sent.message_id, "outbox").status == SmsDeliveryStatus.DELIVERED
    assert check(activities, "outbox-nope").status == SmsDeliveryStatus.FAILED


def test_outbox_inbox(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl", tmp_path / "inbox.jsonl")
    added = outbox.add_incoming(MOBILE, "ANNULER")
    # Lines written by hand: no id (known by a hash of the line), a torn line, junk.
    with open(tmp_path / "inbox.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"sender": "06 12 34 56 78", "message": "1"}) + "\n")
        handle.write("[1, 2]\n")
        handle.write('{"sender": "+3361')
    ids = outbox.list_incoming()
    assert ids[0] == added and len(ids) == 2
    assert outbox.list_incoming() == ids  # stable ids
    assert outbox.get_incoming(ids[1])["message"] == "1"
    outbox.delete_incoming(added)
    outbox.delete_incoming(added)
    assert outbox.list_incoming() == [ids[1]]
    assert (tmp_path / "inbox.jsonl.done").read_text().splitlines() == [added]
    with pytest.raises(SmsNotFoundError):
        outbox.get_incoming(added)
    # The default inbox sits next to the outbox; the settings can move it.
    assert OutboxBackend(tmp_path / "o.jsonl").inbox_path == tmp_path / "sms-inbox.jsonl"
    built = build_sms_backend(
        SmsSettings(outbox_path=tmp_path / "o.jsonl", inbox_path=tmp_path / "i.jsonl")
    )
    assert isinstance(built, OutboxBackend) and built.inbox_path == tmp_path / "i.jsonl"
