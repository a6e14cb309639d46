"""`encombot telephony`: the process that answers live calls.

It holds the calls' media (Asterisk AudioSocket, and the small SIP UAS when enabled) and runs
the dialogue activity (`run_live_call`, activities/live_call.py) on a task queue of its own:
the audio of a call lives in this process, so its dialogue can only run here. Per call: the
session is registered, a LiveCallWorkflow is started (on the ordinary workers' queue, with
this process's queue in its input), and the call is held until the dialogue releases it.

If this process dies, its calls die with it; the workflows see the dialogue's heartbeats stop
and hand what was understood to a person (workflows/live_call.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from activities.live_call import LiveCallActivities, SessionRegistry, TurnTaking
from domain import names
from domain.dialogue import Prompt
from domain.live_call_models import LiveCallInput
from domain.media import MediaSession
from workers.settings import Settings, TelephonySettings

log = logging.getLogger(__name__)

# Prompts that say the same words on every call: synthesized (and cached) at start, so the
# first caller does not wait for them.
STATIC_PROMPTS = (
    "one_moment",
    "ask_address",
    "ask_postcode",
    "retry_postcode",
    "retry_address",
    "ask_items",
    "retry_items",
    "ask_phone",
    "retry_phone",
    "retry_confirm",
    "confirmed",
    "restart",
    "faq_unknown",
    "no_slot",
    "transfer",
)


def process_task_queue(settings: TelephonySettings) -> str:
    """A queue only this process polls: the dialogue must run where the call's media is."""
    return (
        f"{settings.task_queue_prefix}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )


def turn_taking(settings: TelephonySettings) -> TurnTaking:
    return TurnTaking(
        end_pause_ms=settings.end_pause_ms,
        address_pause_ms=settings.address_pause_ms,
        barge_in_ms=settings.barge_in_ms,
        vad_mode=settings.vad_mode,
        no_input_s=settings.no_input_s,
        max_utterance_s=settings.max_utterance_s,
        stt_beam_size=settings.stt_beam_size,
        speculate_ms=settings.speculate_ms,
    )


def build_live_call_activities(
    settings: Settings, registry: SessionRegistry, stt: Any | None = None
) -> LiveCallActivities:
    """The dialogue's dependencies, built as a worker builds its own (workers/worker.py
    `build_services`): same catalogue, gazetteer, booking store and FAQ index. `stt`: an
    already loaded TranscribeActivities (tests share the session's)."""
    from activities.transcribe import TranscribeActivities
    from activities.tts import Tts
    from workers.worker import build_services

    services = build_services(settings)
    if stt is None:
        stt = TranscribeActivities(settings.stt, services.catalogue)
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
    )
    greeting = Prompt(
        "greeting",
        {"service_name": settings.sms.service_name, "agent_phone": settings.sms.agent_phone},
    )
    acts.synthesize([greeting, *(Prompt(name) for name in STATIC_PROMPTS)])
    return acts


@dataclass
class LiveCalls:
    """The per-call glue between the media servers and Temporal."""

    client: Client
    settings: Settings
    registry: SessionRegistry
    task_queue: str
    active: set[str] = field(default_factory=set)

    async def on_session(self, session: MediaSession) -> None:
        call_id = session.call_id
        tel = self.settings.telephony
        try:
            self.registry.add(session)
        except ValueError:
            log.warning("call %s: already held, second connection dropped", call_id)
            return
        self.active.add(call_id)
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
            await self.registry.wait_released(call_id)
        finally:
            self.active.discard(call_id)
            self.registry.remove(call_id)


@dataclass
class RunningTelephony:
    task_queue: str
    audiosocket_port: int | None
    sip_port: int | None
    calls: LiveCalls
    activities: LiveCallActivities


async def run_telephony(
    client: Client,
    settings: Settings,
    *,
    stop: asyncio.Event,
    stt: Any | None = None,
    on_ready: Callable[[RunningTelephony], Awaitable[None] | None] | None = None,
) -> None:
    """Serve calls until `stop` is set; then stop taking calls, let the running dialogues
    end (the worker drains) and close."""
    tel = settings.telephony
    registry = SessionRegistry()
    acts = await asyncio.to_thread(build_live_call_activities, settings, registry, stt)
    queue = process_task_queue(tel)
    calls = LiveCalls(client, settings, registry, queue)
    worker = Worker(
        client,
        task_queue=queue,
        activities=[acts.run_live_call],
        # Async activity: the calls share the event loop; their CPU work goes to threads.
        max_concurrent_activities=64,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    servers: list[Any] = []
    audiosocket_port = sip_port = None
    if tel.audiosocket_enabled:
        from workers.telephony.audiosocket import serve_audiosocket

        server = await serve_audiosocket(
            tel.audiosocket_host, tel.audiosocket_port, calls.on_session
        )
        servers.append(server)
        audiosocket_port = server.port
    if tel.sip_enabled:
        from workers.telephony.sip import serve_sip

        sip = await serve_sip(tel.sip_host, tel.sip_port, calls.on_session, rtp_host=tel.rtp_host)
        servers.append(sip)
        sip_port = sip.port
    running = RunningTelephony(queue, audiosocket_port, sip_port, calls, acts)
    log.info(
        "telephony ready",
        extra={"task_queue": queue, "audiosocket_port": audiosocket_port, "sip_port": sip_port},
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
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.close()
        if not worker_task.done():
            await worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
