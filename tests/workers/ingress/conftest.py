"""The ingress (workers/ingress/) on the session's Temporal dev server, over ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from tests.workers.ingress.support import OLD_SECRET, PHONE_SECRET, SECRET
from workers.ingress.app import make_app
from workers.settings import Settings


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    queue = f"in-{uuid.uuid4().hex[:8]}"
    return base_settings.model_copy(
        update={
            "data_dir": tmp_path,
            "audio_dir": tmp_path / "audio",
            "temporal": base_settings.temporal.model_copy(
                update={"task_queue": queue, "stt_task_queue": f"{queue}-stt"}
            ),
            "booking": base_settings.booking.model_copy(
                update={"database_url": f"sqlite:///{tmp_path / 'bookings.sqlite'}"}
            ),
            "sms": base_settings.sms.model_copy(
                update={
                    "outbox_path": tmp_path / "outbox.jsonl",
                    "ledger_path": tmp_path / "ledger.sqlite",
                    "phone_key_secret": SecretStr(PHONE_SECRET),
                }
            ),
            "ingress": base_settings.ingress.model_copy(
                update={
                    "secret": SecretStr(SECRET),
                    "previous_secrets": [SecretStr(OLD_SECRET)],
                    "max_body_bytes": 256 * 1024,
                    "max_json_bytes": 8 * 1024,
                    "audio_url_hosts": ["127.0.0.1"],
                    "audio_url_schemes": ["http"],
                    # The loopback test servers stand for an on-premises PBX.
                    "audio_url_allow_networks": ["127.0.0.1/32"],
                    "audio_fetch_timeout_s": 5.0,
                }
            ),
        }
    )


@pytest.fixture
async def api(client: Client, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(settings, client=client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingress"
    ) as http:
        yield http
