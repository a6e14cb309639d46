"""Callers are never dropped (issue 18, point 3): deploy/asterisk/extensions.conf run by
tests/deploy/dialplan_runner.py against the telephony process's real route server and
AudioSocket server (workers/telephony/), or against nothing at all — down, restarted between
the bot's goodbye and the dialplan's question, refusing a call past its cap, unreachable after
the probe, lost in mid-call. Every call ends with a person, a voicemail, or a recorded case;
a caller the bot finished with hears no agent."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from activities.bookings.engine import make_engine
from domain.media import MediaSession
from tests.deploy.dialplan_runner import Caller, Runner, Trace
from workers.telephony.audiosocket import AudioSocketLimits, serve_audiosocket
from workers.telephony.routes import ROUTE_AGENTS, CallRoutes, serve_routes

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_10H = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)  # open
SUNDAY_10H = datetime(2026, 12, 6, 10, 0, tzinfo=PARIS)  # closed
CHRISTMAS_10H = datetime(2026, 12, 25, 10, 0, tzinfo=PARIS)  # a Friday, a public holiday
AGENTS = "PJSIP/agent01&PJSIP/agent02&PJSIP/agent03"


def closed_port() -> int:
    """A port nothing listens on: the telephony process is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def addresses(route_port: int, audiosocket_port: int) -> dict[str, str]:
    return {
        "ENCOMBOT_ROUTE": f"http://127.0.0.1:{route_port}",
        "ENCOMBOT_AUDIOSOCKET": f"127.0.0.1:{audiosocket_port}",
    }


async def run(caller: Caller, tmp_path: Path) -> Trace:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    return await Runner(caller, spool).call()


@contextlib.asynccontextmanager
async def route_server(routes: CallRoutes, port: int = 0) -> AsyncIterator[int]:
    server = await serve_routes("127.0.0.1", port, routes)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


# --------------------------------------------------------------------------- telephony down


async def test_telephony_down_in_opening_hours_goes_to_the_agents(tmp_path: Path) -> None:
    caller = Caller(now=TUESDAY_10H, overrides=addresses(closed_port(), closed_port()))
    trace = await run(caller, tmp_path)
    assert trace.dialled == [AGENTS]
    assert trace.audiosocket == []  # the probe found nobody: no AudioSocket() at all
    assert trace.webhooks == []  # an agent took the call


async def test_telephony_down_and_no_agent_free_goes_to_the_voicemail_box(tmp_path: Path) -> None:
    caller = Caller(
        now=TUESDAY_10H, agents="NOANSWER", overrides=addresses(closed_port(), closed_port())
    )
    trace = await run(caller, tmp_path)
    assert trace.dialled == [AGENTS]
    assert len(trace.recorded) == 1
    assert trace.webhook_kinds() == ["voicemail"]  # POST /voicemails: a case


async def test_telephony_down_out_of_hours_goes_to_the_voicemail_box(tmp_path: Path) -> None:
    for now in (SUNDAY_10H, CHRISTMAS_10H):  # the fallback hours and holidays of the dialplan
        caller = Caller(now=now, overrides=addresses(closed_port(), closed_port()))
        trace = await run(caller, tmp_path)
        assert trace.dialled == [], now
        assert trace.webhook_kinds() == ["voicemail"], now


async def test_caller_who_hangs_up_in_the_greeting_is_a_missed_call(tmp_path: Path) -> None:
    caller = Caller(
        now=SUNDAY_10H, message_bytes=None, overrides=addresses(closed_port(), closed_port())
    )
    trace = await run(caller, tmp_path)
    assert trace.webhook_kinds() == ["missed-call"]


async def test_telephony_down_caller_gives_up_while_the_agents_ring(tmp_path: Path) -> None:
    caller = Caller(
        now=TUESDAY_10H, agents="CALLER_HANGUP", overrides=addresses(closed_port(), closed_port())
    )
    trace = await run(caller, tmp_path)
    assert trace.webhook_kinds() == ["missed-call"]  # the missed-call case calls back


# --------------------------------------------------------------------------- telephony half there


async def test_audiosocket_unreachable_after_the_probe_goes_to_the_agents(tmp_path: Path) -> None:
    """The route server answers the probe, then AudioSocket() cannot connect (the process
    went away in between): only the bot's leg hangs up; the caller reaches a person."""
    async with route_server(CallRoutes(keep_s=300)) as route_port:
        caller = Caller(now=TUESDAY_10H, overrides=addresses(route_port, closed_port()))
        trace = await run(caller, tmp_path)
    assert trace.audiosocket == ["refused"]
    assert trace.dialled == [AGENTS]
    assert trace.webhooks == []


