"""The ingress's own metrics (workers/ingress/app.py CountRequests, the 401 handler): requests
by route template and status, signature failures by reason — labels that never hold an id."""

from __future__ import annotations

import time
import uuid

import httpx
from prometheus_client import CollectorRegistry
from temporalio.client import Client

from domain.webhook_signature import signed_headers
from tests.workers.ingress.support import (
    CALLER,
    SECRET,
    missed,
    multipart,
    now_iso,
    post,
    wav_bytes,
)
from workers.ingress.app import make_app
from workers.metrics import Metrics
from workers.settings import Settings


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_requests_and_signature_failures_are_counted(
    client: Client, settings: Settings
) -> None:
    metrics = Metrics(CollectorRegistry())
    app = make_app(settings, client=client, metrics=metrics)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as api:
        call_id = f"vm-{uuid.uuid4().hex[:10]}"
        fields = {"call_id": call_id, "caller_id": CALLER, "received_at": now_iso()}
        body, kind = multipart(fields, wav_bytes())
        assert (await post(api, "/voicemails", body, kind)).status_code == 202
        assert (await post(api, "/missed-calls", missed(), secret=None)).status_code == 401
        stale = time.time() - 3600
        assert (await post(api, "/missed-calls", missed(), at=stale)).status_code == 401
        assert (await post(api, "/missed-calls", missed(), secret="wrong")).status_code == 401
        assert (await api.get(f"/calls/{call_id}")).status_code == 200
        headers = signed_headers(
            SECRET.encode(), b"", time.time(), method="GET", path="/calls/unknown-0001"
        )
        assert (await api.get("/calls/unknown-0001", headers=headers)).status_code == 404
        assert (await api.get("/nowhere")).status_code == 404

    assert value(metrics, "encombot_ingress_requests_total", route="/voicemails", status="202")
    assert (
        value(metrics, "encombot_ingress_requests_total", route="/missed-calls", status="401") == 3
    )
    # The route's template, never the call id it was asked for.
    calls = "/calls/{call_id}"
    assert value(metrics, "encombot_ingress_requests_total", route=calls, status="200") == 1
    assert value(metrics, "encombot_ingress_requests_total", route=calls, status="404") == 1
    assert value(metrics, "encombot_ingress_requests_total", route="unmatched", status="404") == 1
    for reason in ("missing", "stale", "invalid"):
        assert value(metrics, "encombot_ingress_signature_failures_total", reason=reason) == 1
    exposed = metrics.render().decode()
    assert call_id not in exposed and "unknown-0001" not in exposed
