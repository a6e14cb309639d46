"""The call index: for each call the ingress accepted, the workflow (and run) that holds it.
A missed call joins the case of its number (`missed-call-<phone key>`), which GET
/calls/{call_id} cannot name from the call id alone; this table lets it describe that
workflow directly instead of a visibility List query, so an unknown id costs no visibility
query at all (Temporal allows ~10 a second per namespace, shared with the UI, the CLI and
the metrics). A table of the service database, shared by every ingress replica; pruned as it
goes."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from activities.bookings.schema import INGRESS_CALLS as calls
from activities.bookings.schema import create_schema


class CallIndex:
    def __init__(self, engine: Engine, *, keep_s: float) -> None:
        self.engine = engine
        self.keep_s = keep_s
        create_schema(engine)  # the service database's migrations (revision 0003 made it)

    def record(self, call_id: str, workflow_id: str, run_id: str, *, now: float) -> None:
        """Where `call_id` now stands (a retried webhook that joined a newer run moves it)."""
        values = {"workflow_id": workflow_id, "run_id": run_id, "recorded_at": now}
        with self.engine.begin() as conn:
            conn.execute(delete(calls).where(calls.c.recorded_at < now - self.keep_s))
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(calls).values(call_id=call_id, **values))
        except IntegrityError:  # known already (a retry, another replica): where it is now
            with self.engine.begin() as conn:
                conn.execute(update(calls).where(calls.c.call_id == call_id).values(values))

    def lookup(self, call_id: str) -> tuple[str, str] | None:
        """(workflow id, run id) of the call; None when the ingress never accepted it."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(calls.c.workflow_id, calls.c.run_id).where(calls.c.call_id == call_id)
            ).first()
        return (row.workflow_id, row.run_id) if row is not None else None