async def test_telephony_lost_during_the_call_goes_to_the_agents(tmp_path: Path) -> None:
    """The process dies in mid-call: the socket closes, the route server is gone with it."""
    lost = asyncio.Event()

    async def killed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(19)  # the UUID frame
        writer.transport.abort()  # SIGKILL: no hangup frame, the connection just drops
        lost.set()

    server = await asyncio.start_server(killed, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        async with route_server(CallRoutes(keep_s=300)) as route_port:
            probe_then_down = Caller(now=TUESDAY_10H, overrides=addresses(route_port, port))

            async def bot_call(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
                await lost.wait()
                await route_server_down.wait()
                await reader.read()

            route_server_down = asyncio.Event()
            probe_then_down.bot_call = bot_call
            runner = asyncio.create_task(run(probe_then_down, tmp_path))
            await lost.wait()
        route_server_down.set()  # the route server died with the process
        trace = await runner
    finally:
        server.close()
        await server.wait_closed()
    assert trace.audiosocket == ["connected"]
    assert trace.dialled == [AGENTS]


@pytest.mark.parametrize(("outcome", "agents"), [("done", False), ("transfer", True)])
async def test_a_restart_between_the_goodbye_and_the_question_loses_no_route(
    tmp_path: Path, outcome: str, agents: bool
) -> None:
    """The bot books the caller, says goodbye and hangs up; the telephony process restarts
    before the dialplan asks why. The new process answers `done` from the service database:
    the caller is not put through to an agent. A handed-over call still reaches one."""
    url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    before = CallRoutes(keep_s=300, engine=make_engine(url))
    servers: list[asyncio.Server] = []

    async def bot(session: MediaSession) -> None:
        await before.set(session.call_id, outcome)
        await session.hangup()

    media = await serve_audiosocket("127.0.0.1", 0, bot)
    old = await serve_routes("127.0.0.1", 0, before)
    route_port = int(old.sockets[0].getsockname()[1])

    async def bot_call(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await reader.read()  # the bot's hangup frame, then the end of the stream
        old.close()  # the process restarts: a new one, its memory empty, on the same port
        await old.wait_closed()
        after = CallRoutes(keep_s=300, engine=make_engine(url))
        servers.append(await serve_routes("127.0.0.1", route_port, after))

    caller = Caller(now=TUESDAY_10H, bot_call=bot_call, overrides=addresses(route_port, media.port))
    try:
        trace = await run(caller, tmp_path)
    finally:
        await media.close()
        for server in servers:
            server.close()
            await server.wait_closed()
    assert servers and trace.audiosocket == ["connected"]
    assert (trace.dialled == [AGENTS]) is agents
    assert trace.webhooks == []  # the LiveCallWorkflow holds the case


async def test_a_call_refused_past_the_cap_reaches_a_person_or_becomes_a_missed_call(
    tmp_path: Path,
) -> None:
    """The bot is full: the call gets a hangup frame and the route `agents` (no case). Answered
    by an agent, fine; given up while ringing, a missed call records it."""
    routes = CallRoutes(keep_s=300)

    async def refused(call_id: str, _reason: str) -> None:
        await routes.set(call_id, ROUTE_AGENTS)

    async def busy_bot(session: MediaSession) -> None:
        await asyncio.sleep(30)

    media = await serve_audiosocket(
        "127.0.0.1", 0, busy_bot, limits=AudioSocketLimits(max_calls=1), on_refused=refused
    )
    occupying = await asyncio.open_connection("127.0.0.1", media.port)
    occupying[1].write(b"\x01\x00\x10" + uuid.uuid4().bytes)
    await occupying[1].drain()
    try:
        async with route_server(routes) as route_port:
            for agents, webhooks in (("ANSWER", []), ("CALLER_HANGUP", ["missed-call"])):
                caller = Caller(
                    now=TUESDAY_10H, agents=agents, overrides=addresses(route_port, media.port)
                )
                trace = await run(caller, tmp_path)
                assert trace.audiosocket == ["connected"]
                assert trace.dialled == [AGENTS]
                assert trace.webhook_kinds() == webhooks
    finally:
        occupying[1].close()
        await media.close()


async def test_the_bot_finishing_a_call_ends_it_without_an_agent(tmp_path: Path) -> None:
    """The usual way: the telephony process up, the bot books and says goodbye."""
    routes = CallRoutes(keep_s=300)

    async def bot(session: MediaSession) -> None:
        await routes.set(session.call_id, "done")
        await session.hangup()

    media = await serve_audiosocket("127.0.0.1", 0, bot)
    try:
        async with route_server(routes) as route_port:
            caller = Caller(now=TUESDAY_10H, overrides=addresses(route_port, media.port))
            trace = await run(caller, tmp_path)
    finally:
        await media.close()
    assert trace.audiosocket == ["connected"]
    assert trace.dialled == [] and trace.webhooks == []
