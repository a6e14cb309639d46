"""Metrics and structured logs (workers/metrics.py, workers/logs.py).

- the project's registry renders every `encombot_*` metric after the instrumented activity
  code paths run (booking on SQLite, SMS on the outbox, a transcription result);
- a client connected with the SDK runtime of `build_runtime` serves `temporal_*` metrics on
  its Prometheus port once a workflow has run on the session dev server;
- the visibility collector counts a workflow parked in the agent queue (an
  IncomingSmsWorkflow) and a closed voicemail by outcome, each once;
- the JSON log formatter writes one valid JSON object with the workflow and run ids inside an
  activity, and no argument of the activity."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.booking import BookingActivities
from activities.bookings import reservation
from activities.bookings.calendar_file import load_calendar
from activities.bookings.engine import make_engine
from activities.bookings.store import BookingStore
from activities.messaging.errors import SmsNotSentError
from activities.messaging.outbox import OutboxBackend
from activities.sms import SmsActivities
from activities.speech.engine import SpeechEngine
from activities.transcribe import TranscribeActivities
from corpus import CORPUS_DIR, TEMPLATES_DIR
from domain import names
from domain.models import BookingStatus, NotifyInput, TranscribeInput, TranscribeResult
from domain.sms_models import IncomingSmsInput, SmsDeliveryInput
from tests.activities.bookings.common import D1, D2, D3, SECTOR, calendar, request
from workers.client import connect
from workers.dev.devserver import DevServer, free_port
from workers.logs import JsonFormatter
from workers.metrics import Metrics, VisibilityCollector, build_runtime
from workers.settings import MetricsSettings, Settings
from workflows.incoming_sms import IncomingSmsWorkflow

MOBILE = "+33612345678"
EXPECTED = (
    "encombot_transcription_rtf",
    "encombot_bookings_total",
    "encombot_booking_conflicts_total",
    "encombot_sms_total",
    "encombot_escalations_total",
    "encombot_messages_total",
    "encombot_agent_queue_length",
)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# --------------------------------------------------------------------------- activities


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BookingStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bookings.sqlite'}")
    s = BookingStore(engine, calendar(over_limit="escalate"))
    s.create_schema()
    yield s
    engine.dispose()


def test_booking_metrics(store: BookingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = Metrics(CollectorRegistry())
    # Monday 2 March 2026, 10:00 in Paris: candidates Thu 5, Tue 10, Thu 12 March.
    acts = BookingActivities(
        store, clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC), metrics=metrics
    )
    env = ActivityEnvironment()
    store.set_capacity(SECTOR, D1, 0)

    first = env.run(acts.book, request("c-1", housenumber="1"))
    assert first.status == BookingStatus.BOOKED and first.pickup_date == D2.isoformat()
    assert env.run(acts.book, request("c-2", housenumber="1")).status == "already_booked"
    assert env.run(acts.book, request("c-3", count=9)).status == "too_many_items"

    # A generated reference already taken: the store draws another.
    refs = iter([first.reference, "ACDEFG"])
    monkeypatch.setattr(reservation, "new_reference", lambda: next(refs))
    assert env.run(acts.book, request("c-4", housenumber="4")).reference == "ACDEFG"

    for day in (D2, D3):
        store.set_capacity(SECTOR, day, 0)
    assert env.run(acts.book, request("c-5", housenumber="5")).status == "no_slot"

    # By the sector the caller's address is in (the dashboard's bookings per sector).
    assert sample(metrics, "encombot_bookings_total", status="booked", sector=SECTOR) == 2
    assert sample(metrics, "encombot_bookings_total", status="already_booked", sector=SECTOR) == 1
    assert sample(metrics, "encombot_bookings_total", status="too_many_items", sector=SECTOR) == 1
    assert sample(metrics, "encombot_bookings_total", status="no_slot", sector=SECTOR) == 1
    # c-1, c-4 (D1 full, booked on D2) and c-5 (every day full).
    assert sample(metrics, "encombot_booking_conflicts_total", kind="days_full") == 3
    assert sample(metrics, "encombot_booking_conflicts_total", kind="reference_retry") == 1
    assert sample(metrics, "encombot_booking_conflicts_total", kind="duplicate_call") == 0
    # A retried activity (same call) is a replay, counted as its result, not as a conflict.
    assert env.run(acts.book, request("c-1", housenumber="1")).reference == first.reference
    assert sample(metrics, "encombot_booking_conflicts_total", kind="days_full") == 3


class FailingBackend:
    name = "outbox"

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        raise SmsNotSentError("API injoignable")


def test_sms_metrics(tmp_path: Path) -> None:
    metrics = Metrics(CollectorRegistry())
    outbox = OutboxBackend(tmp_path / "outbox.jsonl")
    sms = SmsActivities(
        outbox,
        TEMPLATES_DIR / "sms",
        tmp_path / "ledger.sqlite",
        "Encombrants",
        "0 800 00 00 00",
        metrics=metrics,
    )
    env = ActivityEnvironment()
    inp = NotifyInput("k-1", MOBILE, "callback", {})
    sent = env.run(sms.send_sms, inp)
    env.run(sms.send_sms, inp)  # a retry: already sent, not counted again
    assert env.run(sms.check_sms_delivery, SmsDeliveryInput(sent.message_id)).status == (
        "delivered"
    )
    assert env.run(sms.check_sms_delivery, SmsDeliveryInput("unknown")).status == "failed"

    failing = SmsActivities(
        FailingBackend(),  # type: ignore[arg-type]
        TEMPLATES_DIR / "sms",
        tmp_path / "ledger2.sqlite",
        "Encombrants",
        "0 800 00 00 00",
        metrics=metrics,
    )
    with pytest.raises(SmsNotSentError):
        env.run(failing.send_sms, NotifyInput("k-2", MOBILE, "callback", {}))

    assert sample(metrics, "encombot_sms_total", event="sent") == 1
    assert sample(metrics, "encombot_sms_total", event="delivered") == 1
    assert sample(metrics, "encombot_sms_total", event="undelivered") == 1
    assert sample(metrics, "encombot_sms_total", event="failed") == 1
    # No label carries the number or the text.
    text = metrics.render().decode()
    assert MOBILE not in text and "33612345678" not in text


def test_transcription_rtf_and_exposition(base_settings: Settings) -> None:
    metrics = Metrics(CollectorRegistry())
    speech = SpeechEngine(base_settings.stt)
    stt = TranscribeActivities(speech, metrics=metrics)

    def fake(
        inp: TranscribeInput, heartbeat: bool = False, audio: object = None
    ) -> TranscribeResult:
        return TranscribeResult(text="bonjour", segments=[], duration_s=40.0, processing_s=10.0)

    speech.transcribe_file = fake  # type: ignore[method-assign]
    ActivityEnvironment().run(stt.transcribe, TranscribeInput(audio_path="/nonexistent.wav"))
    assert sample(metrics, "encombot_transcription_rtf_count") == 1
    assert sample(metrics, "encombot_transcription_rtf_sum") == pytest.approx(0.25)
    assert sample(metrics, "encombot_transcription_rtf_bucket", le="0.3") == 1
    assert sample(metrics, "encombot_transcription_rtf_bucket", le="0.2") == 0

    # Served over HTTP as Prometheus text.
    port = free_port()
    server = metrics.serve("127.0.0.1", port)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        server.shutdown()
    text = body.decode()
    for name in EXPECTED:
        base = name.removesuffix("_total")
        assert re.search(rf"^# TYPE {base}(_total)? ", text, re.M), name
        assert re.search(rf"^{name}(_bucket|_count|_sum)?[{{ ]", text, re.M), name
    assert 'encombot_bookings_total{sector="",status="no_slot"} 0.0' in text


def test_label_values_are_identifiers() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.booking("Rue d'Aubagne 12", "12 rue d'Aubagne")
    metrics.sms_event("+33612345678")
    metrics.signature_failure("v1=deadbeef")
    metrics.call_ended("0612345678", transferred=False)
    assert sample(metrics, "encombot_bookings_total", status="other", sector="other") == 1
    assert sample(metrics, "encombot_ingress_signature_failures_total", reason="other") == 1
    assert sample(metrics, "encombot_calls_total", outcome="other") == 1
    assert sample(metrics, "encombot_sms_total", event="other") == 1


# --------------------------------------------------------------------------- SDK runtime


@workflow.defn(name="MetricsProbeWorkflow")
class ProbeWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "ok"


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


async def test_sdk_runtime_serves_temporal_metrics(
    dev_server: DevServer, base_settings: Settings, unique_queue: str
) -> None:
    port = free_port()
    runtime = build_runtime(MetricsSettings(enabled=True, sdk_port=port))
    settings = base_settings.model_copy(
        update={
            "temporal": base_settings.temporal.model_copy(update={"address": dev_server.address})
        }
    )
    client = await connect(settings, runtime=runtime)
    async with Worker(
        client,
        task_queue=unique_queue,
        workflows=[ProbeWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        result = await client.execute_workflow(
            ProbeWorkflow.run, id=f"probe-{uuid.uuid4().hex[:8]}", task_queue=unique_queue
        )
        assert result == "ok"

        async def exported() -> None:
            text = await asyncio.to_thread(scrape, port)
            assert re.search(r"^temporal_\w+", text, re.M), text[:500]
            # The worker records the completion just after it reports it to the server.
            assert "temporal_workflow_completed" in text

        await eventually(exported)


# --------------------------------------------------------------------------- visibility


@workflow.defn(name=names.VOICEMAIL_WORKFLOW)
class FakeVoicemailWorkflow:
    """Closes at once with the outcome it is given (what the collector reads)."""

    @workflow.run
    async def run(self, outcome: str) -> str:
        workflow.upsert_search_attributes(
            [SearchAttributeKey.for_keyword(names.SA_STATUS).value_set(outcome)]
        )
        return outcome


async def eventually(check: Any, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            await check()
            return
        except AssertionError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_collector_counts_agent_queue_escalations_and_outcomes(
    client: Client, unique_queue: str
) -> None:
    metrics = Metrics(CollectorRegistry())
    collector = VisibilityCollector(client, metrics)
    reason = f"probe_{uuid.uuid4().hex[:8]}"
    outcome = f"probe_{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=unique_queue,
        workflows=[IncomingSmsWorkflow, FakeVoicemailWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            IncomingSmsWorkflow.run,
            IncomingSmsInput(f"m-{uuid.uuid4().hex[:8]}", MOBILE, "STOP", reason=reason),
            id=names.incoming_sms_workflow_id(uuid.uuid4().hex[:8]),
            task_queue=unique_queue,
        )
        await client.execute_workflow(
            FakeVoicemailWorkflow.run,
            outcome,
            id=f"voicemail-probe-{uuid.uuid4().hex[:8]}",
            task_queue=unique_queue,
        )
        try:

            async def queued() -> None:
                await collector.refresh()
                assert sample(metrics, "encombot_agent_queue_length", reason=reason) == 1
                assert sample(metrics, "encombot_messages_total", outcome=outcome) == 1

            await eventually(queued)
            assert sample(metrics, "encombot_escalations_total", reason=reason) == 1
            # Its age: from its WaitingSince to the collector's clock.
            waited = sample(metrics, "encombot_agent_queue_oldest_waiting_seconds", reason=reason)
            assert 0 < waited < 120
            # Seen again at the next refresh: counted once.
            await collector.refresh()
            assert sample(metrics, "encombot_escalations_total", reason=reason) == 1
            assert sample(metrics, "encombot_messages_total", outcome=outcome) == 1
            assert sample(metrics, "encombot_agent_queue_length", reason=reason) == 1
        finally:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")

    async def left() -> None:
        await collector.refresh()
        assert sample(metrics, "encombot_agent_queue_length", reason=reason) == 0

    await eventually(left)
    assert sample(metrics, "encombot_agent_queue_oldest_waiting_seconds", reason=reason) == 0
    assert sample(metrics, "encombot_escalations_total", reason=reason) == 1
    assert sample(metrics, "encombot_metrics_collector_last_success_timestamp_seconds") > 0


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (datetime(2026, 3, 3, 9, 0, tzinfo=UTC), 1),  # Tuesday 10:00 in Paris
        (datetime(2026, 3, 1, 2, 0, tzinfo=UTC), 0),  # Sunday 03:00
        (datetime(2026, 5, 1, 8, 0, tzinfo=UTC), 0),  # Friday 1 May, 10:00: a public holiday
    ],
)
async def test_collector_exports_whether_the_call_centre_is_open(
    client: Client, at: datetime, open_: int
) -> None:
    metrics = Metrics(CollectorRegistry())
    calendar = load_calendar(CORPUS_DIR / "calendar.yaml")
    await VisibilityCollector(client, metrics, calendar=calendar, clock=lambda: at).refresh()
    assert sample(metrics, "encombot_call_centre_open") == open_


# --------------------------------------------------------------------------- JSON logs


@activity.defn(name="log_probe")
def log_probe(caller_number: str, street: str) -> None:
    activity.logger.info("probe via the SDK logger")
    logging.getLogger("encombot.test").warning("probe via a module logger")
    try:
        raise ApplicationError(f"adresse inconnue : {street}")
    except ApplicationError:
        logging.getLogger("encombot.test").exception("probe with an exception")


def test_json_logs_carry_ids_and_no_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    env = ActivityEnvironment()
    env.info = replace(
        env.info,
        activity_type="log_probe",
        workflow_id="voicemail-c42",
        workflow_run_id="run-7",
    )
    try:
        env.run(log_probe, MOBILE, "12 rue d'Aubagne")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["message"].split(" (")[0] for r in lines] == [
        "probe via the SDK logger",
        "probe via a module logger",
        "probe with an exception",
    ]
    for record in lines:
        assert record["workflow_id"] == "voicemail-c42"
        assert record["run_id"] == "run-7"
        assert record["activity"]["activity_type"] == "log_probe"
        assert {"time", "level", "logger"} <= set(record)
    assert lines[2]["exception"]["type"].endswith("ApplicationError")
    raw = stream.getvalue()
    assert MOBILE not in raw and "Aubagne" not in raw


def test_json_logs_workflow_extra() -> None:
    record = logging.LogRecord("temporalio.workflow", logging.INFO, __file__, 1, "hi", (), None)
    record.temporal_workflow = {
        "workflow_id": "voicemail-c1",
        "run_id": "r1",
        "workflow_type": "VoicemailWorkflow",
        "task_queue": "encombot",
    }
    out = json.loads(JsonFormatter().format(record))
    assert out["workflow_id"] == "voicemail-c1" and out["run_id"] == "r1"
    assert out["workflow"]["workflow_type"] == "VoicemailWorkflow"
    plain = json.loads(JsonFormatter().format(logging.LogRecord("x", 20, "f", 1, "m", (), None)))
    assert set(plain) == {"time", "level", "logger", "message"}
