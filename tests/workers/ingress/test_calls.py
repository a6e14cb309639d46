"""GET /calls/{call_id} (workers/ingress/routes/calls.py, call_status.py): public without
personal data, the outcome for a signed request."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from domain import names
from domain.missed_call_models import MISSED_CALL_WORKFLOW, SA_CALL_IDS, MissedCallInput
from domain.webhook_signature import signed_headers
from tests.workers.ingress.support import (
    CALLER,
    SECRET,
    ensure_search_attributes,
    missed,
    multipart,
    now_iso,
    post,
    wav_bytes,
)
from workers.ingress.app import make_app
from workers.settings import Settings


async def test_call_status_public_and_signed(api: httpx.AsyncClient) -> None:
    call_id = f"vm-{uuid.uuid4().hex[:10]}"
    fields = {"call_id": call_id, "caller_id": CALLER, "received_at": now_iso()}
    body, kind = multipart(fields, wav_bytes())
    assert (await post(api, "/voicemails", body, kind)).status_code == 202

    public = await api.get(f"/calls/{call_id}")
    assert public.status_code == 200
    assert public.json() == {
        "call_id": call_id,
        "kind": "voicemail",
        "status": public.json()["status"],
        "running": True,
    }
    path = f"/calls/{call_id}"
    headers = signed_headers(SECRET.encode(), b"", time.time(), method="GET", path=path)
    signed = await api.get(path, headers=headers)
    assert signed.status_code == 200
    assert signed.json()["detail"]["workflow_id"] == names.voicemail_workflow_id(call_id)
    # Polling is a read: the same signed GET again is answered.
    assert (await api.get(path, headers=headers)).status_code == 200
    # A GET signed for one call id is no key to another (v1 signed only the empty body).
    other = await api.get("/calls/c-someone-else", headers=headers)
    assert other.status_code == 401 and other.json()["detail"] == "signature invalide"
    bad = await api.get(
        path, headers=signed_headers(b"nope", b"", time.time(), method="GET", path=path)
    )
    assert bad.status_code == 401
    assert (await api.get("/calls/unknown-call-0000")).status_code == 404
    assert (await api.get("/calls/%27%20OR%201%3D1")).status_code == 422


class TemporalCalls:
    """Counts the workflow service's List (visibility) and Describe calls of a client."""

    def __init__(self, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        service = client.workflow_service
        for name in ("list_workflow_executions", "describe_workflow_execution"):
            monkeypatch.setattr(service, name, self._counting(name, getattr(service, name)))

    def _counting(self, name: str, call: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] += 1
            return await call(*args, **kwargs)

        return counted


async def test_unknown_ids_cost_no_visibility_query(
    client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: each unknown id cost a describe and a List (100 ids: 100 + 100, ~10 visibility
    queries a second per namespace). Now a describe of the voicemail id and a row read."""
    await ensure_search_attributes(client)
    ingress = settings.ingress.model_copy(update={"calls_burst": 1000})
    app = make_app(settings.model_copy(update={"ingress": ingress}), client=client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingress"
    ) as api:
        number = f"+3361{uuid.uuid4().int % 10**7:07d}"
        accepted = await post(api, "/missed-calls", missed(caller=number))
        assert accepted.status_code == 202, accepted.text
        withheld = await post(api, "/missed-calls", missed(caller="anonymous"))
        calls = TemporalCalls(client, monkeypatch)
        codes = Counter(
            [(await api.get(f"/calls/unknown-{i:04d}")).status_code for i in range(100)]
        )
        assert codes == {404: 100}
        assert calls.counts == {"describe_workflow_execution": 100}

        # A known missed call (joined by number, or withheld) is found by its id, no List.
        calls.counts.clear()
        for response in (accepted, withheld):
            found = await api.get(f"/calls/{response.json()['call_id']}")
            assert found.status_code == 200, found.text
            assert found.json()["kind"] == "missed_call"
        assert calls.counts["list_workflow_executions"] == 0
        path = f"/calls/{accepted.json()['call_id']}"
        headers = signed_headers(SECRET.encode(), b"", time.time(), method="GET", path=path)
        detail = (await api.get(path, headers=headers)).json()["detail"]
        assert detail["workflow_id"] == accepted.json()["workflow_id"]
        assert calls.counts["list_workflow_executions"] == 0


async def test_the_visibility_fallback_finds_calls_the_index_lacks(
    client: Client, settings: Settings
) -> None:
    """Migration: a case started before the index existed (no row for its calls) is found
    through visibility only when the fallback is on."""
    await ensure_search_attributes(client)
    call_id = f"mc-{uuid.uuid4().hex[:10]}"
    # Such a case as the index never saw it: its calls in the CallIds search attribute.
    legacy = await client.start_workflow(
        MISSED_CALL_WORKFLOW,
        MissedCallInput(call_id=call_id, caller_number="", received_at=now_iso()),
        id=f"missed-call-legacy-{call_id}",
        task_queue=f"nobody-{uuid.uuid4().hex[:6]}",
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(SearchAttributeKey.for_keyword_list(SA_CALL_IDS), [call_id])]
        ),
    )
    for fallback, expected in ((False, 404), (True, 200)):
        ingress = settings.ingress.model_copy(
            update={"calls_visibility_fallback": fallback, "calls_burst": 1000}
        )
        app = make_app(settings.model_copy(update={"ingress": ingress}), client=client)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingress"
        ) as api:
            # Visibility is eventually consistent: the fresh case may take a moment to show.
            for _ in range(50):
                response = await api.get(f"/calls/{call_id}")
                if response.status_code == expected or not fallback:
                    break
                await asyncio.sleep(0.2)
            assert response.status_code == expected, fallback
    assert response.json()["kind"] == "missed_call"
    await legacy.terminate("test over")
