"""The SMS reply routes: for the keyed hash of a number (domain.phone.phone_key), the cases
waiting for its replies (table `sms_routes` of the service database, migration 0004).

Why a table: the router used to find the case with a visibility List query on the
`SmsPhoneKey` search attribute. Visibility is eventually consistent (a reply seconds after the
case texted could miss it and go to an agent instead) and its List queries are a shared,
rate-limited budget (~10 a second per namespace, with the UI, GET /calls, the CLI and the
metrics). A primary-key read here is neither.

Written by whoever makes a number reachable: `send_sms` (the case that texts a number), the
booking follow-up at its start (it takes over the number its parent texted) and the router
when it opens an agent's case for an unknown sender. Read by the router, newest first; a row
whose case has closed is deleted when met, and by the SMS retention purge. No number, no
text: the keyed hash and the workflow id only. Every operation is one short transaction, safe
across workers and hosts (PostgreSQL in production)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from activities.bookings.engine import writer
from activities.bookings.schema import SMS_ROUTES as T
from activities.bookings.schema import create_schema

# A number texted by more cases at once than this is not a caller: the router tries the newest.
MAX_ROUTES_PER_KEY = 20


class SmsRoutes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_schema(engine)  # the service database's migrations (revision 0004 made it)

    def record(self, phone_key: str, workflow_id: str, *, now: float | None = None) -> None:
        """`workflow_id` listens to the number of `phone_key` from now on. Idempotent: a
        retried activity refreshes the row's time, never fails on it nor adds a second."""
        if not phone_key or not workflow_id:
            return
        at = time.time() if now is None else now
        upsert = pg_insert(T) if self.engine.dialect.name == "postgresql" else sqlite_insert(T)
        statement = upsert.values(phone_key=phone_key, workflow_id=workflow_id, updated_at=at)
        statement = statement.on_conflict_do_update(
            index_elements=[T.c.phone_key, T.c.workflow_id], set_={"updated_at": at}
        )
        with writer(self.engine).begin() as conn:
            conn.execute(statement)

    def lookup(self, phone_key: str) -> list[str]:
        """The workflow ids listening to the number, most recently texted first."""
        query = (
            select(T.c.workflow_id)
            .where(T.c.phone_key == phone_key)
            .order_by(T.c.updated_at.desc(), T.c.workflow_id)
            .limit(MAX_ROUTES_PER_KEY)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def forget(self, phone_key: str, workflow_id: str) -> None:
        """The case closed: its row goes (the number's other cases stay)."""
        with writer(self.engine).begin() as conn:
            conn.execute(
                delete(T).where(T.c.phone_key == phone_key, T.c.workflow_id == workflow_id)
            )

    def purge_older_than(self, cutoff: float) -> int:
        """Rows not refreshed since `cutoff` (Unix seconds); how many went."""
        with writer(self.engine).begin() as conn:
            gone = conn.execute(delete(T).where(T.c.updated_at < cutoff))
        return int(gone.rowcount or 0)

    def workflow_ids(self, limit: int) -> list[str]:
        """The cases with a row, least recently refreshed first (the likeliest closed)."""
        oldest = (
            select(T.c.workflow_id)
            .group_by(T.c.workflow_id)
            .order_by(func.max(T.c.updated_at), T.c.workflow_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(oldest).scalars())

    def forget_workflows(self, workflow_ids: Iterable[str]) -> int:
        """Every row of these cases (they closed); how many went."""
        ids = list(workflow_ids)
        if not ids:
            return 0
        with writer(self.engine).begin() as conn:
            gone = conn.execute(delete(T).where(T.c.workflow_id.in_(ids)))
        return int(gone.rowcount or 0)
