"""The SMS ledger lives in the service database: two worker processes (two hosts: nothing on
disk in common) sharing it send each SMS once, through retries, crossed attempts and an OVH
that accepts jobs then answers 504 (issue 18, point 5). On SQLite (the embedded database) and
on PostgreSQL (production; skipped when the server is unreachable)."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from activities.bookings.engine import make_engine
from activities.config import OvhSettings
from activities.messaging.errors import SmsInFlightError, SmsUncertainError
from activities.messaging.ledger import SmsLedger
from activities.messaging.ovh import OvhBackend, ovh_tag
from activities.messaging.sender import SmsSender
from tests.fakes.fake_ovh import FakeOvhApi

PG_URL = os.environ.get(
    "ENCOMBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MOBILE = "+33612345678"
KEYS = [f"voicemail-{i:03d}:confirmation" for i in range(40)]


@dataclass
class Database:
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)


def _worker_process(
    db: Database, ovh: dict[str, str], keys: list[str], start_at: float, out: Any
) -> None:
    """One worker host: its own engine on the shared database, its own OVH client (the
    parent's fake API and credentials); every key through the exactly-once protocol, retried
    as Temporal would (minus the backoff)."""
    settings = OvhSettings(
        endpoint=f"fake-ovh-{os.getpid()}",
        endpoint_url=ovh["url"],
        application_key=SecretStr(ovh["application_key"]),
        application_secret=SecretStr(ovh["application_secret"]),
        consumer_key=SecretStr(ovh["consumer_key"]),
        service_name=ovh["service_name"],
        timeout_s=5.0,
    )
    ledger = SmsLedger(make_engine(db.url, connect_args=db.connect_args), settle_s=0.0)
    sender = SmsSender(OvhBackend(settings), ledger)
    time.sleep(max(0.0, start_at - time.time()))  # both hosts start together
    sent = 0
    for key in keys:
        for _ in range(200):
            try:
                _, _, duplicate = sender.deliver(key, MOBILE, f"Votre SMS {key}")
                sent += not duplicate
                break
            except (SmsInFlightError, SmsUncertainError):
                time.sleep(0.01)  # the other host is sending it, or OVH's answer was lost
        else:
            raise AssertionError(f"{key} never settled")
    out.put(sent)


def run_two_hosts(db: Database, fake: FakeOvhApi) -> list[int]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0  # after both interpreters have imported everything
    ovh = {
        "url": fake.base_url,
        "application_key": fake.application_key,
        "application_secret": fake.application_secret,
        "consumer_key": fake.consumer_key,
        "service_name": fake.service_name,
    }
    hosts = [
        ctx.Process(target=_worker_process, args=(db, ovh, order, start_at, out))
        for order in (KEYS, list(reversed(KEYS)))
    ]
    for host in hosts:
        host.start()
    for host in hosts:
        host.join(timeout=120)
        assert host.exitcode == 0, f"host process exited with {host.exitcode}"
    return [out.get(timeout=5) for _ in hosts]


def check_each_sent_once(fake: FakeOvhApi, db: Database, fresh: list[int]) -> None:
    tags = Counter(job.tag for job in fake.jobs)
    assert set(tags) == {ovh_tag(key) for key in KEYS}
    assert [tag for tag, n in tags.items() if n > 1] == []
    assert sum(fresh) + 5 == len(KEYS)  # the 5 accepted-then-504 ones were found, not sent
    ledger = SmsLedger(make_engine(db.url, connect_args=db.connect_args))
    assert {ledger.get(key)["state"] for key in KEYS} == {"sent"}  # type: ignore[index]


@pytest.fixture
def postgres() -> Iterator[Database]:
    schema = f"encombot_ledger_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc.__class__.__name__}")
    try:
        yield Database(PG_URL, {"options": f"-c search_path={schema}"})
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_two_hosts_share_the_ledger_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'service.sqlite'}")
    with FakeOvhApi() as fake:
        fake.accept_then_fail(504, times=5)
        fresh = run_two_hosts(db, fake)
        check_each_sent_once(fake, db, fresh)


@pytest.mark.postgres
def test_two_hosts_share_the_ledger_on_postgres(postgres: Database) -> None:
    with FakeOvhApi() as fake:
        fake.accept_then_fail(504, times=5)
        fresh = run_two_hosts(postgres, fake)
        check_each_sent_once(fake, postgres, fresh)


def test_a_ledger_file_of_an_earlier_version_is_imported_once(tmp_path: Path) -> None:
    """Upgrading keeps what a host's old ledger file knew: a key it sent stays sent."""
    import sqlite3

    old = tmp_path / "sms-ledger.sqlite"
    with sqlite3.connect(old) as conn:
        conn.execute(
            "CREATE TABLE sms_ledger (key TEXT PRIMARY KEY, state TEXT NOT NULL, backend TEXT"
            " NOT NULL, message_id TEXT, text_sha256 TEXT NOT NULL, attempts INTEGER NOT NULL,"
            " created_at REAL NOT NULL, updated_at REAL NOT NULL, last_error TEXT)"
        )
        conn.execute(
            "INSERT INTO sms_ledger VALUES ('k-old', 'sent', 'ovh', '4242', 'x', 1, 1.0, 1.0, NULL)"
        )
    ledger = SmsLedger(make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}"))
    assert ledger.import_file(old) == 1
    assert ledger.claim("k-old", "ovh", "x").action == "sent"
    assert not old.exists() and (tmp_path / "sms-ledger.sqlite.imported").exists()
    assert ledger.import_file(old) == 0  # read once
