"""Exactly once: the ledger stops a second send, holds no personal data, and an unknown
outcome is reconciled with the provider or handed to a person."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from activities.messaging.errors import (
    SmsInFlightError,
)
from activities.messaging.outbox import OutboxBackend
from domain.errors import (
    SMS_UNCERTAIN,
)
from domain.models import NotifyResult
from tests.activities.messaging.common import (
    MOBILE,
    FlakyBackend,
    confirmation,
    expect_application_error,
    make_activities,
    run,
)


def test_ledger_prevents_double_sending(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    first = run(activities, confirmation())
    again = run(activities, confirmation())
    assert len(outbox.messages()) == 1
    assert again.duplicate and not first.duplicate
    assert again.message_id == first.message_id
    assert again.text == first.text
    # Another activity instance (another worker process) on the same ledger file.
    other = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    assert run(other, confirmation()).duplicate
    assert len(outbox.messages()) == 1
    # A different key is a different SMS.
    run(activities, confirmation(key="voicemail-43:confirmation"))
    assert len(outbox.messages()) == 2


def test_ledger_holds_no_personal_data(tmp_path: Path) -> None:
    activities = make_activities(OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path)
    run(activities, confirmation())
    raw = (tmp_path / "ledger.sqlite").read_bytes()
    assert MOBILE.encode() not in raw and b"612345678" not in raw
    assert b"Capelette" not in raw


def test_concurrent_attempts_send_once(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            result: object = run(activities, confirmation())
        except Exception as err:
            result = err
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outbox.messages()) == 1
    fresh = [o for o in outcomes if isinstance(o, NotifyResult) and not o.duplicate]
    assert len(fresh) == 1
    # The others either saw it sent or backed off while it was in flight (retryable).
    for o in outcomes:
        assert isinstance(o, NotifyResult | SmsInFlightError), o


def test_unknown_outcome_without_lookup_goes_to_a_person(tmp_path: Path) -> None:
    backend = FlakyBackend()
    activities = make_activities(backend, tmp_path)
    with pytest.raises(TimeoutError):
        run(activities, confirmation())
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "unknown"  # type: ignore[index]
    backend.fail = False
    expect_application_error(lambda: run(activities, confirmation()), SMS_UNCERTAIN)
    assert len(backend.sent) == 1


def test_crashed_attempt_is_in_flight_then_reconciled(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    # A worker died between the provider call and the ledger update: the outbox has the
    # message, the ledger still says "sending".
    outbox.send(MOBILE, "texte", "voicemail-42:confirmation")
    busy = make_activities(outbox, tmp_path, inflight_lease_s=3600)
    busy.ledger.claim("voicemail-42:confirmation", "outbox", "x")
    with pytest.raises(SmsInFlightError):
        run(busy, confirmation())
    # Once the lease is over, the attempt asks the outbox and does not send again.
    expired = make_activities(outbox, tmp_path, inflight_lease_s=0)
    result = run(expired, confirmation())
    assert result.duplicate
    assert len(outbox.messages()) == 1
    assert expired.ledger.get("voicemail-42:confirmation")["state"] == "sent"  # type: ignore[index]


def test_crashed_attempt_that_never_sent_is_sent_once(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    activities = make_activities(outbox, tmp_path, inflight_lease_s=0)
    activities.ledger.claim("voicemail-42:confirmation", "outbox", "x")
    result = run(activities, confirmation())
    assert not result.duplicate
    assert len(outbox.messages()) == 1
    assert activities.ledger.get("voicemail-42:confirmation")["attempts"] == 2  # type: ignore[index]
