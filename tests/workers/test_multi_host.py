"""The multi-host proof (issue 23, slow): "hosts" that share no disk — the ingress, one
`worker` and two `worker-stt` processes, each with a data directory of its own — and see only
Temporal, the service database (PostgreSQL when reachable) and the object store (a real
SeaweedFS). Voicemails arrive through the signed ingress, whose audio goes to the store sealed;
one STT host is killed mid-batch; every case settles, none is lost, no call is booked twice, no
SMS goes twice, and no host kept a voicemail on its disk."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from activities.messaging.ovh import ovh_tag
from corpus import DEMO_DIR
from domain import names
from domain.webhook_signature import signed_headers
from tests.activities.audio_store.conftest import S3Server, s3_server  # noqa: F401 - fixture
from tests.conftest import postgres_url
from tests.harness import (
    SMS_PURPOSES,
    Submitted,
    System,
    demo_entries,
    drop_postgres_database,
    mobile_number,
)
from tests.workers.ingress.support import multipart, now_iso
from tests.workers.test_resilience import report
from tests.workers.test_robustness import (
    broken_workflows,
    database_or_sqlite,
    second_host,
    shared,
)
from workers.ingress.serving import RunningIngress
from workers.settings import Settings

pytestmark = pytest.mark.slow

INGRESS_SECRET = "multi-host-ingress-secret-0123456789abcdef"
COUNT = 12


def with_store(settings: Settings, server: S3Server) -> Settings:
    store = settings.audio_store.model_copy(
        update={
            "backend": "s3",
            "s3_endpoint": server.endpoint,
            "s3_bucket": server.bucket,
            "s3_access_key": SecretStr(server.access_key),
            "s3_secret_key": SecretStr(server.secret_key),
            "s3_secure": False,
        }
    )
    ingress = settings.ingress.model_copy(update={"secret": SecretStr(INGRESS_SECRET)})
    return settings.model_copy(update={"audio_store": store, "ingress": ingress})


async def test_hosts_sharing_only_temporal_the_database_and_the_object_store(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811 - the fixture imported above
) -> None:
    database, on_postgres = database_or_sqlite(tmp_path)
    started = time.monotonic()
    try:
        async with System(tmp_path, database_url=database) as system:
            assert system.fake is not None
            base = with_store(shared(system.settings), s3_server)
            system.settings = base
            system.start_worker("default", settings=second_host(base, tmp_path, "host-cases"))
            stt_a = system.start_worker("stt", settings=second_host(base, tmp_path, "host-stt-a"))
            system.start_worker("stt", settings=second_host(base, tmp_path, "host-stt-b"))
            edge = second_host(base, tmp_path, "host-edge")
            entries = demo_entries()
            tag = f"mh-{uuid.uuid4().hex[:6]}"
            batch = [
                Submitted(
                    call_id=f"{tag}-{i:02d}",
                    workflow_id=names.voicemail_workflow_id(f"{tag}-{i:02d}"),
                    caller_number=mobile_number(700 + i),
                    audio=DEMO_DIR / entries[i % len(entries)]["audio"],
                )
                for i in range(COUNT)
            ]
            with RunningIngress(edge) as ingress:
                async with httpx.AsyncClient(base_url=ingress.url, timeout=60) as api:
                    for item in batch:
                        assert item.audio is not None
                        fields = {
                            "call_id": item.call_id,
                            "caller_id": item.caller_number,
                            "received_at": now_iso(),
                        }
                        body, kind = multipart(fields, item.audio.read_bytes())
                        headers = {"Content-Type": kind}
                        headers |= signed_headers(
                            INGRESS_SECRET.encode(),
                            body,
                            time.time(),
                            method="POST",
                            path="/voicemails",
                        )
                        response = await api.post("/voicemails", content=body, headers=headers)
                        assert response.status_code == 202, response.text
            # One STT host dies mid-batch (SIGKILL: its activities are simply lost).
            await system.wait_settled([item.workflow_id for item in batch], 900, until=2)
            stt_a.kill()
            settled = await system.wait_settled([item.workflow_id for item in batch], 900)

            assert await broken_workflows(system) == []
            rows = system.booking_rows()
            by_call = Counter(row["call_id"] for row in rows)
            assert all(n == 1 for n in by_call.values()), "a call booked twice"
            tags = system.sms_jobs_by_tag()
            assert not [t for t, n in tags.items() if n > 1], "an SMS sent twice"
            for item in batch:
                mine = [p for p in SMS_PURPOSES if ovh_tag(f"{item.workflow_id}:{p}") in tags]
                assert len(mine) == 1, (item.workflow_id, mine)
            # The voices went to the store, sealed; no host kept one.
            objects = list(
                s3_server.client().list_objects(  # type: ignore[attr-defined]
                    s3_server.bucket, prefix="voicemails/", recursive=True
                )
            )
            assert len(objects) >= len({item.call_id for item in batch})
            for name in ("host-cases", "host-stt-a", "host-stt-b", "host-edge"):
                audio = tmp_path / name / "var" / "audio"
                assert not (audio.exists() and any(audio.rglob("*.*"))), name
                cache = tmp_path / name / "var" / "cache" / "audio"
                if name != "host-stt-a":  # killed mid-activity: its private copy may remain
                    assert not (cache.exists() and any(cache.iterdir())), name
            report(
                "multi_host",
                voicemails=len(batch),
                postgres=on_postgres,
                outcomes=dict(Counter(s.status for s in settled.values())),
                bookings=len(rows),
                sms=len(system.fake.jobs),
                seconds=round(time.monotonic() - started, 1),
            )
    finally:
        if on_postgres:
            drop_postgres_database(postgres_url(), database)
