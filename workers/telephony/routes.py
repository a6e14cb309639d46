"""What the Asterisk dialplan asks the telephony process (deploy/asterisk/extensions.conf): how
a live call ended, and whether the call centre is open.

AudioSocket cannot say why the bot hung up, so the dialplan asks `GET /calls/{uuid}/route`:
`transfer` (dial the agents; the bot's case holds the call), `done` (the call ends), or
`agents` (dial the agents; no case holds it: a call refused past a cap, or while the service
stops, becomes a missed call if nobody answers). The table of routes lives in the
service database (table `call_routes`, activities/bookings/schema.py), with this process's own
copy in front: a restart of the telephony process between the bot's hangup and the dialplan's
question loses nothing (a booked caller who heard "au revoir" is not put through to an agent;
a transfer still reaches one). Whatever the dialplan cannot get an answer for (the process down,
the call unknown) it sends to a person: the database only makes the answers right, the
dialplan's fail-open makes them safe.

`GET /opening` answers `open` or `closed` from the service calendar (public holidays included),
which the dialplan prefers to its fixed fallback hours; `GET /health` answers `ok`.

Rows hold a call's random UUID and its route, nothing about the caller; they are kept
`keep_s` (5 minutes: the dialplan asks within seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from activities.bookings.engine import writer
from activities.bookings.schema import CALL_ROUTES, create_schema
from domain.calendar import ServiceCalendar
from domain.live_call_models import Outcome
from workers.telephony.limits import PeerFilter

log = logging.getLogger(__name__)

ROUTE_TRANSFER = "transfer"  # the dialplan dials the agents; the LiveCallWorkflow has the case
ROUTE_DONE = "done"  # the call ends
ROUTE_AGENTS = "agents"  # the dialplan dials the agents; no case yet (missed call if unanswered)
# A database that does not answer within this must not hold a call nor the dialplan's CURL()
# (3 s): the process's own copy answers meanwhile.
DB_TIMEOUT_S = 1.5
PURGE_EVERY_S = 60.0
T = CALL_ROUTES


def route_of(outcome: str) -> str:
    """A transfer (asked, or decided by the bot) and a call the service cut go to a person;
    a finished call or a caller's hang-up ends."""
    if outcome in (Outcome.TRANSFER, Outcome.INTERRUPTED):
        return ROUTE_TRANSFER
    return ROUTE_DONE


class CallRoutes:
    """How each call ended, kept `keep_s` after it was set: in memory, and in the service
    database when `engine` is given (None: memory only, a process of its own)."""

    def __init__(
        self,
        keep_s: float,
        engine: Engine | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keep_s = keep_s
        self._engine = engine
        self._clock = clock
        self._routes: dict[str, tuple[str, float]] = {}
        self._purged_at = 0.0
        if engine is not None:
            create_schema(engine)

    async def set(self, call_id: str, route: str) -> None:
        """Record `route` for `call_id`: at once in memory, then in the database (waited for
        at most DB_TIMEOUT_S; a later write of the same call never loses to an earlier one)."""
        now = self._clock()
        for old in [c for c, (_, at) in self._routes.items() if now - at > self._keep_s]:
            del self._routes[old]
        self._routes[call_id] = (route, now)
        if self._engine is None:
            return
        write = asyncio.ensure_future(asyncio.to_thread(self._store, call_id, route, now))
        write.add_done_callback(_consume)  # a write that lands after the wait: logged below
        try:
            await asyncio.wait_for(asyncio.shield(write), DB_TIMEOUT_S)
        except TimeoutError:
            log.warning("call %s: route not yet in the database (slow)", call_id)
        except SQLAlchemyError as exc:
            log.warning("call %s: route kept in memory only (%s)", call_id, type(exc).__name__)

    async def get(self, call_id: str) -> str | None:
        entry = self._routes.get(call_id)
        now = self._clock()
        if entry is not None and now - entry[1] <= self._keep_s:
            return entry[0]
        if self._engine is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._load, call_id, now), DB_TIMEOUT_S)
        except (TimeoutError, SQLAlchemyError) as exc:
            log.warning("call %s: route unreadable (%s)", call_id, type(exc).__name__)
            return None  # the dialplan then sends the caller to a person

    def _store(self, call_id: str, route: str, at: float) -> None:
        assert self._engine is not None
        with writer(self._engine).begin() as conn:
            changed = conn.execute(
                update(T)
                .where(T.c.call_id == call_id, T.c.set_at <= at)
                .values(route=route, set_at=at)
            ).rowcount
            if not changed:
                with contextlib.suppress(IntegrityError), conn.begin_nested():
                    conn.execute(insert(T).values(call_id=call_id, route=route, set_at=at))
            if at - self._purged_at > PURGE_EVERY_S:
                self._purged_at = at
                conn.execute(delete(T).where(T.c.set_at < at - self._keep_s))

    def _load(self, call_id: str, now: float) -> str | None:
        assert self._engine is not None
        with self._engine.connect() as conn:
            row = conn.execute(
                select(T.c.route).where(T.c.call_id == call_id, T.c.set_at >= now - self._keep_s)
            ).first()
        return None if row is None else str(row[0])


