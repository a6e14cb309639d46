"""The route endpoint the dialplan asks after AudioSocket() (workers/telephony/live.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from domain.dialogue import stop_by_service
from domain.live_call_models import LiveCallProgress, Outcome, Phase
from workers.telephony.live import CallRoutes, route_of, serve_routes


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
    routes.set(transferred, route_of(Outcome.TRANSFER))
    routes.set(booked, route_of(Outcome.CONFIRMED))
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


def test_routes_expire() -> None:
    routes = CallRoutes(keep_s=0.05)
    routes.set("a", "transfer")
    assert routes.get("a") == "transfer"
    time.sleep(0.1)
    assert routes.get("a") is None
    routes.set("b", "done")  # setting purges the expired ones
    assert routes.get("b") == "done"


def test_stop_by_service_keeps_a_call_that_ended_on_its_own() -> None:
    running = LiveCallProgress(phase=Phase.ASK_ITEMS.value)
    stop_by_service(running)
    assert running.outcome == Outcome.INTERRUPTED
    done = LiveCallProgress(phase=Phase.ENDED.value, outcome=Outcome.CONFIRMED.value)
    stop_by_service(done)
    assert done.outcome == Outcome.CONFIRMED
