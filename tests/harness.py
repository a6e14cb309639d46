"""The whole system as production runs it, for the resilience proofs (issue 9): a Temporal dev
server of its own (SQLite file, fixed port, so it can be stopped and restarted), the fake OVH
API (in this process, so it outlives every worker), a booking database, and `encombot worker`
**processes** configured through ENCOMBOT_* variables (workers/settings_env.py), so that a
test can SIGKILL them like an OOM killer or a lost host would.

Progress is read from Temporal visibility (status and the EncombotStatus search attribute),
never by querying the workflows: queries need a live worker, and the proofs kill them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from activities.messaging.ovh import ovh_tag
from corpus import DEMO_DIR
from domain.models import Status, VoicemailInput, VoicemailResult
from domain.names import VOICEMAIL_WORKFLOW
from tests.fakes.fake_ovh import FakeOvhApi
from workers.client import connect, submit_voicemail
from workers.dev.devserver import DevServer, free_port
from workers.settings import Settings
from workers.settings_env import settings_env

# The processes run the code of this checkout (not whatever the venv's `encombot` script was
# installed from): `python -m workers.cli.main` with the repository first on the path.
REPO = Path(__file__).resolve().parents[1]
ENCOMBOT = [sys.executable, "-m", "workers.cli.main"]
SETTLED_STATUSES = {Status.WAITING_AGENT.value, Status.WAITING_CALLER.value}
STATUS_KEY = "EncombotStatus"
REASON_KEY = "EscalationReason"


def system_settings(tmp: Path, *, temporal_address: str, database_url: str) -> Settings:
    """Defaults (demo territory, shared Whisper cache) with every file under `tmp`."""
    data = tmp / "var"
    base = Settings()
    return base.model_copy(
        update={
            "data_dir": data,
            "audio_dir": data / "audio",
            "temporal": base.temporal.model_copy(update={"address": temporal_address}),
            "geo": base.geo.model_copy(update={"cache_dir": data / "cache"}),
            "booking": base.booking.model_copy(update={"database_url": database_url}),
            "sms": base.sms.model_copy(
                update={
                    "outbox_path": data / "sms-outbox.jsonl",
                    "inbox_path": data / "sms-inbox.jsonl",
                    "ledger_path": data / "sms-ledger.sqlite",
                }
            ),
            # The nightly purge is not what these proofs are about.
            "retention": base.retention.model_copy(update={"schedule_enabled": False}),
        }
    )


def with_ovh(settings: Settings, fake: FakeOvhApi) -> Settings:
    return settings.model_copy(
        update={"sms": settings.sms.model_copy(update={"backend": "ovh", "ovh": fake.settings()})}
    )


def fresh_postgres_database(admin_url: str) -> str:
    """A new, empty database on the server of `admin_url`; returns its URL."""
    name = f"encombot_proof_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class WorkerProcess:
    """One `encombot worker --role ROLE` process (or another command: `args`, the line it
    prints when ready: `ready`)."""

    def __init__(
        self,
        settings: Settings,
        role: str,
        log_file: Path,
        *,
        args: list[str] | None = None,
        ready: str = "",
    ) -> None:
        self.settings = settings
        self.role = role
        self.log_file = log_file
        self.args = args or ["worker", "--role", role]
        self.ready = ready or f"worker {role}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, ready_timeout_s: float = 180.0) -> None:
        env = {**os.environ, **settings_env(self.settings)}
        env["COLUMNS"] = "200"  # rich wraps the ready line otherwise
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            [*ENCOMBOT, *self.args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.settings.data_dir.parent,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        ready = self.ready
        deadline = time.monotonic() + ready_timeout_s
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.args[0]} exited with {self.proc.returncode}: {self.tail()}"
                    )
                with self.log_file.open("rb") as f:
                    f.seek(offset)
                    if ready.encode() in f.read():
                        return
                time.sleep(0.2)
            raise TimeoutError(f"{ready} not ready: {self.tail()}")
        except BaseException:
            # Never leave a half-started worker behind (it has its own session group).
            self.stop(timeout_s=10)
            raise

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup, in-flight activities are simply lost."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            return None

    def tail(self, lines: int = 30) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Submitted:
    call_id: str
    workflow_id: str
    caller_number: str
    audio: Path | None = None
    text: str = ""  # a written request (SMS channel) instead of audio
    expected: str = ""  # booked | refused | answered | escalated
    submitted_at: float = field(default_factory=time.monotonic)


@dataclass
class Settled:
    workflow_id: str
    execution_status: WorkflowExecutionStatus
    status: str
    reason: str
    closed_at: float


# Every idempotency-key purpose of VoicemailWorkflow._send_sms.
SMS_PURPOSES = ("confirmation", "faq", "address_choice", "address_request", "ack")


def expected_statuses(item: Submitted) -> set[str]:
    if item.expected.startswith("booked"):
        return {"booked"}
    if item.expected in ("answered", "refused"):
        return {item.expected}
    return {"waiting_caller", "waiting_agent"}


def outcome_of(status: str) -> str:
    """The `Submitted.expected` value of a closing status."""
    if status in SETTLED_STATUSES:
        return "escalated"
    return status


# What each demo voicemail ends as on this machine with nothing failing, by audio file:
# computed once per session (reference_outcomes).
_REFERENCE: dict[str, str] = {}


async def reference_outcomes(tmp: Path) -> dict[str, str]:
    """The outcome of each demo voicemail with nothing failing, on a System of its own.

    A proof checks that faults change nothing but timing: every voicemail must end as it ends
    on the same machine without them. The demo's own ground truth is not that reference: how
    well Whisper hears a synthetic voice depends on the CPU instructions CTranslate2 picks
    (one demo message loses its "armoire" with AVX2 and keeps it with AVX-512), which is an
    accuracy question for `encombot eval`, not a resilience one."""
    if _REFERENCE:
        return dict(_REFERENCE)
    entries = demo_entries()
    async with System(tmp, ovh=False) as system:
        system.start_worker("all")
        batch = [
            Submitted(
                call_id=f"reference-{uuid.uuid4().hex[:6]}-{i}",
                workflow_id="",
                caller_number=mobile_number(900 + i),
                audio=DEMO_DIR / entry["audio"],
            )
            for i, entry in enumerate(entries)
        ]
        for item in batch:
            item.workflow_id = f"voicemail-{item.call_id}"
        await system.submit(batch)
        settled = await system.wait_settled([item.workflow_id for item in batch], 600)
        for item, entry in zip(batch, entries, strict=True):
            _REFERENCE[str(entry["audio"])] = outcome_of(settled[item.workflow_id].status)
    return dict(_REFERENCE)


def demo_entries() -> list[dict[str, Any]]:
    import json

    return list(json.loads((DEMO_DIR / "voicemails.json").read_text(encoding="utf-8")))


def demo_addresses(count: int) -> list[tuple[str, str, str]]:
    """`count` distinct (number, street, postcode) of the demo territory, spread over its
    streets and sectors."""
    import csv

    with (DEMO_DIR / "adresses-demo.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter=";") if not r["rep"]]
    step = max(1, len(rows) // max(count, 1))
    picked = rows[::step][:count]
    assert len(picked) == count, "not enough demo addresses"
    return [(r["numero"], r["nom_voie"], r["code_postal"]) for r in picked]


def mobile_number(i: int) -> str:
    return f"+3361{i:07d}"


class System:
    """`async with System(tmp, ...) as system:` starts the dev server and the fake OVH API;
    workers are started by the test (`system.start_worker("all")`)."""

    def __init__(
        self,
        tmp: Path,
        *,
        database_url: str | None = None,
        ovh: bool = True,
    ) -> None:
        self.tmp = tmp
        self.server = DevServer(
            db_file=tmp / "temporal.sqlite", log_file=tmp / "temporal-dev.log", port=free_port()
        )
        self.fake: FakeOvhApi | None = FakeOvhApi(first_id=1) if ovh else None
        self.database_url = database_url or f"sqlite:///{tmp / 'var' / 'bookings.sqlite'}"
        self.settings: Settings
        self.workers: list[WorkerProcess] = []
        self.client: Client

    async def __aenter__(self) -> System:
        self.server.start()
        try:
            settings = system_settings(
                self.tmp, temporal_address=self.server.address, database_url=self.database_url
            )
            if self.fake is not None:
                self.fake.start()
                settings = with_ovh(settings, self.fake)
            self.settings = settings
            self.client = await connect(settings)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.stop(timeout_s=30)
        self.server.stop()
        if self.fake is not None:
            self.fake.stop()

    def start_worker(self, role: str = "all", settings: Settings | None = None) -> WorkerProcess:
        worker = WorkerProcess(
            settings or self.settings, role, self.tmp / f"worker-{role}-{len(self.workers)}.log"
        )
        self.workers.append(worker)  # stopped on exit even if it never became ready
        worker.start()
        return worker

    def restart_server(self, down_s: float = 2.0) -> None:
        """Stop the dev server (its SQLite file stays) and start it again on the same ports."""
        self.server.stop()
        time.sleep(down_s)
        self.server.start()

    # ---------------------------------------------------------------- submitting

    async def submit_mixed_batch(
        self, count: int, tag: str, reference: dict[str, str]
    ) -> list[Submitted]:
        """Half voicemails (the demo WAVs in turn: transcription, FAQ, address by SMS), each
        expected to end as in `reference` (reference_outcomes), half written requests (the SMS
        channel) each at its own address of the demo territory, so that each of those makes a
        booking row of its own (a second request for an address already booked gets that
        booking back, by design)."""
        entries = demo_entries()
        addresses = demo_addresses(count)
        batch = []
        for i in range(count):
            item = Submitted(
                call_id=f"{tag}-{i:04d}",
                workflow_id=f"voicemail-{tag}-{i:04d}",
                caller_number=mobile_number(i),
            )
            if i % 2 == 0:
                entry = entries[(i // 2) % len(entries)]
                item.audio = DEMO_DIR / entry["audio"]
                item.expected = reference[str(entry["audio"])]
            else:
                number, street, postcode = addresses[i]
                item.text = (
                    f"Bonjour, je voudrais faire enlever un canapé et deux chaises. "
                    f"J'habite au {number} {street}, {postcode} Marseille. Merci."
                )
                item.expected = "booked"
            batch.append(item)
        await self.submit(batch)
        return batch

    async def submit(self, batch: list[Submitted]) -> None:
        async def one(item: Submitted) -> None:
            item.submitted_at = time.monotonic()
            if item.text:
                await self.client.start_workflow(
                    VOICEMAIL_WORKFLOW,
                    VoicemailInput(
                        call_id=item.call_id,
                        audio_path="",
                        caller_number=item.caller_number,
                        received_at=datetime.now(UTC).isoformat(),
                        stt_task_queue=self.settings.temporal.stt_task_queue,
                        text=item.text,
                        channel="sms",
                    ),
                    id=item.workflow_id,
                    task_queue=self.settings.temporal.task_queue,
                )
                return
            assert item.audio is not None
            _, started = await submit_voicemail(
                self.client,
                self.settings,
                call_id=item.call_id,
                audio_path=item.audio,
                caller_number=item.caller_number,
            )
            assert started, item.workflow_id

        # Bounded concurrency: a thousand simultaneous RPCs would only measure the client.
        gate = asyncio.Semaphore(32)

        async def gated(item: Submitted) -> None:
            async with gate:
                await one(item)

        await asyncio.gather(*(gated(item) for item in batch))

    # ---------------------------------------------------------------- progress

    async def snapshot(self, workflow_ids: Iterable[str]) -> dict[str, Settled]:
        """Settled workflows among `workflow_ids`, from visibility (no worker needed)."""
        wanted = set(workflow_ids)
        settled: dict[str, Settled] = {}
        async for wf in self.client.list_workflows("WorkflowType = 'VoicemailWorkflow'"):
            if wf.id not in wanted:
                continue
            attrs = wf.search_attributes
            status = str((attrs.get(STATUS_KEY) or [""])[0])
            reason = str((attrs.get(REASON_KEY) or [""])[0])
            running = wf.status == WorkflowExecutionStatus.RUNNING
            if running and status not in SETTLED_STATUSES:
                continue
            settled[wf.id] = Settled(
                wf.id,
                wf.status or WorkflowExecutionStatus.RUNNING,
                status,
                reason,
                time.monotonic(),
            )
        return settled

    async def wait_settled(
        self,
        workflow_ids: Iterable[str],
        timeout_s: float,
        *,
        until: int | None = None,
        poll_s: float = 2.0,
    ) -> dict[str, Settled]:
        """Until `until` (default: all) of the workflows are settled: completed, parked in the
        agent queue or waiting for the caller's SMS. Raises TimeoutError with the stragglers."""
        ids = list(workflow_ids)
        target = len(ids) if until is None else until
        deadline = time.monotonic() + timeout_s
        settled: dict[str, Settled] = {}
        while True:
            try:
                settled = await self.snapshot(ids)
            except Exception:  # the server may be restarting: visibility comes back with it
                await asyncio.sleep(poll_s)
                if time.monotonic() > deadline:
                    raise
                continue
            if len(settled) >= target:
                return settled
            if time.monotonic() > deadline:
                missing = sorted(set(ids) - set(settled))
                raise TimeoutError(
                    f"{len(missing)} not settled after {timeout_s:.0f} s: {missing[:10]}"
                )
            await asyncio.sleep(poll_s)

    async def results(self, batch: list[Submitted]) -> dict[str, VoicemailResult]:
        out = {}
        for item in batch:
            handle: WorkflowHandle[Any, VoicemailResult] = self.client.get_workflow_handle(
                item.workflow_id, result_type=VoicemailResult
            )
            desc = await handle.describe()
            if desc.status == WorkflowExecutionStatus.COMPLETED:
                out[item.workflow_id] = await handle.result()
        return out

    # ---------------------------------------------------------------- side effects

    def booking_rows(self) -> list[dict[str, Any]]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT call_id, reference, caller_number, status, address_key"
                        " FROM bookings"
                    )
                ).mappings()
                return [dict(row) for row in rows]
        finally:
            engine.dispose()

    def sms_jobs_by_tag(self) -> Counter[str]:
        assert self.fake is not None
        return Counter(job.tag for job in self.fake.jobs)

    async def check_outcomes(
        self,
        batch: list[Submitted],
        settled: dict[str, Settled],
    ) -> dict[str, int]:
        """The proofs' common end check, from the side effects (module docstring). Returns
        outcome counts for the report."""
        assert len(settled) == len(batch)
        broken = [
            s
            for s in settled.values()
            if s.execution_status
            not in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.RUNNING)
        ]
        assert not broken, broken[:5]
        wrong = [
            (item.workflow_id, item.expected, settled[item.workflow_id].status)
            for item in batch
            if settled[item.workflow_id].status not in expected_statuses(item)
        ]
        assert not wrong, wrong[:10]

        rows = self.booking_rows()
        by_call = Counter(row["call_id"] for row in rows)
        assert all(n == 1 for n in by_call.values()), "a call booked twice"
        booked_rows = [row for row in rows if row["status"] == "booked"]
        by_address = Counter(row["address_key"] for row in booked_rows)
        assert all(n == 1 for n in by_address.values()), "an address booked twice"
        references = {row["reference"] for row in rows}
        written = [item for item in batch if item.text]
        assert all(by_call[item.call_id] == 1 for item in written)
        booked_ids = {row["call_id"] for row in rows}
        assert booked_ids <= {item.call_id for item in batch if item.expected.startswith("booked")}

        results = await self.results(batch)
        tags = self.sms_jobs_by_tag()
        duplicates = [tag for tag, n in tags.items() if n > 1]
        assert not duplicates, f"{len(duplicates)} SMS sent twice"
        jobs = {job.tag: job for job in self.fake.jobs} if self.fake else {}
        for item in batch:
            sent = {p: ovh_tag(f"{item.workflow_id}:{p}") for p in SMS_PURPOSES}
            mine = [p for p, tag in sent.items() if tag in tags]
            # One SMS per case so far: the confirmation, the FAQ answer, the address choice or
            # the acknowledgement that a person takes over.
            assert len(mine) == 1, (item.workflow_id, mine)
            result = results.get(item.workflow_id)
            if result is not None and result.status == "booked":
                assert result.booking_reference in references
                assert mine == ["confirmation"]
                assert result.booking_reference in jobs[sent["confirmation"]].message
        return dict(Counter(s.status for s in settled.values()))
