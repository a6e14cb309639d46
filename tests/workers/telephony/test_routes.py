"""The route server the dialplan asks after AudioSocket() (workers/telephony/routes.py): how a
call ended, kept in the service database so that a restart of the telephony process loses
none (issue 18, point 3); the call centre's opening; who may ask."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from activities.bookings.calendar_file import load_calendar
from activities.bookings.engine import make_engine
from corpus import CORPUS_DIR
from domain.dialogue import stop_by_service
from domain.live_call_models import LiveCallProgress, Outcome, Phase
from workers.telephony.routes import CallRoutes, RouteServer, route_of, serve_routes

PARIS = ZoneInfo("Europe/Paris")


async def http(port: int, request: bytes) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


async def get(port: int, path: str) -> tuple[int, str]:
    return await http(port, f"GET {path} HTTP/1.1\r\nHost: telephony\r\n\r\n".encode())


async def test_route_endpoint_answers_transfer_or_done() -> None:
    routes = CallRoutes(keep_s=300)
    transferred, booked = str(uuid.uuid4()), str(uuid.uuid4())
    await routes.set(transferred, route_of(Outcome.TRANSFER))
    await routes.set(booked, route_of(Outcome.CONFIRMED))
    server = await serve_routes("127.0.0.1", 0, routes)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await get(port, f"/calls/{transferred}/route") == (200, "transfer")
        assert await get(port, f"/calls/{booked}/route") == (200, "done")
        # Asterisk may send the UUID in capitals.
        assert await get(port, f"/calls/{booked.upper()}/route") == (200, "done")
        assert (await get(port, f"/calls/{uuid.uuid4()}/route"))[0] == 404
        assert (await get(port, "/calls/not-a-uuid/route"))[0] == 404
        assert (await http(port, b"POST /calls/x/route HTTP/1.1\r\n\r\n"))[0] == 405
        assert (await http(port, b"garbage\r\n\r\n"))[0] == 400
        assert await get(port, "/health") == (200, "ok")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("outcome", "route"),
    [
        (Outcome.TRANSFER, "transfer"),
        (Outcome.INTERRUPTED, "transfer"),
        (Outcome.CONFIRMED, "done"),
        (Outcome.ANSWERED, "done"),
        (Outcome.HANGUP, "done"),
    ],
)
def test_only_a_handed_over_call_goes_to_the_agents(outcome: Outcome, route: str) -> None:
    assert route_of(outcome) == route


async def test_routes_expire() -> None:
    routes = CallRoutes(keep_s=0.05)
    await routes.set("a", "transfer")
    assert await routes.get("a") == "transfer"
    time.sleep(0.1)
    assert await routes.get("a") is None
    await routes.set("b", "done")  # setting purges the expired ones
    assert await routes.get("b") == "done"


async def test_a_restart_of_the_telephony_process_loses_no_route(tmp_path: Path) -> None:
    """The bot said goodbye to a booked caller, then the process restarted before the
    dialplan asked: the new process answers from the service database."""
    url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    booked, handed_over = str(uuid.uuid4()), str(uuid.uuid4())
    before = CallRoutes(keep_s=300, engine=make_engine(url))
    await before.set(booked, "transfer")  # the default while the dialogue runs
    await before.set(booked, "done")
    await before.set(handed_over, "transfer")
    after = CallRoutes(keep_s=300, engine=make_engine(url))  # a new process: nothing in memory
    server = await serve_routes("127.0.0.1", 0, after)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await get(port, f"/calls/{booked}/route") == (200, "done")
        assert await get(port, f"/calls/{handed_over}/route") == (200, "transfer")
        assert (await get(port, f"/calls/{uuid.uuid4()}/route"))[0] == 404
    finally:
        server.close()
        await server.wait_closed()
    # Expired rows are not answered (and are purged by later writes).
    late = CallRoutes(keep_s=300, engine=make_engine(url), clock=lambda: time.time() + 301)
    assert await late.get(booked) is None


async def test_an_earlier_write_never_overwrites_a_later_one(tmp_path: Path) -> None:
    routes = CallRoutes(keep_s=300, engine=make_engine(f"sqlite:///{tmp_path / 's.sqlite'}"))
    now = time.time()
    routes._store("c", "done", now)
    routes._store("c", "transfer", now - 1)  # a write that was slow to land
    assert routes._load("c", now) == "done"


async def test_a_database_that_does_not_answer_does_not_hold_the_call(tmp_path: Path) -> None:
    """PostgreSQL unreachable: the route is kept in memory and the call goes on at once."""
    engine = make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 5}
    )
    routes = CallRoutes.__new__(CallRoutes)  # without create_schema, which would need it
    CallRoutes.__init__(routes, keep_s=300)
    routes._engine = engine
    started = time.monotonic()
    await routes.set("c1", "done")
    assert time.monotonic() - started < 2.5
    assert await routes.get("c1") == "done"
    assert await routes.get("c2") is None  # unknown and unreadable: the dialplan's agents


async def test_opening_and_peers() -> None:
    calendar = load_calendar(CORPUS_DIR / "calendar.yaml")
    routes = CallRoutes(keep_s=300)
    server = await serve_routes("127.0.0.1", 0, routes, calendar)
    port = server.sockets[0].getsockname()[1]
    try:
        assert (await get(port, "/opening"))[1] in ("open", "closed")
    finally:
        server.close()
        await server.wait_closed()
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
    answers = RouteServer(routes, calendar, clock=lambda: tuesday)
    assert await answers.answer("GET", "/opening") == ("200 OK", "open")
    sunday = RouteServer(routes, calendar, clock=lambda: tuesday.replace(day=6))
    assert await sunday.answer("GET", "/opening") == ("200 OK", "closed")
    # Only the PBX may ask: anyone else gets the connection closed, no answer.
    closed = await serve_routes("127.0.0.1", 0, routes, peers=["10.99.0.0/16"])
    port = closed.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\n\r\n")
        try:
            answer = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:
            answer = b""
        assert answer == b""
        writer.close()
    finally:
        closed.close()
        await closed.wait_closed()


def test_stop_by_service_keeps_a_call_that_ended_on_its_own() -> None:
    running = LiveCallProgress(phase=Phase.ASK_ITEMS.value)
    stop_by_service(running)
    assert running.outcome == Outcome.INTERRUPTED
    done = LiveCallProgress(phase=Phase.ENDED.value, outcome=Outcome.CONFIRMED.value)
    stop_by_service(done)
    assert done.outcome == Outcome.CONFIRMED
