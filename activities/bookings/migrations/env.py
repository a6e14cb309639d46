"""Alembic's environment: always online, on the connection `create_schema` (or the `alembic`
command line, through `sqlalchemy.url`) hands over; batch mode so that SQLite can alter
tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from activities.bookings.schema import Base

config = context.config
connection = config.attributes.get("connection")


def run(conn: object) -> None:
    context.configure(
        connection=conn,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # the `alembic` command line (developers): sqlalchemy.url of alembic.ini or -x url=
    url = context.get_x_argument(as_dictionary=True).get("url")
    section = config.get_section(config.config_ini_section) or {}
    if url:
        section["sqlalchemy.url"] = url
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        run(conn)
