"""Prometheus metrics of a worker process (README "Operations", Metrics).

Two endpoints per process, both off unless `ENCOMBOT_METRICS__ENABLED=true`:

- the Temporal SDK's own metrics (`temporal_*`), served by the SDK's Rust core on
  `sdk_port` through the `Runtime` that `build_runtime` makes (the client must be connected
  with it: `workers.client.connect(..., runtime=...)`);
- the project's (`encombot_*`), a `prometheus_client` registry owned by one `Metrics` object
  built in `main()` and passed to the activities, served on `app_port` by
  `prometheus_client.start_http_server` (a thread of the same process).

Workflows never count anything (they are deterministic and replayed): activities count what
they do (transcription speed, bookings, SMS), and `VisibilityCollector` derives what workflows
decide (the agent queue, escalations, message outcomes) from Temporal visibility, i.e. the
search attributes the workflows already publish. No label ever holds personal data: label
values are fixed identifiers (statuses, reasons), and a search-attribute value that does not
look like one is counted as `other`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import start_http_server
from temporalio.common import SearchAttributeKey

from domain import names
from domain.calendar import ServiceCalendar, as_local
from domain.models import BookingStatus, EscalationReason, Status

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.runtime import Runtime

    from workers.settings import MetricsSettings

log = logging.getLogger(__name__)

# Real-time factor = processing time / audio duration (0.25: a 60 s message in 15 s).
RTF_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
SMS_EVENTS = ("sent", "failed", "delivered", "undelivered")
# Kinds of `encombot_booking_conflicts_total` (activities/bookings/store.py, BookingStore.book).
CONFLICT_KINDS = ("days_full", "duplicate_call", "reference_retry")
# Final `EncombotStatus` values of a voicemail (others appear when they occur).
MESSAGE_OUTCOMES = tuple(
    s.value for s in (Status.BOOKED, Status.REFUSED, Status.ANSWERED, Status.CLOSED)
)
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Sector ids come from the territory file (arrondissement or commune codes such as "13005"):
# configuration, a few dozen values, never personal data.
_SECTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
# Turn latency of live calls, seconds (end of the caller's turn to the reply queued).
TURN_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0)


def label_value(value: object) -> str:
    """A label value from a search attribute: a short lower-case identifier, else `other`
    (a label is never free text)."""
    text = str(value or "")
    return text if _LABEL.match(text) else ("unknown" if not text else "other")


class Metrics:
    """The project's metrics, in a registry of their own (one per process; tests make
    theirs). Activities take an optional `Metrics`; None counts nothing."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.transcription_rtf = Histogram(
            "encombot_transcription_rtf",
            "Transcription real-time factor (processing seconds / audio seconds), per message",
            buckets=RTF_BUCKETS,
            registry=r,
        )
        self.bookings = Counter(
            "encombot_bookings",
            "Results of the book_pickup activity, by status and sector (empty when none)",
            ["status", "sector"],
            registry=r,
        )
        self.booking_conflicts = Counter(
            "encombot_booking_conflicts",
            "Booking attempts that met contention: days_full (at least one collection day "
            "of the window had no place left), duplicate_call (a concurrent attempt of the "
            "same call committed first), reference_retry (a generated reference was taken)",
            ["kind"],
            registry=r,
        )
        self.sms = Counter(
            "encombot_sms",
            "SMS events: sent (accepted by the provider), failed (a send attempt that failed), "
            "delivered / undelivered (final delivery report)",
            ["event"],
            registry=r,
        )
        self.escalations = Counter(
            "encombot_escalations",
            "Cases that entered the agent queue since this process started, by reason "
            "(seen in Temporal visibility)",
            ["reason"],
            registry=r,
        )
        self.messages = Counter(
            "encombot_messages",
            "Voicemail workflows closed since this process started, by outcome "
            "(EncombotStatus when completed, else the execution status)",
            ["outcome"],
            registry=r,
        )
        self.agent_queue_length = Gauge(
            "encombot_agent_queue_length",
            "Running workflows waiting for an agent (NeedsAgent = true), by EscalationReason",
            ["reason"],
            registry=r,
        )
        self.agent_queue_oldest = Gauge(
            "encombot_agent_queue_oldest_waiting_seconds",
            "Age of the oldest case waiting for an agent (now - WaitingSince), by "
            "EscalationReason; 0 when none waits",
            ["reason"],
            registry=r,
        )
        self.call_centre_open = Gauge(
            "encombot_call_centre_open",
            "1 while the call centre is open (service calendar, public holidays included)",
            registry=r,
        )
        # `encombot serve`.
        self.ingress_requests = Counter(
            "encombot_ingress_requests",
            "Ingress requests answered, by route template and HTTP status",
            ["route", "status"],
            registry=r,
        )
        self.ingress_signature_failures = Counter(
            "encombot_ingress_signature_failures",
            "Requests refused by the webhook signature check (401), by reason",
            ["reason"],
            registry=r,
        )
        # `encombot telephony`.
        self.calls = Counter(
            "encombot_calls",
            "Live calls ended, by the dialogue's outcome",
            ["outcome"],
            registry=r,
        )
        self.transfers = Counter(
            "encombot_transfers",
            "Live calls handed to the agents' queue (asked by the caller or decided by the bot)",
            registry=r,
        )
        self.turn_latency = Histogram(
            "encombot_turn_latency_seconds",
            "Live calls: end of the caller's turn to the bot's reply queued for playout",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.answer_latency = Histogram(
            "encombot_answer_latency_seconds",
            "Live calls: end of the caller's turn to the answer queued for playout (the "
            "acknowledgement and « un instant » before it are not the answer)",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.turns_acknowledged = Counter(
            "encombot_turns_acknowledged",
            "Live calls: turns acknowledged because their answer was late (ACK_MS)",
            registry=r,
        )
        self.turns_went_on = Counter(
            "encombot_turns_went_on",
            "Live calls: turns the caller went on with after the bot took them as ended "
            "(heard again as one; many: the end-of-turn pauses are too short for the callers)",
            registry=r,
        )
        self.collector_errors = Counter(
            "encombot_metrics_collector_errors",
            "Visibility refreshes that failed",
            registry=r,
        )
        self.collector_last_success = Gauge(
            "encombot_metrics_collector_last_success_timestamp_seconds",
            "Unix time of the last successful visibility refresh",
            registry=r,
        )
        # Known label values start at 0, so a rate() has a series before the first event.
        for status in BookingStatus:
            self.bookings.labels(status.value, "")
        for kind in CONFLICT_KINDS:
            self.booking_conflicts.labels(kind)
        for event in SMS_EVENTS:
            self.sms.labels(event)
        for outcome in MESSAGE_OUTCOMES:
            self.messages.labels(outcome)
        for reason in EscalationReason:
            self.escalations.labels(reason.value)
            self.agent_queue_length.labels(reason.value).set(0)
            self.agent_queue_oldest.labels(reason.value).set(0)

    # -- activities ----------------------------------------------------------------------

    def observe_transcription(self, processing_s: float, duration_s: float) -> None:
        if duration_s > 0:
            self.transcription_rtf.observe(processing_s / duration_s)

    def booking(self, status: str, sector: str = "") -> None:
        sector_label = sector if _SECTOR.match(sector) else ("" if not sector else "other")
        self.bookings.labels(label_value(status), sector_label).inc()

    def booking_conflict(self, kind: str) -> None:
        self.booking_conflicts.labels(label_value(kind)).inc()

    def sms_event(self, event: str) -> None:
        self.sms.labels(label_value(event)).inc()

    def observe_turn_latency(self, seconds: float) -> None:
        self.turn_latency.observe(max(0.0, seconds))

    def turn_went_on(self) -> None:
        self.turns_went_on.inc()

    def observe_answer_latency(self, seconds: float) -> None:
        self.answer_latency.observe(max(0.0, seconds))

    def turn_acknowledged(self) -> None:
        self.turns_acknowledged.inc()

    # -- processes -----------------------------------------------------------------------

    def ingress_request(self, route: str, status: int) -> None:
        self.ingress_requests.labels(route, str(status)).inc()

    def signature_failure(self, reason: str) -> None:
        self.ingress_signature_failures.labels(label_value(reason)).inc()

    def call_ended(self, outcome: str, *, transferred: bool) -> None:
        self.calls.labels(label_value(outcome)).inc()
        if transferred:
            self.transfers.inc()

    # -- exposition ----------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in the Prometheus text format (what the endpoint serves)."""
        return bytes(generate_latest(self.registry))

    def serve(self, host: str, port: int) -> Any:
        """Serve the registry at http://host:port/metrics from a daemon thread; returns the
        server (`.shutdown()` stops it)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server


def build_runtime(settings: MetricsSettings) -> Runtime:
    """A Temporal runtime whose core serves the SDK metrics on host:sdk_port. Build one per
    process and connect every client of the process with it."""
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    bind = f"{settings.host}:{settings.sdk_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind)))


# --------------------------------------------------------------------------- visibility


_SA_REASON = SearchAttributeKey.for_keyword(names.SA_REASON)
_SA_STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)
_SA_WAITING_SINCE = SearchAttributeKey.for_datetime(names.SA_WAITING_SINCE)


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class VisibilityCollector:
    """Metrics of what workflows decide, read from Temporal visibility every `interval_s`
    (workers of role default/all):

    - `encombot_agent_queue_length{reason}`: running workflows with `NeedsAgent = true`,
      grouped by `EscalationReason`, as of the last refresh;
    - `encombot_escalations_total{reason}`: queue entries (workflow, run, `WaitingSince`) that
      appeared since the previous refresh and began after this collector started. A case
      that enters and leaves the queue between two refreshes is not seen; a restart does not
      count the queue it finds again;
    - `encombot_messages_total{outcome}`: `VoicemailWorkflow` runs that closed since this
      collector started (visibility's `CloseTime`, re-read over `overlap` to tolerate late
      visibility records, each run counted once).

    Counters start from zero with the process. Several collectors (replicas) each count
    everything: aggregate with max, or enable the collector on one replica."""

    client: Client
    metrics: Metrics
    interval_s: float = 30.0
    # The service calendar, for `encombot_call_centre_open` (None: not exported).
    calendar: ServiceCalendar | None = None
    overlap: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    started_at: datetime = field(init=False)
    _queue_keys: set[tuple[str, str, str]] = field(init=False, default_factory=set)
    _queue_reasons: set[str] = field(init=False, default_factory=set)
    _closed: dict[tuple[str, str], datetime] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    async def refresh(self) -> None:
        await self.refresh_agent_queue()
        await self.refresh_messages()
        if self.calendar is not None:
            at = as_local(self.clock(), self.calendar.tz)
            self.metrics.call_centre_open.set(1 if self.calendar.is_call_centre_open(at) else 0)
        self.metrics.collector_last_success.set(time.time())

    async def refresh_agent_queue(self) -> None:
        counts: dict[str, int] = {}
        oldest: dict[str, float] = {}
        now = self.clock()
        keys: set[tuple[str, str, str]] = set()
        new: list[str] = []
        query = f"{names.SA_NEEDS_AGENT} = true AND ExecutionStatus = 'Running'"
        async for wf in self.client.list_workflows(query):
            attrs = wf.typed_search_attributes
            reason = label_value(attrs.get(_SA_REASON))
            counts[reason] = counts.get(reason, 0) + 1
            since = attrs.get(_SA_WAITING_SINCE)
            if since is not None and since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            if since is not None:
                age = max(0.0, (now - since).total_seconds())
                oldest[reason] = max(oldest.get(reason, 0.0), age)
            key = (wf.id, wf.run_id, since.isoformat() if since else "")
            keys.add(key)
            if key not in self._queue_keys and since is not None and since >= self.started_at:
                new.append(reason)
        gauge = self.metrics.agent_queue_length
        for reason in self._queue_reasons | {r.value for r in EscalationReason} | set(counts):
            gauge.labels(reason).set(counts.get(reason, 0))
            self.metrics.agent_queue_oldest.labels(reason).set(oldest.get(reason, 0.0))
        for reason in new:
            self.metrics.escalations.labels(reason).inc()
        self._queue_keys = keys
        self._queue_reasons |= set(counts)

    async def refresh_messages(self) -> None:
        now = self.clock()
        since = max(self.started_at, now - self.overlap)
        query = (
            f"WorkflowType = '{names.VOICEMAIL_WORKFLOW}' AND ExecutionStatus != 'Running' "
            f"AND CloseTime >= '{_iso(since)}'"
        )
        async for wf in self.client.list_workflows(query):
            key = (wf.id, wf.run_id)
            if key in self._closed or wf.status is None:
                continue
            status = wf.status.name.lower()
            if status == "continued_as_new":
                continue  # not an outcome: the next run closes with one
            if status == "completed":
                outcome = label_value(wf.typed_search_attributes.get(_SA_STATUS))
            else:
                outcome = status
            self._closed[key] = wf.close_time or now
            self.metrics.messages.labels(outcome).inc()
        # Runs closed before the window can no longer be listed again: forget them.
        self._closed = {k: t for k, t in self._closed.items() if t >= since}

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh until `stop` is set; a failed refresh is logged and counted, and retried
        at the next interval."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:
                self.metrics.collector_errors.inc()
                log.warning("metrics: visibility refresh failed (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
