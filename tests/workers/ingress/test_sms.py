"""POST /sms/incoming (workers/ingress/routes/sms.py)."""

from __future__ import annotations

import time
import uuid

import httpx

from domain import names
from tests.workers.ingress.support import post


async def test_incoming_sms_without_a_case_is_kept_for_an_agent(api: httpx.AsyncClient) -> None:
    message_id = f"sms-{uuid.uuid4().hex[:8]}"
    body = {"message_id": message_id, "sender": "+33699887766", "text": "Bonjour"}
    response = await post(api, "/sms/incoming", body)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "message_id": message_id,
        "outcome": "kept_for_agent",
        "workflow_id": names.incoming_sms_workflow_id(message_id),
    }
    # A retry is signed anew (the same signature twice is a replay: 409).
    again = await post(api, "/sms/incoming", body, at=time.time() + 1)
    assert again.json()["workflow_id"] == response.json()["workflow_id"]
