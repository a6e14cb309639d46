"""Worker processes. Two roles, two task queues: `stt` (CPU-heavy transcription, concurrency =
cores) and `default` (the workflow and every other activity); `all` runs both in one process,
which is what the demo and the tests use."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from temporalio.client import Client
from temporalio.worker import Worker

from activities.config import usable_cores
from workers.settings import Settings
from workflows.booking_follow_up import BookingFollowUpWorkflow
from workflows.incoming_sms import IncomingSmsWorkflow
from workflows.live_call import LiveCallWorkflow
from workflows.missed_call import MissedCallWorkflow
from workflows.purge import PurgeWorkflow
from workflows.route_sheets import RouteSheetExportWorkflow
from workflows.sms_poll import SmsPollWorkflow
from workflows.voicemail import VoicemailWorkflow

if TYPE_CHECKING:
    from activities.audio_store import AudioStore
    from activities.metrics import StepMetrics
    from activities.speech.engine import SpeechEngine
    from workers.metrics import Metrics

log = logging.getLogger(__name__)

# haystack (the FAQ engine) sends anonymous usage telemetry unless told not to: no data leaves
# this service (data-minimisation principle), and the machines running it often have no
# internet access. Process-wide by nature: haystack reads the variable once, when it is first
# imported, and already writes ~/.haystack/config.yaml then; so it is set here, in the
# composition root, before `build_services` imports the FAQ engine.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

Role = Literal["stt", "default", "all"]


@dataclass
class Dependencies:
    """Everything the activities hold. Built once per process: loading the Whisper model,
    the gazetteer and the sector polygons costs seconds; per activity it would dominate."""

    settings: Settings
    activities: list[Callable[..., Any]] = field(default_factory=list)
    stt_activities: list[Callable[..., Any]] = field(default_factory=list)


@dataclass
class Services:
    """What the voicemail activities and the live-call dialogue both use: built once per
    process, so a telephony process understands, geocodes and finds slots with exactly the
    objects (and data) a worker does."""

    catalogue: Any  # domain.catalogue.Catalogue
    geocode: Any  # activities.geocode.GeocodeActivities
    store: Any  # activities.bookings.store.BookingStore
    faq: Any  # activities.faq.FaqActivities


def build_services(settings: Settings) -> Services:
    from activities.bookings.calendar_file import load_calendar
    from activities.bookings.engine import make_engine
    from activities.bookings.store import BookingStore
    from activities.faq import build_faq_activities
    from activities.geo.gazetteer import Gazetteer
    from activities.geo.sectors import SectorIndex
    from activities.geo.territory_file import load_territory
    from activities.geocode import GeocodeActivities
    from activities.understand import load_catalogue
    from workers.site_config import require_shared_database

    # Bookings, send ledger, call routes: one database for every replica and host (checked
    # first: a refused start should not wait for the gazetteer).
    require_shared_database(settings, settings.booking.database_url, "réservations et envois SMS")
    catalogue = load_catalogue(settings.booking.items_file)
    territory = load_territory(settings.geo.territory_dir)
    gazetteer = Gazetteer.load(settings.geo.ban_file, settings.geo.cache_dir)
    sectors = SectorIndex.load(settings.geo.sector_files)
    geocode = GeocodeActivities(
        gazetteer,
        sectors,
        settings.geo.min_score,
        territory,
        catalogue=catalogue,
        book_threshold=settings.geo.book_threshold,
        confirm_threshold=settings.geo.confirm_threshold,
    )
    store = BookingStore(
        make_engine(settings.booking.database_url), load_calendar(settings.booking.calendar_file)
    )
    store.create_schema()
    faq = build_faq_activities(
        settings.faq,
        service_name=settings.sms.service_name,
        agent_phone=settings.sms.agent_phone,
        templates_dir=settings.templates_dir / "sms",
        catalogue=catalogue,
    )
    return Services(catalogue=catalogue, geocode=geocode, store=store, faq=faq)


def build_default_activities(
    settings: Settings,
    client: Client | None = None,
    metrics: Metrics | None = None,
    services: Services | None = None,
) -> list[Callable[..., Any]]:
    from activities.audio_links import AudioLinkActivities, audio_link_secret
    from activities.booking import BookingActivities
    from activities.booking_changes import BookingChangeActivities
    from activities.messaging.build import build_sms_backend
    from activities.messaging.ledger import SmsLedger
    from activities.messaging.phone_keys import phone_key_secret
    from activities.messaging.routes import SmsRoutes
    from activities.missed_call import MissedCallActivities
    from activities.purge import PurgeActivities
    from activities.purge_cases import StaleCaseActivities
    from activities.purge_sms import PurgeSmsActivities
    from activities.route_sheets.export import RouteSheetActivities
    from activities.sms import SmsActivities
    from activities.sms_inbox import SmsInboxActivities
    from activities.understand import UnderstandActivities

    shared = services or build_services(settings)
    catalogue, geocode, store = shared.catalogue, shared.geocode, shared.store
    booking = BookingActivities(store, metrics=metrics)
    from activities.audio_store.s3 import S3AudioStore
    from workers.audio_store import build_audio_store

    audio_store = build_audio_store(settings)
    purge = PurgeActivities(settings.audio_dir, store.engine, audio=audio_store)
    # The routes of SMS replies (migration 0004) are purged with the SMS records; the client
    # lets the purge drop the routes of closed cases too.
    purge_sms = PurgeSmsActivities(
        store.engine, [settings.sms.outbox_path, settings.sms.inbox_path], client=client
    )
    secret = phone_key_secret(settings.sms, settings.data_dir)
    backend = build_sms_backend(settings.sms)
    # The send ledger is in the service database, shared by every replica; a host's ledger
    # file from an earlier version is carried over once.
    ledger = SmsLedger(store.engine)
    ledger.import_file(settings.sms.ledger_path)
    sms = SmsActivities(
        backend,
        settings.templates_dir / "sms",
        ledger,
        service_name=settings.sms.service_name,
        agent_phone=settings.sms.agent_phone,
        phone_key_secret=secret,
        metrics=metrics,
    )
    changes = BookingChangeActivities(store, catalogue, secret)
    agents = settings.agents
    audio = AudioLinkActivities(
        settings.audio_dir,
        audio_link_secret(
            agents.audio_link_secret.get_secret_value(),
            settings.data_dir,
            allow_file=not settings.production,
        ),
        agents.audio_link_base_url,
        agents.audio_link_ttl_s,
        remote=audio_store if isinstance(audio_store, S3AudioStore) else None,
    )
    sheets = RouteSheetActivities(store, settings.route_sheets)
    inbox: list[Callable[..., Any]] = []
    if client is not None:
        # The purge closes cases left open past the retention through their resolve Update.
        inbox.append(StaleCaseActivities(client).close_stale_cases)
        # Routing a reply signals the workflow that texted that number: needs the client.
        inbox.append(
            SmsInboxActivities(
                client,
                backend,  # type: ignore[arg-type]
                secret,
                settings.temporal.task_queue,
                max_messages=settings.sms.poll_max_messages,
                # Replies find their case here, not through visibility (sms.routes).
                routes=SmsRoutes(store.engine),
                visibility_fallback=settings.sms.route_visibility_fallback,
            ).poll_incoming_sms
        )
    return [
        *inbox,
        UnderstandActivities(catalogue, geocode.territory).understand,
        geocode.geocode,
        geocode.propose_addresses,
        geocode.resolve_address,
        geocode.territory_reference,
        booking.book,
        booking.cancel_booking,
        booking.booking_status,
        booking.call_centre_opening,
        MissedCallActivities(store).find_upcoming_booking,
        sms.send_sms,
        sms.listen_for_sms_replies,
        sms.check_sms_delivery,
        shared.faq.answer_question,
        # Retention (daily Schedule): audio files and bookings past the retention period.
        purge.purge_audio,
        purge.anonymise_bookings,
        purge_sms.purge_sms_records,
        # Agents: a booking's changes, a voicemail's audio; the crews' route sheets.
        changes.describe_booking,
        changes.move_booking,
        changes.change_booking_items,
        audio.audio_link,
        sheets.export_route_sheets,
    ]


def build_stt_activities(
    settings: Settings, metrics: Metrics | None = None, worker_queue: str = ""
) -> list[Callable[..., Any]]:
    from activities.config import worker_threads
    from activities.geo.territory_file import load_territory
    from activities.speech.engine import SpeechEngine
    from activities.understand import load_catalogue

    stt = SpeechEngine(
        worker_threads(settings.stt, usable_cores()),
        load_catalogue(settings.booking.items_file),
        territory=load_territory(settings.geo.territory_dir),
    )
    stt.model()  # load now: a worker that cannot load its model should fail at start
    from workers.audio_store import build_audio_store

    return stt_activity_methods(
        stt, metrics, audio=build_audio_store(settings), worker_queue=worker_queue
    )


def stt_worker_queue(settings: Settings) -> str:
    """A task queue of this process alone (Temporal's worker-specific task queues): a message's
    activities after its transcription go there, to the worker that keeps its decoded audio.
    Unique per process start, so a restarted worker's queue is a new one and the old one's
    tasks fall back to the shared queue (workflows/pipeline_steps.py)."""
    process = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return f"{settings.temporal.stt_task_queue}@{process}"


def stt_activity_methods(
    stt: SpeechEngine,
    metrics: StepMetrics | None = None,
    *,
    audio: AudioStore | None = None,
    worker_queue: str = "",
) -> list[Callable[..., Any]]:
    """Everything that needs the audio and the Whisper model runs on the STT queue: the
    transcription and the audio checks of the address and items heard. The three share the
    one engine (one model per process) and one cache of decoded audio; `worker_queue`, the
    process's own queue (stt_worker_queue), is what the transcription tells the workflow."""
    from activities.address_scoring import AddressScoringActivities
    from activities.item_refinement import ItemRefinementActivities
    from activities.speech.feature_cache import FeatureCache, MessageAudio
    from activities.transcribe import TranscribeActivities

    s = stt.settings
    cache = FeatureCache(
        max_entries=s.feature_cache_entries,
        max_bytes=s.feature_cache_mb * 1024 * 1024,
        ttl_s=s.feature_cache_ttl_s,
    )
    features = MessageAudio(s.max_duration_s, store=audio, cache=cache)
    return [
        TranscribeActivities(
            stt, metrics=metrics, features=features, worker_queue=worker_queue
        ).transcribe,
        AddressScoringActivities(stt, features=features).score_address_candidates,
        ItemRefinementActivities(stt, features=features).refine_items,
    ]


def build_workers(
    client: Client,
    settings: Settings,
    role: Role = "all",
    default_activities: Sequence[Callable[..., Any]] | None = None,
    stt_activities: Sequence[Callable[..., Any]] | None = None,
    metrics: Metrics | None = None,
    stt_worker_queue_name: str = "",
) -> list[Worker]:
    """`metrics`: counted by the activities built here (not by those passed in).
    `stt_worker_queue_name`: the process's own STT queue that `stt_activities` name in their
    transcriptions (stt_activity_methods), polled beside the shared one; with the activities
    built here, one is made (stt_worker_queue)."""
    cores = usable_cores()
    workers: list[Worker] = []
    if role in ("default", "all"):
        acts = (
            list(default_activities)
            if default_activities is not None
            else build_default_activities(settings, client, metrics)
        )
        workers.append(
            Worker(
                client,
                task_queue=settings.temporal.task_queue,
                workflows=[
                    VoicemailWorkflow,
                    BookingFollowUpWorkflow,
                    IncomingSmsWorkflow,
                    MissedCallWorkflow,
                    LiveCallWorkflow,
                    SmsPollWorkflow,
                    PurgeWorkflow,
                    RouteSheetExportWorkflow,
                ],
                activities=acts,
                activity_executor=ThreadPoolExecutor(max_workers=16),
                max_concurrent_activities=16,
            )
        )
    if role in ("stt", "all"):
        stt_slots = settings.stt.concurrency or cores
        own = stt_worker_queue_name
        if stt_activities is None:
            own = own or stt_worker_queue(settings)
            acts = build_stt_activities(settings, metrics, own)
        else:
            acts = list(stt_activities)
        # CTranslate2 uses its own threads per call; more concurrent transcriptions than
        # cores only adds contention. The process's own queue has slots of its own, and a
        # thread for each: an activity a Worker takes must run at once, never wait in the
        # pool, where its heartbeat clock would run out (the attempt then retried elsewhere
        # while the stale one still runs) and no other STT process could take it. The shared
        # queue's intake per process stays `stt_slots`; the votes of its own messages run
        # beside it (at most `stt_slots` more: the cores oversubscribed while both are busy,
        # bounded; README, issue 15).
        queues = [settings.temporal.stt_task_queue, *([own] if own else [])]
        executor = ThreadPoolExecutor(max_workers=stt_slots * len(queues))
        for queue in queues:
            workers.append(
                Worker(
                    client,
                    task_queue=queue,
                    activities=acts,
                    activity_executor=executor,
                    max_concurrent_activities=stt_slots,
                )
            )
    return workers


@asynccontextmanager
async def workers_running(
    client: Client,
    settings: Settings,
    role: Role = "all",
    stt_activities: Sequence[Callable[..., Any]] | None = None,
    default_activities: Sequence[Callable[..., Any]] | None = None,
    stt_worker_queue_name: str = "",
) -> AsyncIterator[list[Worker]]:
    """Workers polling for the duration of the block (demo, bench, tests); drained on exit."""
    workers = build_workers(
        client,
        settings,
        role,
        default_activities=default_activities,
        stt_activities=stt_activities,
        stt_worker_queue_name=stt_worker_queue_name,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_workers(workers, stop))
    try:
        yield workers
    finally:
        stop.set()
        await task


async def run_workers(workers: Sequence[Worker], stop: asyncio.Event | None = None) -> None:
    async def run_all() -> None:
        await asyncio.gather(*(w.run() for w in workers))

    if stop is None:
        await run_all()
        return
    task = asyncio.create_task(run_all())
    await stop.wait()
    await asyncio.gather(*(w.shutdown() for w in workers))
    await task