def _consume(write: asyncio.Future[None]) -> None:
    if not write.cancelled() and write.exception() is not None:
        log.warning("a call route did not reach the database: %s", type(write.exception()).__name__)


ROUTE_PATH = re.compile(r"^/calls/([0-9A-Fa-f-]{36})/route$")
MAX_REQUEST_LINE = 1024


class RouteServer:
    """The answers of the HTTP endpoint (a few plain-text GETs, Connection: close)."""

    def __init__(
        self,
        routes: CallRoutes,
        calendar: ServiceCalendar | None = None,
        *,
        peers: Sequence[str] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.routes = routes
        self.calendar = calendar
        self._peers = PeerFilter(peers)
        self._clock = clock

    async def answer(self, method: str, path: str) -> tuple[str, str]:
        """(status line, body)."""
        if method != "GET":
            return "405 Method Not Allowed", "GET only\n"
        if path == "/health":
            return "200 OK", "ok"
        if path == "/opening":
            if self.calendar is None:
                return "404 Not Found", "no calendar\n"
            now = self._clock() if self._clock else datetime.now(self.calendar.tz)
            open_now = self.calendar.is_call_centre_open(now.astimezone(self.calendar.tz))
            return "200 OK", "open" if open_now else "closed"
        match = ROUTE_PATH.match(path)
        if match is None:
            return "404 Not Found", "not found\n"
        route = await self.routes.get(match.group(1).lower())
        if route is None:
            return "404 Not Found", "unknown call\n"
        return "200 OK", route

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status, body = "400 Bad Request", "bad request\n"
        peer = writer.get_extra_info("peername")
        if not await self._peers.allows(str(peer[0]) if peer else ""):
            writer.close()  # not the PBX: nothing to say
            return
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while True:  # headers: read and ignored (the dialplan sends no body)
                header = await asyncio.wait_for(reader.readline(), 5)
                if header in (b"\r\n", b"\n", b""):
                    break
            parts = line.decode("latin-1").split()
            if len(line) <= MAX_REQUEST_LINE and len(parts) == 3:
                status, body = await self.answer(parts[0], parts[1])
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def serve_routes(
    host: str,
    port: int,
    routes: CallRoutes,
    calendar: ServiceCalendar | None = None,
    *,
    peers: Sequence[str] = (),
) -> asyncio.Server:
    """`GET /calls/{uuid}/route`: `transfer` or `done` (text/plain); 404 for a call nobody
    recorded (or no longer: see CallRoutes). `GET /opening`, `GET /health`. `peers`: who may
    ask (limits.PeerFilter; empty: anyone who reaches the port)."""
    server = RouteServer(routes, calendar, peers=peers)
    return await asyncio.start_server(server.handle, host, port, limit=MAX_REQUEST_LINE * 4)
