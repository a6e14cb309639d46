"""Benchmark: a night's backlog, N voicemails submitted at once to the real system.

    .venv/bin/python bench/bench_backlog.py [--count 200] [--out var/bench-backlog.json]
        [--stt-concurrency 0] [--shared ../shared]

What runs: a Temporal dev server and the two worker roles as separate processes
(`encombot worker --role stt` and `--role default`), configured like production through
ENCOMBOT_* variables: outbox SMS backend, SQLite bookings, the development codec key, all under
one temporary data directory. The territory is Marseille (the BAN and sectors of
`<shared>/geodata`, as `make eval`) when present, else the demo territory.

The voicemails cycle through the demo set (corpus/demo) and the development set
(`<shared>/voicemails`, whatever of it is present), each copy with its own call id; copies of
one message book the same address, so the later ones get `already_booked` (the same booked +
SMS path). All are submitted at once once both workers poll.

Measured: total wall (first submission → last voicemail settled), throughput per hour,
end-to-end seconds per voicemail (its submission → settled: completed, i.e. booked + SMS,
refused or answered; or parked, waiting for an agent or for the caller's SMS choice),
outcome counts, and per process (stt worker, default worker, dev server, each with its
children) CPU seconds (user + sys), mean and peak CPU % (100 = one core; the peak over one
sampling interval) and peak RSS, sampled with psutil; the startup (model, gazetteer) is
reported apart from the backlog itself.

"Settled" is read from Temporal visibility, one list query every --poll seconds (the
workflow's own EncombotStatus search attribute and its execution status): polling each
workflow with `workers.dev.demo.wait_settled` (a describe and a query every 0.3 s) would send
hundreds of queries a second to the default worker and measure the watcher. Each voicemail's
outcome is then read with `wait_settled`, as the demo does. Visibility lags the history by a
fraction of a second on the dev server; the end-to-end times carry that and the poll interval.

`--alone` submits the voicemails one at a time instead, each once the one before has
settled (`make bench-alone`: the 40 development voicemails, visibility polled every 0.1 s):
the end-to-end seconds of a message on an idle system, for all and for those of 15-25 s of
audio, and where they go: each activity's queue and run seconds, read from the histories.

Writes JSON and prints a table. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle

from activities.config import usable_cores, worker_threads
from corpus import DEMO_DIR
from domain.models import Status, VoicemailResult
from domain.names import SA_STATUS, VOICEMAIL_WORKFLOW
from domain.stats import percentile
from workers.client import connect, submit_voicemail
from workers.dev.demo import demo_settings, wait_settled
from workers.dev.devserver import DevServer
from workers.settings import Settings

REPO = Path(__file__).resolve().parent.parent
# The territory of `make eval` (Makefile GEO, GEO_ARGS), relative to the shared folder.
MARSEILLE_BAN = "geodata/adresses-13-marseille-synthetique.csv.gz"
MARSEILLE_SECTORS = (
    "geodata/marseille-arrondissements-osm-20160128.geojson",
    "geodata/communes-metropole-aix-marseille-provence.geojson",
)
SETTLED_STATUSES = (Status.WAITING_AGENT.value, Status.WAITING_CALLER.value)


# --------------------------------------------------------------------------- voicemails


@dataclass(frozen=True)
class Message:
    id: str
    audio: Path
    caller_number: str
    source: str  # demo | dev

    @property
    def audio_s(self) -> float | None:
        try:
            with wave.open(str(self.audio), "rb") as w:
                return w.getnframes() / w.getframerate()
        except (wave.Error, EOFError, OSError):
            return None  # not a WAV file: its length is not reported


def load_messages(shared: Path) -> list[Message]:
    """The demo set, then the development set; entries whose audio is absent are skipped."""
    sets = [("demo", DEMO_DIR), ("dev", shared / "voicemails")]
    messages: list[Message] = []
    for source, folder in sets:
        index = folder / "voicemails.json"
        if not index.is_file():
            continue
        for entry in json.loads(index.read_text(encoding="utf-8")):
            audio = folder / entry["audio"]
            if audio.is_file():
                messages.append(Message(entry["id"], audio, entry["caller_number"], source))
    return messages


# --------------------------------------------------------------------------- configuration


def territory(shared: Path) -> tuple[Path, list[Path], str]:
    ban = shared / MARSEILLE_BAN
    sectors = [shared / s for s in MARSEILLE_SECTORS]
    if ban.is_file() and all(s.is_file() for s in sectors):
        return ban, sectors, "marseille"
    geo = Settings().geo
    return geo.ban_file, list(geo.sector_files), "demo"


def bench_settings(
    data_dir: Path, address: str, ban: Path, sectors: list[Path], stt_concurrency: int
) -> Settings:
    base = demo_settings(Settings(), data_dir)
    return base.model_copy(
        update={
            "audio_dir": data_dir / "audio",
            "temporal": base.temporal.model_copy(update={"address": address}),
            "geo": base.geo.model_copy(
                update={"ban_file": ban.resolve(), "sector_files": [s.resolve() for s in sectors]}
            ),
            "sms": base.sms.model_copy(update={"inbox_path": data_dir / "sms-inbox.jsonl"}),
            "stt": base.stt.model_copy(update={"concurrency": stt_concurrency}),
        }
    )


def worker_env(s: Settings) -> dict[str, str]:
    """The settings the bench changed, as the ENCOMBOT_* variables a worker process reads
    (everything else it inherits from this process's environment and .env)."""
    env = dict(os.environ)
    env.update(
        {
            "ENCOMBOT_DATA_DIR": str(s.data_dir),
            "ENCOMBOT_AUDIO_DIR": str(s.audio_dir),
            "ENCOMBOT_TEMPORAL__ADDRESS": s.temporal.address,
            "ENCOMBOT_SMS__BACKEND": s.sms.backend,
            "ENCOMBOT_SMS__OUTBOX_PATH": str(s.sms.outbox_path),
            "ENCOMBOT_SMS__LEDGER_PATH": str(s.sms.ledger_path),
            "ENCOMBOT_SMS__INBOX_PATH": str(s.sms.inbox_path),
            "ENCOMBOT_BOOKING__DATABASE_URL": s.booking.database_url,
            "ENCOMBOT_GEO__BAN_FILE": str(s.geo.ban_file),
            "ENCOMBOT_GEO__SECTOR_FILES": json.dumps([str(p) for p in s.geo.sector_files]),
            "ENCOMBOT_STT__CONCURRENCY": str(s.stt.concurrency),
            "ENCOMBOT_METRICS__ENABLED": "false",
        }
    )
    return env


def encombot_cli() -> str:
    beside = Path(sys.executable).parent / "encombot"
    if not beside.exists():
        raise SystemExit(f"{beside} not found: install the project first (make install)")
    return str(beside)


# --------------------------------------------------------------------------- sampling


@dataclass
class ProcessStats:
    name: str
    pid: int
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # t, cpu_s, rss

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU and memory between two instants (monotonic seconds) of the run."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return {}
        cpu_s = inside[-1][1] - inside[0][1]
        wall = inside[-1][0] - inside[0][0]
        peaks = [
            (b[1] - a[1]) / (b[0] - a[0]) * 100
            for a, b in itertools.pairwise(inside)
            if b[0] > a[0]
        ]
        return {
            "cpu_s": round(cpu_s, 2),
            "cpu_mean_pct": round(cpu_s / wall * 100, 1) if wall > 0 else float("nan"),
            "cpu_peak_pct": round(max(peaks), 1) if peaks else float("nan"),
            "rss_peak_mib": round(max(s[2] for s in inside) / 2**20, 1),
        }


class Sampler:
    """CPU times and RSS of a few process trees, every `interval_s`, in a thread (regular
    sampling whatever the event loop is doing)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.stats: list[ProcessStats] = []
        self._procs: list[psutil.Process] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._procs.append(psutil.Process(pid))
            self.stats.append(ProcessStats(name, pid))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.sample()  # the last reading before the processes are stopped
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def sample(self) -> None:
        now = time.monotonic()
        with self._lock:
            for proc, stats in zip(self._procs, self.stats, strict=True):
                reading = _tree_reading(proc)
                if reading is not None:
                    stats.samples.append((now, *reading))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()


def _tree_reading(proc: psutil.Process) -> tuple[float, int] | None:
    try:
        tree = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return None
    cpu, rss = 0.0, 0
    for p in tree:
        try:
            times = p.cpu_times()
            cpu += times.user + times.system
            rss += p.memory_info().rss
        except psutil.Error:
            continue  # a child that just exited
    return cpu, rss


def dev_server_pid(server: DevServer) -> int:
    """The `temporal server start-dev` child of this process listening on the server's port."""
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if "start-dev" in cmdline and str(server.port) in cmdline:
            return child.pid
    raise RuntimeError("temporal dev server process not found")


# --------------------------------------------------------------------------- workers


@dataclass
class WorkerProcess:
    role: str
    proc: subprocess.Popen[bytes]
    log: Path

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"worker {self.role} exited ({self.proc.returncode}):\n{tail}")

    def stop(self, timeout_s: float = 60.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # drains, like docker stop
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_worker(role: str, env: dict[str, str], data_dir: Path) -> WorkerProcess:
    log = data_dir / f"worker-{role}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [encombot_cli(), "worker", "--role", role],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(role, proc, log)


async def pollers(client: Client, queue: str, kind: TaskQueueType.ValueType) -> int:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
        )
    )
    return len(response.pollers)


