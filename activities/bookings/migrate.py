"""The service database's schema through its Alembic migrations (activities/bookings/migrations):
`create_schema` (schema.py) upgrades to the newest revision, `encombot db upgrade` too, and
reports where a database stands.

Every process calls `create_schema` at start, and the tests make hundreds of stores: a database
already at head costs one read of `alembic_version`, the script directory is read once per
process."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


@functools.cache
def head() -> str:
    """The newest revision the code knows."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    if found is None:
        raise RuntimeError(f"no migration in {MIGRATIONS_DIR}")
    return found


def current(conn: Connection) -> str | None:
    """The revision a database is at (None: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection, target: str = "head") -> str | None:
    """Bring the database of `conn` to `target` inside the caller's transaction; returns the
    revision it is at. A database newer than the code (a rollback of the image) is refused:
    running old code on a newer schema could write what the new one forbids."""
    at = current(conn)
    if at == head() and target == "head":
        return at
    if at is not None and not _known(at):
        raise RuntimeError(
            f"la base est à la révision {at}, inconnue de ce code (plus récente ?) : "
            "déployez la version qui l'a migrée"
        )
    command.upgrade(_config(conn), target)
    return current(conn)


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except Exception:  # alembic raises its own ResolutionError/CommandError subclasses
        return False
