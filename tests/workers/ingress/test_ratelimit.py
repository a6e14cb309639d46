"""GET /calls/{call_id} rate-limited per client, X-Forwarded-For honoured only from trusted
proxies (issue 17, defect 6)."""

from __future__ import annotations

import httpx
from temporalio.client import Client

from workers.ingress.app import make_app
from workers.ingress.ratelimit import RateLimiter
from workers.settings import Settings


def _api(settings: Settings, client: Client, **ingress: object) -> httpx.AsyncClient:
    changed = settings.model_copy(update={"ingress": settings.ingress.model_copy(update=ingress)})
    transport = httpx.ASGITransport(app=make_app(changed, client=client))
    return httpx.AsyncClient(transport=transport, base_url="http://ingress")


async def test_unknown_ids_beyond_the_burst_are_429(client: Client, settings: Settings) -> None:
    async with _api(settings, client, calls_burst=3, calls_rate_per_s=0.001) as api:
        codes = [(await api.get(f"/calls/unknown-{i:04d}")).status_code for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]


async def test_forwarded_for_only_from_a_trusted_proxy(client: Client, settings: Settings) -> None:
    spoof = {"X-Forwarded-For": "203.0.113.9"}
    async with _api(settings, client, calls_burst=1, calls_rate_per_s=0.001) as api:
        assert (await api.get("/calls/unknown-0001", headers=spoof)).status_code == 404
        # Untrusted peer: a new X-Forwarded-For is no new client.
        other = {"X-Forwarded-For": "203.0.113.10"}
        assert (await api.get("/calls/unknown-0002", headers=other)).status_code == 429
    async with _api(
        settings,
        client,
        calls_burst=1,
        calls_rate_per_s=0.001,
        forwarded_allow_ips=["127.0.0.0/8"],
    ) as api:
        assert (await api.get("/calls/unknown-0001", headers=spoof)).status_code == 404
        other = {"X-Forwarded-For": "203.0.113.10"}
        assert (await api.get("/calls/unknown-0002", headers=other)).status_code == 404
        assert (await api.get("/calls/unknown-0003", headers=other)).status_code == 429


def test_bucket_refills() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2)
    assert limiter.allow("a", 0.0) and limiter.allow("a", 0.0)
    assert not limiter.allow("a", 0.5)
    assert limiter.allow("a", 1.6)