async def wait_ready(
    client: Client, s: Settings, workers: list[WorkerProcess], timeout_s: float
) -> None:
    """Until both roles poll their queues: the stt worker has loaded its model, the default
    one its gazetteer and sectors."""
    deadline = time.monotonic() + timeout_s
    wanted = [
        (s.temporal.stt_task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
        (s.temporal.task_queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        (s.temporal.task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    ]
    while True:
        for w in workers:
            w.check_alive()
        counts = [await pollers(client, q, k) for q, k in wanted]
        if all(counts):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers not polling after {timeout_s:.0f} s: {counts}")
        await asyncio.sleep(0.5)


# --------------------------------------------------------------------------- the backlog


@dataclass
class Submission:
    index: int
    message: Message
    call_id: str
    submitted: float = 0.0
    settled: float | None = None
    handle: WorkflowHandle[object, VoicemailResult] | None = None
    status: str = "unsettled"
    spans: list[dict[str, Any]] = field(default_factory=list)


async def submit_all(client: Client, s: Settings, subs: list[Submission]) -> None:
    async def one(sub: Submission) -> None:
        sub.submitted = time.monotonic()
        sub.handle, _ = await submit_voicemail(
            client,
            s,
            call_id=sub.call_id,
            audio_path=sub.message.audio,
            caller_number=sub.message.caller_number,
        )

    await asyncio.gather(*(one(sub) for sub in subs))


async def run_alone(
    client: Client,
    s: Settings,
    subs: list[Submission],
    workers: list[WorkerProcess],
    poll_s: float,
    timeout_s: float,
) -> None:
    """Each voicemail submitted only once the one before has settled: the latency of one
    message on an idle system (issue 15's "one 20-second voicemail alone")."""
    for sub in subs:
        await submit_all(client, s, [sub])
        await watch_settled(client, [sub], workers, poll_s, timeout_s)
        if sub.settled is None:
            # The next one would run beside it: the run is no longer one at a time.
            print(f"{sub.call_id} not settled after {timeout_s:.0f} s: stopping", file=sys.stderr)
            return


async def activity_spans(handle: WorkflowHandle[object, VoicemailResult]) -> list[dict[str, Any]]:
    """Each activity of a voicemail's history: its name, the seconds it waited in its queue
    (scheduled -> started) and ran (started -> closed), and when it was scheduled, counted
    from the workflow's start: where one message's end-to-end seconds go. A retried
    activity's wait includes its earlier attempts (the history keeps only the last start)."""
    history = await handle.fetch_history()
    t0: float | None = None
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    spans: list[dict[str, Any]] = []
    for event in history.events:
        t = event.event_time.ToDatetime(tzinfo=UTC).timestamp()
        if t0 is None:
            t0 = t
        if event.HasField("activity_task_scheduled_event_attributes"):
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, t)
        elif event.HasField("activity_task_started_event_attributes"):
            started[event.activity_task_started_event_attributes.scheduled_event_id] = t
        else:
            for attr in (
                "activity_task_completed_event_attributes",
                "activity_task_failed_event_attributes",
                "activity_task_timed_out_event_attributes",
                "activity_task_canceled_event_attributes",
            ):
                if event.HasField(attr):
                    sid = getattr(event, attr).scheduled_event_id
                    name, t_sched = scheduled[sid]
                    t_start = started.get(sid, t_sched)
                    spans.append(
                        {
                            "activity": name,
                            "at_s": round(t_sched - t0, 3),
                            "queued_s": round(t_start - t_sched, 3),
                            "ran_s": round(t - t_start, 3),
                            "outcome": attr.removeprefix("activity_task_").removesuffix(
                                "_event_attributes"
                            ),
                        }
                    )
    return spans


async def watch_settled(
    client: Client,
    subs: list[Submission],
    workers: list[WorkerProcess],
    poll_s: float,
    timeout_s: float,
) -> None:
    by_workflow = {sub.handle.id: sub for sub in subs if sub.handle is not None}
    parked = ", ".join(f"'{v}'" for v in SETTLED_STATUSES)
    query = (
        f"WorkflowType = '{VOICEMAIL_WORKFLOW}' AND (ExecutionStatus != 'Running' "
        f"OR {SA_STATUS} IN ({parked}))"
    )
    deadline = time.monotonic() + timeout_s
    pending = set(by_workflow)
    while pending and time.monotonic() < deadline:
        for w in workers:
            w.check_alive()
        now = time.monotonic()
        async for execution in client.list_workflows(query):
            sub = by_workflow.get(execution.id)
            if sub is not None and sub.settled is None:
                sub.settled = now
                pending.discard(execution.id)
        if pending:
            await asyncio.sleep(poll_s)


async def read_outcomes(subs: list[Submission]) -> None:
    """Each settled voicemail's outcome, named as the demo names it."""
    for sub in subs:
        if sub.settled is None or sub.handle is None:
            continue
        try:
            state, result = await wait_settled(sub.handle, timeout_s=10)
        except (RuntimeError, TimeoutError) as exc:
            sub.status = f"failed: {exc}"
            continue
        if result is not None:
            sub.status = result.status
        elif state.status == Status.WAITING_CALLER:
            sub.status = "waiting_caller"
        elif state.escalation is not None:
            sub.status = f"escalated: {state.escalation.reason}"
        else:
            sub.status = str(state.status)


def sms_keys(outbox: Path) -> set[str]:
    if not outbox.exists():
        return set()
    keys = set()
    for line in outbox.read_text(encoding="utf-8").splitlines():
        keys.add(str(json.loads(line).get("key", "")))
    return keys


async def run_backlog(args: argparse.Namespace) -> dict[str, Any]:
    messages = [m for m in load_messages(args.shared) if args.source in ("all", m.source)]
    if not messages:
        raise SystemExit("no voicemail audio found (corpus/demo, <shared>/voicemails)")
    ban, sectors, territory_name = territory(args.shared)
    subs = [
        Submission(i, messages[i % len(messages)], f"{messages[i % len(messages)].id}-b{i:04d}")
        for i in range(args.count)
    ]
    sampler = Sampler(args.sample_interval)
    workers: list[WorkerProcess] = []
    with tempfile.TemporaryDirectory(prefix="bench-backlog-") as tmp:
        data = Path(tmp)
        with DevServer(
            db_file=data / "temporal.sqlite", headless=True, log_file=data / "temporal.log"
        ) as server:
            s = bench_settings(data, server.address, ban, sectors, args.stt_concurrency)
            client = await connect(s)
            sampler.watch("dev_server", dev_server_pid(server))
            env = worker_env(s)
            t_spawn = time.monotonic()
            try:
                for role in ("stt", "default"):
                    w = start_worker(role, env, data)
                    workers.append(w)
                    sampler.watch(f"worker_{role}", w.proc.pid)
                sampler.start()
                await wait_ready(client, s, workers, args.startup_timeout)
                t_ready = time.monotonic()
                print(
                    f"workers ready in {t_ready - t_spawn:.1f} s; submitting {len(subs)} "
                    f"voicemails ({territory_name} territory)",
                    file=sys.stderr,
                )
                if args.alone:
                    await run_alone(client, s, subs, workers, args.poll, args.timeout)
                    t_submitted = time.monotonic()
                else:
                    await submit_all(client, s, subs)
                    t_submitted = time.monotonic()
                    await watch_settled(client, subs, workers, args.poll, args.timeout)
                t_done = time.monotonic()
                sampler.sample()
                await read_outcomes(subs)
                if args.alone:
                    for sub in subs:
                        if sub.handle is not None:
                            sub.spans = await activity_spans(sub.handle)
                sent = sms_keys(s.sms.outbox_path)
            finally:
                sampler.stop()
                exit_codes = {w.role: w.stop() for w in workers}
    t_first = min(sub.submitted for sub in subs)
    settled = [sub for sub in subs if sub.settled is not None]
    e2e = [sub.settled - sub.submitted for sub in settled if sub.settled is not None]
    t_last = max((sub.settled for sub in settled if sub.settled is not None), default=t_done)
    wall = t_last - t_first
    cores = psutil.cpu_count() or 1
    # What the stt worker resolves its threads to (activities/config.py: worker_threads).
    stt_resolved = worker_threads(s.stt, usable_cores())
    report: dict[str, Any] = {
        "machine": {
            "cpus": cores,
            "platform": platform.platform(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "config": {
            "count": args.count,
            "distinct_messages": len(messages),
            "sources": dict(Counter(m.source for m in messages)),
            "territory": territory_name,
            "ban_file": str(ban),
            "stt_concurrency": args.stt_concurrency or cores,
            "stt": {
                "compute_type": s.stt.compute_type,
                "beam_size": s.stt.beam_size,
                "vad_filter": s.stt.vad_filter,
                "cpu_threads": stt_resolved.cpu_threads,
                "num_workers": stt_resolved.num_workers,
                "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX", ""),
            },
            "poll_s": args.poll,
            "sample_interval_s": args.sample_interval,
        },
        "startup_s": round(t_ready - t_spawn, 2),
        "submit_s": round(t_submitted - t_first, 2),
        "total_wall_s": round(wall, 2),
        "settled": len(settled),
        "unsettled": len(subs) - len(settled),
        "throughput_per_hour": round(len(settled) / wall * 3600, 1) if wall > 0 else None,
        "e2e_s": {
            "p50": round(percentile(e2e, 0.50), 2),
            "p95": round(percentile(e2e, 0.95), 2),
            "max": round(max(e2e), 2) if e2e else None,
            "mean": round(statistics.mean(e2e), 2) if e2e else None,
        },
        "outcomes": dict(Counter(sub.status for sub in subs).most_common()),
        "sms_sent": sum(
            1
            for sub in subs
            if sub.handle is not None and any(k.startswith(sub.handle.id) for k in sent)
        ),
        "processes": {
            st.name: {
                "startup": st.window(t_spawn, t_ready),
                "backlog": st.window(t_first, t_last + args.sample_interval),
            }
            for st in sampler.stats
        },
        "worker_exit_codes": exit_codes,
        "per_voicemail": [
            {
                "call_id": sub.call_id,
                "source": sub.message.source,
                "audio_s": sub.message.audio_s,
                "status": sub.status,
                "e2e_s": round(sub.settled - sub.submitted, 2) if sub.settled else None,
                **({"activities": sub.spans} if sub.spans else {}),
            }
            for sub in subs
        ],
    }
    if args.alone:
        report["alone"] = alone_summary(settled)
    return report


def alone_summary(settled: list[Submission]) -> dict[str, Any]:
    """One message at a time: end-to-end seconds of the messages of 15-25 s of audio (the
    issue's 20-second voicemail; those of all are the report's `e2e_s`), and each
    activity's mean queue and run time."""

    near_20 = [
        sub.settled - sub.submitted
        for sub in settled
        if sub.settled is not None and 15.0 <= (sub.message.audio_s or 0.0) <= 25.0
    ]
    by_activity: dict[str, list[dict[str, Any]]] = {}
    for sub in settled:
        for span in sub.spans:
            by_activity.setdefault(span["activity"], []).append(span)
    return {
        "e2e_15_25s_audio_s": {
            "count": len(near_20),
            "p50": round(percentile(near_20, 0.50), 2) if near_20 else None,
            "p95": round(percentile(near_20, 0.95), 2) if near_20 else None,
            "max": round(max(near_20), 2) if near_20 else None,
        },
        "activities": {
            name: {
                "count": len(spans),
                "queued_mean_s": round(statistics.mean(x["queued_s"] for x in spans), 3),
                "ran_mean_s": round(statistics.mean(x["ran_s"] for x in spans), 3),
                "ran_p50_s": round(percentile([x["ran_s"] for x in spans], 0.50), 3),
            }
            for name, spans in sorted(by_activity.items())
        },
    }


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    e2e = report["e2e_s"]
    print(
        f"{cfg['count']} voicemails ({cfg['distinct_messages']} distinct, {cfg['territory']} "
        f"territory), STT concurrency {cfg['stt_concurrency']}, {report['machine']['cpus']} CPUs"
    )
    print(
        f"startup {report['startup_s']} s; backlog {report['total_wall_s']} s wall, "
        f"{report['settled']} settled ({report['unsettled']} unsettled), "
        f"{report['throughput_per_hour']} voicemails/hour"
    )
    print(f"end-to-end p50 {e2e['p50']} s, p95 {e2e['p95']} s, max {e2e['max']} s")
    if "alone" in report:
        alone = report["alone"]
        row = alone["e2e_15_25s_audio_s"]
        if row["count"]:
            print(
                f"one at a time, 15-25 s of audio ({row['count']}): p50 {row['p50']} s, "
                f"p95 {row['p95']} s, max {row['max']} s"
            )
        print(f"{'activity':<28}{'count':>6}{'queued s':>10}{'ran s':>8}{'ran p50':>9}")
        for name, a in alone["activities"].items():
            print(
                f"{name:<28}{a['count']:>6}{a['queued_mean_s']:>10}{a['ran_mean_s']:>8}"
                f"{a['ran_p50_s']:>9}"
            )
    print("outcomes:")
    for status, n in report["outcomes"].items():
        print(f"  {n:5d}  {status}")
    print(f"SMS sent: {report['sms_sent']}")
    header = f"{'process':<16}{'phase':<9}{'cpu s':>9}{'mean %':>9}{'peak %':>9}{'RSS MiB':>10}"
    print(header)
    for name, phases in report["processes"].items():
        for phase, w in phases.items():
            if not w:
                continue
            print(
                f"{name:<16}{phase:<9}{w['cpu_s']:>9}{w['cpu_mean_pct']:>9}"
                f"{w['cpu_peak_pct']:>9}{w['rss_peak_mib']:>10}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="voicemails submitted at once")
    parser.add_argument("--out", type=Path, default=Path("var/bench-backlog.json"))
    parser.add_argument(
        "--stt-concurrency",
        type=int,
        default=0,
        help="transcriptions the stt worker runs at once (ENCOMBOT_STT__CONCURRENCY); 0: cores",
    )
    parser.add_argument(
        "--shared", type=Path, default=REPO.parent / "shared", help="development set, geodata"
    )
    parser.add_argument(
        "--alone",
        action="store_true",
        help="one voicemail at a time, each after the last settled (--count of them, each "
        "message once where --count allows), with each activity's times from the histories",
    )
    parser.add_argument(
        "--source",
        choices=("all", "demo", "dev"),
        default="all",
        help="the voicemails cycled: the demo set, the development set, or both",
    )
    parser.add_argument("--poll", type=float, default=0.5, help="visibility poll, seconds")
    parser.add_argument("--sample-interval", type=float, default=0.5, help="psutil, seconds")
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument(
        "--timeout", type=float, default=6 * 3600.0, help="give up on unsettled voicemails"
    )
    args = parser.parse_args()
    if args.count < 1 or args.stt_concurrency < 0:
        parser.error("--count must be >= 1 and --stt-concurrency >= 0")
    report = asyncio.run(run_backlog(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print_report(report)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
