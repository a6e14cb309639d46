"""The SMS reply routes: for the keyed hash of a number (domain.phone.phone_key), the cases
waiting for its replies (table `sms_routes` of the service database, migration 0004).

Why a table: the router used to find the case with a visibility List query on the
`SmsPhoneKey` search attribute. Visibility is eventually consistent (a reply seconds after the
case texted could miss it and go to an agent instead) and its List queries are a shared,
rate-limited budget (~10 a second per namespace, with the UI, GET /calls, the CLI and the
metrics). A primary-key read here is neither.

Written by whoever makes a number reachable: `send_sms` (the case that texts a number), the
booking follow-up at its start (it takes over the number its parent texted) and the router
when it opens an agent's case for an unknown sender. Read by the router, newest case first;
a row whose case has closed is deleted when met, and by the daily SMS purge. The row of a
case still running stays, however old (its caller may still reply: a booking's follow-up
runs until the pickup, up to 45 days). No number, no
text: the keyed hash and the workflow id only. Every operation is one short transaction, safe
across workers and hosts (PostgreSQL in production)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Engine, delete, select
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

    def record(
        self, phone_key: str, workflow_id: str, *, now: float | None = None, opens: bool = False
    ) -> None:
        """`workflow_id` listens to the number of `phone_key` from now on. Idempotent: a
        retried activity refreshes the row's time, never fails on it nor adds a second.
        `opens`: the case begins its exchange with the number now (its place in the router's
        order too), even over a row a closed run under the same id left."""
        if not phone_key or not workflow_id:
            return
        at = time.time() if now is None else now
        upsert = pg_insert(T) if self.engine.dialect.name == "postgresql" else sqlite_insert(T)
        statement = upsert.values(
            phone_key=phone_key, workflow_id=workflow_id, created_at=at, updated_at=at
        )
        refreshed = {"updated_at": at, **({"created_at": at} if opens else {})}
        statement = statement.on_conflict_do_update(
            index_elements=[T.c.phone_key, T.c.workflow_id], set_=refreshed
        )
        with writer(self.engine).begin() as conn:
            conn.execute(statement)

    def lookup(self, phone_key: str) -> list[str]:
        """The workflow ids listening to the number, the case that began texting it last
        first: a booking's follow-up before the message that made the booking (even when
        that message texts again, say an agent's answer to its question), a new message
        before an older booking's follow-up (even on the follow-up's reminder day)."""
        query = (
            select(T.c.workflow_id)
            .where(T.c.phone_key == phone_key)
            .order_by(T.c.created_at.desc(), T.c.workflow_id)
            .limit(MAX_ROUTES_PER_KEY)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def forget(self, phone_key: str, workflow_id: str, *, seen_before: float | None = None) -> None:
        """The case closed: its row goes (the number's other cases stay). `seen_before`: only
        if not written since that instant (Unix seconds) — a new run under the same workflow
        id (a missed call's is the number's) may have written it after the check."""
        where: list[ColumnElement[bool]] = [
            T.c.phone_key == phone_key,
            T.c.workflow_id == workflow_id,
        ]
        if seen_before is not None:
            where.append(T.c.updated_at <= seen_before)
        with writer(self.engine).begin() as conn:
            conn.execute(delete(T).where(*where))

    def workflow_ids(self, after: str, limit: int) -> list[str]:
        """The cases with a row, by workflow id, from after `after` ("" from the first): the
        purge's pages."""
        page = (
            select(T.c.workflow_id)
            .where(T.c.workflow_id > after)
            .group_by(T.c.workflow_id)
            .order_by(T.c.workflow_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(page).scalars())

    def forget_workflows(
        self, workflow_ids: Iterable[str], *, seen_before: float | None = None
    ) -> int:
        """Every row of these cases (they closed); how many went. `seen_before`: as `forget`."""
        ids = list(workflow_ids)
        if not ids:
            return 0
        where: list[ColumnElement[bool]] = [T.c.workflow_id.in_(ids)]
        if seen_before is not None:
            where.append(T.c.updated_at <= seen_before)
        with writer(self.engine).begin() as conn:
            gone = conn.execute(delete(T).where(*where))
        return int(gone.rowcount or 0)
