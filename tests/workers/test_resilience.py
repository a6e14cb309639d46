"""Resilience proofs of issue 9, on the real system: worker processes killed with SIGKILL, the
Temporal server restarted, PostgreSQL and OVH down. Slow (minutes each): marked `slow`, run by
`make test-slow`, which `.ci/run` runs after `make test`.

What every proof checks at the end, from the side effects rather than from the workflows' own
word: every message settled (booked, answered, or waiting for a person or the caller), never
failed; one booking row per booked call and none for the others; the SMS counted on the fake
OVH API — exactly one per (number, text), the booked caller's one carrying the reference of
their row.

Durations can be shortened for a local run (`ENCOMBOT_PROOF_PG_DOWN_S=10
ENCOMBOT_PROOF_OVH_DOWN_S=180`: not under 180 s, since a case for a person enters the agent
queue a minute after its acknowledgement SMS fails, and was seen there 106 s into the outage);
CI runs the issue's figures (1 minute, 10 minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from domain import names
from tests.conftest import ARTIFACTS, postgres_url
from tests.fakes.tcp_proxy import TcpProxy
from tests.harness import (
    System,
    drop_postgres_database,
    fresh_postgres_database,
    reference_outcomes,
)
from workflows.common import PATIENT_RETRY

pytestmark = [
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="function"),
    pytest.mark.timeout(2700),
]

PG_DOWN_S = float(os.environ.get("ENCOMBOT_PROOF_PG_DOWN_S", "60"))
OVH_DOWN_S = float(os.environ.get("ENCOMBOT_PROOF_OVH_DOWN_S", "600"))
# The agent-queue check must hold with OVH still down: it ends this long before OVH returns.
OVH_MARGIN_S = 5.0
# Shorter OVH outages cannot show a case for a person in the queue while OVH is down.
MIN_OVH_DOWN_S = 180.0


def attempts_within(seconds: float) -> int:
    """Attempts PATIENT_RETRY makes in `seconds` against a dependency that fails at once."""
    interval = PATIENT_RETRY.initial_interval.total_seconds()
    cap = PATIENT_RETRY.maximum_interval
    assert cap is not None
    elapsed, attempts = 0.0, 1
    while elapsed + interval <= seconds:
        elapsed += interval
        attempts += 1
        interval = min(interval * PATIENT_RETRY.backoff_coefficient, cap.total_seconds())
    return attempts


async def pending_attempts(
    system: System, workflow_ids: list[str], activity: str
) -> dict[str, int]:
    """Current attempt number of the pending `activity` of each workflow that has one."""
    out = {}
    for workflow_id in workflow_ids:
        desc = await system.client.get_workflow_handle(workflow_id).describe()
        for pending in desc.raw_description.pending_activities:
            if pending.activity_type.name == activity:
                out[workflow_id] = pending.attempt
    return out


def report(name: str, **figures: object) -> None:
    """What the proof measured, for the closing note (tests/artifacts/, not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"resilience-{name}.json").write_text(json.dumps(figures, indent=1))
    print(name, figures)


def _postgres_or_skip() -> str:
    admin = postgres_url()
    try:
        url = fresh_postgres_database(admin)
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {admin}: {exc}")
    return url


async def test_worker_killed_twice_with_100_in_flight(tmp_path: Path) -> None:
    database = _postgres_or_skip()
    reference = await reference_outcomes(tmp_path / "reference")
    try:
        async with System(tmp_path, database_url=database) as system:
            worker = system.start_worker("all")
            batch = await system.submit_mixed_batch(100, f"crash-{uuid.uuid4().hex[:6]}", reference)
            ids = [item.workflow_id for item in batch]
            started = time.monotonic()
            for done in (15, 45):
                await system.wait_settled(ids, 900, until=done, poll_s=0.5)
                worker.kill()
                worker.start()
            settled = await system.wait_settled(ids, 1500)
            elapsed = time.monotonic() - started
            assert worker.starts == 3 and worker.alive
            outcomes = await system.check_outcomes(batch, settled)
            report(
                "worker_killed",
                messages=len(batch),
                kills=2,
                settled_s=round(elapsed, 1),
                outcomes=outcomes,
                booking_rows=len(system.booking_rows()),
                sms_sent=len(system.fake.jobs) if system.fake else 0,
            )
    finally:
        drop_postgres_database(postgres_url(), database)


