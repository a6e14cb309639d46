"""The service database's migrations (activities/bookings/migrate.py, migrations/): an empty
database and one at each earlier revision reach the newest, which is what the models describe;
a database made before migrations (create_all, no alembic_version) is adopted without losing a
row; a database newer than the code is refused. On SQLite, and on PostgreSQL in a database of
its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from activities.bookings import migrate
from activities.bookings.engine import make_engine
from activities.bookings.schema import BOOKINGS, Base, create_schema
from activities.messaging.routes import SmsRoutes
from tests.conftest import postgres_url


def revisions() -> list[str]:
    """Oldest first."""
    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def at(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return migrate.current(conn)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}")
        yield engine
        engine.dispose()
        return
    # A database of its own: the shared `test` database holds other tests' tables.
    name = f"encombot_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable: {type(exc).__name__}")
    engine = make_engine(postgres_url().rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_an_empty_database_reaches_the_newest_revision(empty: Engine) -> None:
    assert at(empty) is None
    create_schema(empty)
    assert at(empty) == migrate.head() == revisions()[-1]
    assert differences(empty) == []
    create_schema(empty)  # again: nothing to do
    assert at(empty) == migrate.head()


def test_each_earlier_revision_upgrades_to_the_newest(empty: Engine) -> None:
    for revision in revisions()[:-1]:
        with empty.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
        with empty.begin() as conn:
            migrate.upgrade(conn, revision)
        assert at(empty) == revision
        create_schema(empty)
        assert at(empty) == migrate.head()
        assert differences(empty) == []


def test_a_database_made_before_migrations_keeps_its_rows(empty: Engine) -> None:
    # What create_all made until December 2026, one table missing (an older version's).
    with empty.begin() as conn:
        Base.metadata.create_all(conn)
        conn.execute(text("DROP TABLE call_routes"))
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        conn.execute(
            BOOKINGS.insert().values(
                reference="ABCDEF", call_id="c-old", sector="13001", pickup_date=date(2026, 3, 5),
                housenumber="1", street="Rue de Rome", postcode="13001", citycode="13201",
                city="Marseille", address_key="k", items=[], caller_number="+33612345678",
                status="booked", created_at=now, updated_at=now,
            )
        )  # fmt: skip
    create_schema(empty)
    assert at(empty) == migrate.head()
    assert "call_routes" in inspect(empty).get_table_names()
    with empty.connect() as conn:
        assert conn.execute(text("SELECT reference FROM bookings")).scalars().all() == ["ABCDEF"]
    assert differences(empty) == []


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'newer.sqlite'}")
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(RuntimeError, match="inconnue de ce code"):
        create_schema(engine)
    engine.dispose()


def test_0004_adds_the_sms_routes_and_keeps_the_rows_of_0003(empty: Engine) -> None:
    """A database at 0003 (the call index in use) gains the SMS reply routes, its rows kept;
    the table takes an idempotent upsert at once."""
    with empty.begin() as conn:
        migrate.upgrade(conn, "0003")
        conn.execute(
            text(
                "INSERT INTO ingress_calls (call_id, workflow_id, run_id, recorded_at) "
                "VALUES ('c-1', 'missed-call-k', 'run-1', 1.0)"
            )
        )
    assert "sms_routes" not in inspect(empty).get_table_names()
    create_schema(empty)
    assert at(empty) == migrate.head() == "0004"
    columns = {c["name"] for c in inspect(empty).get_columns("sms_routes")}
    assert columns == {"phone_key", "workflow_id", "created_at", "updated_at"}  # no number, no text
    with empty.connect() as conn:
        assert conn.execute(text("SELECT call_id FROM ingress_calls")).scalars().all() == ["c-1"]
    routes = SmsRoutes(empty)
    routes.record("k", "voicemail-1", now=1.0)
    routes.record("k", "voicemail-1", now=2.0)
    assert routes.lookup("k") == ["voicemail-1"]
    assert differences(empty) == []
