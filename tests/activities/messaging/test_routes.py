"""The SMS reply routes (activities/messaging/routes.py, table `sms_routes` of migration 0004):
an idempotent upsert per (number key, case), newest first, deleted one case at a time, past the
retention, or by case; `send_sms` writes the route of the case that sends, before the send,
and `listen_for_sms_replies` that of a case taking a number over. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from temporalio.testing import ActivityEnvironment

from activities.bookings.engine import make_engine
from activities.bookings.schema import SMS_ROUTES
from activities.messaging.outbox import OutboxBackend
from activities.messaging.routes import SmsRoutes
from domain.phone import phone_key
from domain.sms_models import SmsListenInput
from tests.activities.messaging.common import MOBILE, confirmation, make_activities
from tests.conftest import postgres_url

SECRET = b"0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}")
    else:
        made = make_engine(postgres_url())
        try:
            with made.connect():
                pass
        except Exception as exc:
            made.dispose()
            pytest.skip(f"PostgreSQL unreachable: {type(exc).__name__}")
    yield made
    made.dispose()


def rows(engine: Engine, key: str) -> list[tuple[str, float]]:
    query = select(SMS_ROUTES.c.workflow_id, SMS_ROUTES.c.updated_at).where(
        SMS_ROUTES.c.phone_key == key
    )
    with engine.connect() as conn:
        return sorted((r.workflow_id, r.updated_at) for r in conn.execute(query))


def test_record_is_an_idempotent_upsert_read_newest_case_first(engine: Engine) -> None:
    routes = SmsRoutes(engine)
    key, other = uuid.uuid4().hex, uuid.uuid4().hex  # PostgreSQL's table is shared
    assert routes.lookup(key) == []
    routes.record(key, "voicemail-1", now=1000.0)
    routes.record(key, "missed-call-1", now=1010.0)
    routes.record(other, "voicemail-9", now=1020.0)
    assert routes.lookup(key) == ["missed-call-1", "voicemail-1"]
    # A retried activity: the same row, its time refreshed (not its place: the case that
    # began texting the number last comes first), no error, no second row.
    routes.record(key, "voicemail-1", now=1030.0)
    routes.record(key, "voicemail-1", now=1030.0)
    assert routes.lookup(key) == ["missed-call-1", "voicemail-1"]
    assert rows(engine, key) == [("missed-call-1", 1010.0), ("voicemail-1", 1030.0)]
    routes.record("", "voicemail-1")  # no number key: nothing to route
    routes.record(key, "")
    assert len(rows(engine, key)) == 2

    routes.forget(key, "voicemail-1")
    assert routes.lookup(key) == ["missed-call-1"]
    assert routes.lookup(other) == ["voicemail-9"]
    assert routes.forget_workflows(["voicemail-9", "never-seen"]) == 1
    assert routes.lookup(other) == []
    routes.forget(key, "missed-call-1")


def test_the_case_that_began_texting_last_comes_first_and_pages(engine: Engine) -> None:
    routes = SmsRoutes(engine)
    key = uuid.uuid4().hex
    tag = uuid.uuid4().hex[:8]
    voicemail, follow_up = f"voicemail-{tag}", f"booking-{tag}"
    routes.record(key, voicemail, now=100.0)
    routes.record(key, follow_up, now=200.0)
    # The message texts again (say, its question handed to an agent): its follow-up, begun
    # after it, still gets the caller's ANNULER.
    routes.record(key, voicemail, now=300.0)
    assert routes.lookup(key) == [follow_up, voicemail]
    ids = routes.workflow_ids("", 10**6)
    assert follow_up in ids and voicemail in ids and ids == sorted(ids)
    assert voicemail not in routes.workflow_ids(voicemail, 10**6)
    assert routes.forget_workflows([voicemail, follow_up]) == 2


def test_send_sms_records_the_route_of_the_sending_case(tmp_path: Path) -> None:
    sms = make_activities(
        OutboxBackend(tmp_path / "outbox.jsonl"), tmp_path, phone_key_secret=SECRET
    )
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="voicemail-42")
    key = phone_key(MOBILE, SECRET)
    sent = env.run(sms.send_sms, confirmation())
    assert sent.phone_key == key
    assert sms.routes.lookup(key) == ["voicemail-42"]
    # The activity retried: already sent, still one route, no failure.
    again = env.run(sms.send_sms, confirmation())
    assert again.duplicate and sms.routes.lookup(key) == ["voicemail-42"]
    # A send whose replies belong to another case records nothing for this one.
    env.info = dataclasses.replace(env.info, workflow_id="missed-call-k")
    other = dataclasses.replace(confirmation("missed-call-k:booking-status"), listen=False)
    env.run(sms.send_sms, other)
    assert sms.routes.lookup(key) == ["voicemail-42"]
    # A case taking the number over (the booking follow-up) comes first from now on.
    env.info = dataclasses.replace(env.info, workflow_id="booking-call-42")
    listened = env.run(sms.listen_for_sms_replies, SmsListenInput(key))
    assert listened.workflow_id == "booking-call-42"
    assert sms.routes.lookup(key) == ["booking-call-42", "voicemail-42"]
    # No number is stored: the key and ids only.
    assert "612345678" not in str(rows(sms.routes.engine, key))


def test_a_row_written_after_the_check_is_not_forgotten(engine: Engine) -> None:
    """A missed call's workflow id is the number's: the router or the purge finds its run
    closed, a new run texts the number and writes the row, then the forget comes."""
    routes = SmsRoutes(engine)
    key, case = uuid.uuid4().hex, f"missed-call-{uuid.uuid4().hex[:8]}"
    routes.record(key, case, now=200.0)  # the new run's send, after a check at 150
    routes.forget(key, case, seen_before=150.0)
    assert routes.forget_workflows([case], seen_before=150.0) == 0
    assert routes.lookup(key) == [case]
    assert routes.forget_workflows([case], seen_before=200.0) == 1
    routes.record(key, case, now=300.0)
    routes.forget(key, case, seen_before=300.0)
    assert routes.lookup(key) == []


def test_a_new_run_under_the_same_id_opens_its_exchange_anew(engine: Engine) -> None:
    """A missed call's id is the number's: its new run's invitation must rank as the newest
    case, not keep the place a closed run earned before a booking's follow-up."""
    routes = SmsRoutes(engine)
    key, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    missed, follow_up = f"missed-call-{tag}", f"booking-{tag}"
    routes.record(key, missed, now=100.0, opens=True)  # the first run's invitation
    routes.record(key, follow_up, now=200.0)  # a booking made since
    routes.record(key, missed, now=300.0)  # a later SMS of the same exchange: same place
    assert routes.lookup(key) == [follow_up, missed]
    routes.record(key, missed, now=400.0, opens=True)  # a new run's invitation
    assert routes.lookup(key) == [missed, follow_up]
    assert routes.forget_workflows([missed, follow_up]) == 2
