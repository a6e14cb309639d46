"""`encombot telephony`: the process that answers live calls.

It holds the calls' media (Asterisk AudioSocket, and the small SIP UAS when enabled) and runs
the dialogue activity (`run_live_call`, activities/live_call.py) on a task queue of its own:
the audio of a call lives in this process, so its dialogue can only run here. Per call: the
session is registered, a LiveCallWorkflow is started (on the ordinary workers' queue, with
this process's queue in its input), and the call is held until the dialogue releases it.

When the bot has hung up the socket, Asterisk's dialplan asks this process how the call ended
(`GET /calls/{uuid}/route`, `transfer` or `done`): AudioSocket itself carries no status. The
routes are kept in the service database, so a restart of this process loses none (routes.py).

On stop, it drains: new calls go straight to the agents, running dialogues get
`telephony.drain_s` to end, and the calls still up are then hung up as interrupted by the
service (never as the caller's hang-up). If this process dies, its calls die with it; the
workflows see the dialogue's heartbeats stop and hand what was understood to a person
(workflows/live_call.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from activities.live.session import SessionRegistry
from activities.live.smart_turn import smart_turn
from activities.live.turns import TurnTaking
from activities.live_call import LiveCallActivities
from activities.speech.engine import SpeechEngine
from domain import names
from domain.dialogue import Prompt, stop_by_service, transfer_prompt
from domain.live_call_models import LiveCallInput, TransferReason
from domain.media import MediaSession
from domain.turn_end import TurnRule
from workers.metrics import Metrics
from workers.settings import Settings, TelephonySettings
from workers.telephony.routes import (
    ROUTE_AGENTS,
    ROUTE_TRANSFER,
    CallRoutes,
    route_of,
    serve_routes,
)

if TYPE_CHECKING:
    from workers.telephony.audiosocket import AudioSocketServer
    from workers.telephony.sip.server import SipServer

log = logging.getLogger(__name__)

# Prompts that say the same words on every call: synthesized (and cached) at start, so the
# first caller does not wait for them.
STATIC_PROMPTS = (
    "one_moment",
    "ack",
    "ack_items",
    "ack_moment",
    "ask_address",
    "ask_postcode",
    "retry_postcode",
    "outside_postcode",
    "postcode_not_heard",
    "retry_address",
    "ask_items",
    "retry_items",
    "ask_phone",
    "retry_phone",
    "retry_confirm",
    "confirmed",
    "ask_number",
    "retry_number",
    "ask_street",
    "retry_street",
    "faq_unknown",
    "no_slot",
    "ask_spelling",
    "retry_spelling",
    "step_by_step",
)


def process_task_queue(settings: TelephonySettings) -> str:
    """A queue only this process polls: the dialogue must run where the call's media is."""
    return (
        f"{settings.task_queue_prefix}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )


def turn_taking(settings: TelephonySettings) -> TurnTaking:
    model = None
    if settings.turn_rule == TurnRule.SMART:
        # Loaded once per process, here: a process that cannot load it fails at start.
        model = smart_turn().completion_probability
    return TurnTaking(
        end_pause_ms=settings.end_pause_ms,
        address_pause_ms=settings.address_pause_ms,
        barge_in_ms=settings.barge_in_ms,
        vad_mode=settings.vad_mode,
        no_input_s=settings.no_input_s,
        max_utterance_s=settings.max_utterance_s,
        stt_beam_size=settings.stt_beam_size,
        stt_items_beam_size=settings.stt_items_beam_size,
        stt_window_pad_s=settings.stt_window_pad_s,
        speculate_ms=settings.speculate_ms,
        rule=settings.turn_rule,
        incomplete_pause_ms=settings.incomplete_pause_ms,
        smart_ask_ms=settings.smart_ask_ms,
        smart_threshold=settings.smart_threshold,
        smart_at_address=settings.smart_at_address,
        completion_probability=model,
        resume_ms=settings.resume_ms,
        ack_ms=settings.ack_ms,
    )


def build_live_call_activities(
    settings: Settings, registry: SessionRegistry, stt: SpeechEngine | None = None
) -> LiveCallActivities:
    """The dialogue's dependencies, built as a worker builds its own (workers/worker/composition.py
    `build_services`): same catalogue, gazetteer, booking store and FAQ index. `stt`: an
    already loaded SpeechEngine (tests share the session's)."""
    from activities.speech.tts import Tts
    from workers.worker.composition import build_services

    services = build_services(settings)
    if stt is None:
        stt = SpeechEngine(settings.stt, services.catalogue, territory=services.geocode.territory)
    stt.model()  # a process that cannot load its model must fail at start, not mid-call
    tel = settings.telephony
    tts = Tts(tel.tts_engine, tel.tts_voice, tel.tts_rate_wpm, cache_dir=tel.tts_cache_dir)
    acts = LiveCallActivities(
        registry,
        tts,
        stt,
        services.catalogue,
        services.geocode,
        services.store,
        services.faq,
        service_name=settings.sms.service_name,
        agent_phone=settings.sms.agent_phone,
        turns=turn_taking(tel),
        templates_dir=settings.templates_dir / "voice",
    )
    greeting = Prompt(
        "greeting",
        {"service_name": settings.sms.service_name, "agent_phone": settings.sms.agent_phone},
    )
    # A transfer that names nothing of the caller's says the same words for each reason.
    transfers = [transfer_prompt(reason) for reason in TransferReason]
    acts.synthesize([greeting, *(Prompt(name) for name in STATIC_PROMPTS), *transfers])
    return acts


@dataclass
class LiveCalls:
    """The per-call glue between the media servers and Temporal."""

    client: Client
    settings: Settings
    registry: SessionRegistry
    task_queue: str
    active: set[str] = field(default_factory=set)
    routes: CallRoutes = field(default_factory=lambda: CallRoutes(300.0))
    # The dialogues' live views (LiveCallActivities.dialogues): how each call ended.
    views: dict[str, Any] = field(default_factory=dict)
    accepting: bool = True  # False while draining: new calls go straight to the agents
    metrics: Metrics | None = None

    async def on_session(self, session: MediaSession) -> None:
        call_id = session.call_id
        tel = self.settings.telephony
        if not self.accepting:
            log.info("call %s: the service is stopping, sent to the agents", call_id)
            await self.routes.set(call_id, ROUTE_AGENTS)  # no case: a missed call if unanswered
            return
        try:
            self.registry.add(session)
        except ValueError:
            log.warning("call %s: already held, second connection dropped", call_id)
            return
        self.active.add(call_id)
        # Until the dialogue says otherwise, a call the bot lets go goes to a person.
        await self.routes.set(call_id, ROUTE_TRANSFER)
        try:
            try:
                await self.client.start_workflow(
                    names.LIVE_CALL_WORKFLOW,
                    LiveCallInput(
                        call_id=call_id,
                        media_task_queue=self.task_queue,
                        caller_number=session.caller or "",
                        started_at=datetime.now(UTC).isoformat(),
                        max_call_s=tel.max_call_s,
                        heartbeat_timeout_s=tel.heartbeat_timeout_s,
                    ),
                    id=names.live_call_workflow_id(call_id),
                    task_queue=self.settings.temporal.task_queue,
                )
            except WorkflowAlreadyStartedError:
                # The same call id twice: its dialogue (if any) runs elsewhere.
                log.warning("call %s: a live-call workflow already exists", call_id)
                return
            try:
                await asyncio.wait_for(self.registry.wait_taken(call_id), tel.start_timeout_s)
            except TimeoutError:
                # No worker runs the workflow: better a hangup (the dialplan goes on, e.g. to
                # the agents' queue) than a caller left in silence.
                log.error("call %s: the dialogue did not start in time", call_id)
                return
            # The view exists from the moment the dialogue took the session; the activity
            # drops it before releasing the call, so keep hold of it now.
            view = self.views.get(call_id)
            await self.registry.wait_released(call_id)
            if view is not None:
                route = route_of(view.progress.outcome)
                await self.routes.set(call_id, route)
                if self.metrics is not None:
                    self.metrics.call_ended(
                        str(view.progress.outcome), transferred=route == ROUTE_TRANSFER
                    )
        finally:
            self.active.discard(call_id)
            self.registry.remove(call_id)

    async def refused(self, call_id: str, reason: str) -> None:
        """A call the media server refused past a cap (`reason`): to the agents, as a missed
        call if nobody answers (no workflow holds it)."""
        await self.routes.set(call_id, ROUTE_AGENTS)

    async def drain(self, limit_s: float) -> None:
        """Take no new call, give the running dialogues `limit_s` to end, then mark the
        rest as stopped by the service (their sessions are hung up next, by the servers'
        close())."""
        self.accepting = False
        deadline = time.monotonic() + limit_s
        if self.active:
            log.info("telephony stopping: %d call(s) to drain", len(self.active))
        while self.active and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for call_id in list(self.active):
            view = self.views.get(call_id)
            if view is not None:
                stop_by_service(view.progress)
            log.warning("call %s: still up after the drain, hung up by the service", call_id)


@dataclass
class RunningTelephony:
    task_queue: str
    audiosocket_port: int | None
    sip_port: int | None
    calls: LiveCalls
    activities: LiveCallActivities
    route_port: int | None = None


async def _serve_media(
    tel: TelephonySettings, calls: LiveCalls
) -> tuple[list[AudioSocketServer | SipServer], int | None, int | None]:
    """The media servers enabled (AudioSocket, SIP): (servers, AudioSocket port, SIP port)."""
    servers: list[AudioSocketServer | SipServer] = []
    audiosocket_port = sip_port = None
    if tel.audiosocket_enabled:
        from workers.telephony.audiosocket import AudioSocketLimits, serve_audiosocket

        server = await serve_audiosocket(
            tel.audiosocket_host,
            tel.audiosocket_port,
            calls.on_session,
            limits=AudioSocketLimits(
                max_calls=tel.audiosocket_max_calls,
                calls_per_s=tel.audiosocket_calls_per_s,
                burst=tel.audiosocket_burst,
                peers=tel.audiosocket_peers,
            ),
            on_refused=calls.refused,
        )
        servers.append(server)
        audiosocket_port = server.port
    if tel.sip_enabled:
        from workers.telephony.sip.listen import serve_sip
        from workers.telephony.sip.policy import SipPolicy

        sip = await serve_sip(
            tel.sip_host,
            tel.sip_port,
            calls.on_session,
            rtp_host=tel.rtp_host,
            max_calls=tel.sip_max_calls,
            policy=SipPolicy(
                media_networks=tuple(tel.sip_media_networks),
                ack_timeout_s=tel.sip_ack_timeout_s,
                invite_rate_per_s=tel.sip_invite_rate_per_s,
                invite_burst=tel.sip_invite_burst,
                max_unconfirmed_per_source=tel.sip_max_unconfirmed_per_source,
                packet_rate_per_s=tel.sip_packet_rate_per_s,
                packet_burst=tel.sip_packet_burst,
                rtp_symmetric=tel.rtp_symmetric,
            ),
        )
        servers.append(sip)
        sip_port = sip.port
    return servers, audiosocket_port, sip_port


async def run_telephony(
    client: Client,
    settings: Settings,
    *,
    stop: asyncio.Event,
    stt: SpeechEngine | None = None,
    on_ready: Callable[[RunningTelephony], Awaitable[None] | None] | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Serve calls until `stop` is set; then stop taking calls, let the running dialogues
    end (the worker drains) and close."""
    from activities.bookings.calendar_file import load_calendar
    from activities.bookings.engine import make_engine

    tel = settings.telephony
    registry = SessionRegistry()
    acts = await asyncio.to_thread(build_live_call_activities, settings, registry, stt)
    acts.metrics = metrics
    queue = process_task_queue(tel)
    from workers.site_config import require_shared_database

    # The routes in the service database: a restart of this process loses none, and the
    # route server of any replica answers for any call.
    require_shared_database(settings, settings.booking.database_url, "table des routes d'appel")
    engine = make_engine(settings.booking.database_url)
    routes = await asyncio.to_thread(CallRoutes, tel.route_keep_s, engine)
    calls = LiveCalls(
        client, settings, registry, queue, routes=routes, views=acts.dialogues, metrics=metrics
    )
    worker = Worker(
        client,
        task_queue=queue,
        activities=[acts.run_live_call],
        # Async activity: the calls share the event loop; their CPU work goes to threads.
        max_concurrent_activities=64,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    servers, audiosocket_port, sip_port = await _serve_media(tel, calls)
    route_server = await serve_routes(
        tel.route_host,
        tel.route_port,
        calls.routes,
        load_calendar(settings.booking.calendar_file),
        peers=tel.audiosocket_peers,
    )
    route_port = int(route_server.sockets[0].getsockname()[1])
    running = RunningTelephony(queue, audiosocket_port, sip_port, calls, acts, route_port)
    log.info(
        "telephony ready",
        extra={
            "task_queue": queue,
            "audiosocket_port": audiosocket_port,
            "sip_port": sip_port,
            "route_port": route_port,
        },
    )
    worker_task = asyncio.create_task(worker.run())
    try:
        if on_ready is not None:
            ready = on_ready(running)
            if ready is not None:
                await ready
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, worker_task}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not worker_task.done():
            await calls.drain(tel.drain_s)
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.close()
        if not worker_task.done():
            await worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
        # Last: the dialplan of the calls just hung up still asks where they go.
        route_server.close()
        with contextlib.suppress(Exception):
            await route_server.wait_closed()
        engine.dispose()