async def test_server_restarted_mid_batch(tmp_path: Path) -> None:
    reference = await reference_outcomes(tmp_path / "reference")
    async with System(tmp_path) as system:
        worker = system.start_worker("all")
        batch = await system.submit_mixed_batch(30, f"restart-{uuid.uuid4().hex[:6]}", reference)
        ids = [item.workflow_id for item in batch]
        started = time.monotonic()
        await system.wait_settled(ids, 600, until=6, poll_s=0.5)
        before = len(await system.snapshot(ids))
        system.restart_server(down_s=5)
        settled = await system.wait_settled(ids, 900)
        # The worker process rode out the server's absence on its own (no restart).
        assert worker.starts == 1 and worker.alive
        assert before < len(batch)
        outcomes = await system.check_outcomes(batch, settled)
        # SIGTERM drains and exits cleanly, after all this (no abort at interpreter exit).
        assert worker.stop() == 0, worker.tail()
        report(
            "server_restarted",
            messages=len(batch),
            settled_before_restart=before,
            settled_s=round(time.monotonic() - started, 1),
            outcomes=outcomes,
        )


async def test_postgres_and_ovh_down(tmp_path: Path) -> None:
    if OVH_DOWN_S < MIN_OVH_DOWN_S:
        pytest.fail(
            f"ENCOMBOT_PROOF_OVH_DOWN_S={OVH_DOWN_S:.0f}: at least {MIN_OVH_DOWN_S:.0f} s, "
            "or no case for a person can reach the agent queue while OVH is down"
        )
    database = _postgres_or_skip()
    reference = await reference_outcomes(tmp_path / "reference")
    host, _ = database.split("@", 1)[1].split("/", 1)
    pg_host, pg_port = host.split(":")
    try:
        with TcpProxy((pg_host, int(pg_port))) as proxy:
            proxied = database.replace(f"@{host}/", f"@127.0.0.1:{proxy.port}/")
            async with System(tmp_path, database_url=proxied) as system:
                assert system.fake is not None
                worker = system.start_worker("all")
                # Both dependencies go away before the batch arrives: every booking and every
                # SMS has to wait for them.
                system.fake.outage_status = 500
                proxy.down()
                outage_start = time.monotonic()
                batch = await system.submit_mixed_batch(
                    12, f"deps-{uuid.uuid4().hex[:6]}", reference
                )
                ids = [item.workflow_id for item in batch]
                await asyncio.sleep(max(0.0, PG_DOWN_S - (time.monotonic() - outage_start)))
                # Nothing can be booked, answered or offered without the database and SMS;
                # only a case for a person may already wait in the agent queue (it enters it
                # after a minute without its acknowledgement SMS, which goes on trying).
                early = await system.snapshot(ids)
                assert all(s.status == "waiting_agent" for s in early.values()), early
                proxy.up()
                # The cases for a person reach the agent queue while OVH is still down,
                # whatever path they took (an address offered by SMS included: that SMS is
                # given up after CHOICE_SMS_WAIT). Waited for, with the outage as the bound,
                # rather than read at one moment that depends on the machine's speed.
                for_agent = [item.workflow_id for item in batch if item.expected == "escalated"]
                assert for_agent
                left = OVH_DOWN_S - (time.monotonic() - outage_start) - OVH_MARGIN_S
                queued = await system.wait_settled(for_agent, max(left, 0.0), poll_s=1.0)
                queued_after_s = time.monotonic() - outage_start
                assert all(s.status == "waiting_agent" for s in queued.values()), queued
                await asyncio.sleep(max(0.0, OVH_DOWN_S - (time.monotonic() - outage_start)))
                sends = await pending_attempts(system, ids, names.SEND_SMS)
                assert not system.fake.jobs  # nothing got through while OVH was down
                system.fake.outage_status = None
                back = time.monotonic()
                settled = await system.wait_settled(ids, 600)
                assert worker.starts == 1 and worker.alive
                outcomes = await system.check_outcomes(batch, settled)
                # Backoff, not a retry storm: each SMS was retried (it did not give up) about
                # as often as PATIENT_RETRY's doubling intervals allow in the outage, no more.
                assert set(sends) == set(ids)  # every case still trying its SMS
                bound = attempts_within(OVH_DOWN_S) + 2
                assert all(2 <= n <= bound for n in sends.values()), (sends, bound)
                report(
                    "dependencies_down",
                    messages=len(batch),
                    postgres_down_s=PG_DOWN_S,
                    ovh_down_s=OVH_DOWN_S,
                    sms_attempts_during_outage=sorted(sends.values()),
                    agent_queue_reached_s=round(queued_after_s, 1),
                    attempts_bound=bound,
                    settled_after_ovh_back_s=round(time.monotonic() - back, 1),
                    outcomes=outcomes,
                )
    finally:
        drop_postgres_database(postgres_url(), database)
