"""POST /voicemails (workers/ingress/routes/voicemails.py, audio.py): safe storage,
idempotency by call id, the audio URL allow-list."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from temporalio.client import Client

from activities.speech.engine import SpeechEngine
from domain import names
from domain.models import EscalationReason, Status, VoicemailInput, VoicemailResult
from tests.workers.ingress.support import CALLER, missed, multipart, now_iso, post, wav_bytes
from tests.workflows.test_voicemail import running_worker
from workers.dev.demo import wait_settled
from workers.ingress.app import make_app
from workers.ingress.audio import audio_file_name
from workers.logs import PAYLOAD_LOGGERS, quiet_payload_loggers
from workers.settings import Settings


async def test_voicemail_upload_is_stored_safely_and_idempotent(
    api: httpx.AsyncClient, settings: Settings, client: Client
) -> None:
    call_id = f"vm-{uuid.uuid4().hex[:10]}"
    fields = {"call_id": call_id, "caller_id": CALLER, "received_at": now_iso()}
    body, kind = multipart(fields, wav_bytes(), filename="../../../etc/cron.d/evil")
    first = await post(api, "/voicemails", body, kind)
    assert first.status_code == 202, first.text
    assert first.json() == {
        "call_id": call_id,
        "workflow_id": names.voicemail_workflow_id(call_id),
        "created": True,
        "status_url": f"/calls/{call_id}",
    }
    stored = list(settings.audio_dir.iterdir())
    assert [p.name for p in stored] == [audio_file_name(call_id, ".wav")]
    assert stored[0].read_bytes() == wav_bytes()
    assert not (settings.audio_dir.parent / "etc").exists()

    # The telephony retries (another timestamp, same call): the same workflow, no new file.
    body, kind = multipart(fields, wav_bytes(0.3))
    again = await post(api, "/voicemails", body, kind)
    assert again.status_code == 202
    assert again.json()["workflow_id"] == first.json()["workflow_id"]
    assert again.json()["created"] is False
    assert len(list(settings.audio_dir.iterdir())) == 1
    desc = await client.get_workflow_handle(first.json()["workflow_id"]).describe()
    assert desc.run_id


@pytest.fixture
async def audio_host() -> AsyncIterator[str]:
    async def recording(_request: web.Request) -> web.Response:
        return web.Response(body=wav_bytes(), content_type="audio/wav")

    async def elsewhere(_request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data")

    app = web.Application()
    app.router.add_get("/vm.wav", recording)
    app.router.add_get("/redirect.wav", elsewhere)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_voicemail_by_url_only_from_an_allowed_host(
    client: Client, settings: Settings, audio_host: str, caplog: pytest.LogCaptureFixture
) -> None:
    # At DEBUG, with the process's logger set-up (httpx writes every URL at INFO).
    caplog.set_level(logging.DEBUG)
    levels = {name: logging.getLogger(name).level for name in PAYLOAD_LOGGERS}
    quiet_payload_loggers()
    try:
        await _fetch_by_url(client, settings, audio_host, caplog)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _fetch_by_url(
    client: Client, settings: Settings, audio_host: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = int(audio_host.rsplit(":", 1)[1])
    ingress = settings.ingress.model_copy(update={"audio_url_ports": [port]})
    settings = settings.model_copy(update={"ingress": ingress})
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app(settings, client=client)),
        base_url="http://ingress",
    )

    def by_url(url: str) -> dict[str, Any]:
        return {**missed(f"vm-{uuid.uuid4().hex[:10]}"), "audio_url": url}

    # A refused URL is never fetched nor worth a retry: the case starts without audio, its
    # reason code in the input, for a person to call back (next test).
    for url, reason in (
        ("http://localhost:1/vm.wav", "host"),  # not in the allow-list
        ("http://169.254.169.254/latest/meta-data", "host"),
        ("file:///etc/passwd", "scheme"),
        (f"ftp://127.0.0.1:{port}/vm.wav", "scheme"),
        (f"http://user:pw@127.0.0.1:{port}/vm.wav", "credentials"),
        ("http://127.0.0.1:99999/vm.wav", "invalid_url"),
        ("http://127.0.0.1/vm.wav", "port"),  # port 80: not listed
        # Redirects are not followed: an allowed host cannot bounce the server elsewhere.
        (f"{audio_host}/redirect.wav", "redirect"),
    ):
        response = await post(api, "/voicemails", by_url(url))
        assert response.status_code == 202, (url, response.text)
        inp = await started_input(client, response.json()["workflow_id"])
        assert (inp.audio_refused, inp.audio_path) == (reason, ""), url
    # Neither the URL nor its path reaches the logs: a reason code only (the test audio
    # host's own access log aside).
    assert "redirect.wav" not in _ours(caplog) and "169.254" not in _ours(caplog)

    ok = by_url(f"{audio_host}/vm.wav")
    response = await post(api, "/voicemails", ok)
    assert response.status_code == 202, response.text
    stored = settings.audio_dir / audio_file_name(ok["call_id"], ".wav")
    assert stored.read_bytes() == wav_bytes()
    await api.aclose()
    assert "vm.wav" not in _ours(caplog)


async def started_input(client: Client, workflow_id: str) -> VoicemailInput:
    """The input the case was started with (then ended: no worker serves this queue)."""
    handle = client.get_workflow_handle(workflow_id)
    async for event in handle.fetch_history_events():
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [inp] = await client.data_converter.decode(payloads, [VoicemailInput])
        await handle.terminate("test over")
        assert isinstance(inp, VoicemailInput)
        return inp
    raise AssertionError(f"no history for {workflow_id}")


def _ours(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp"))


async def test_a_refused_audio_url_is_a_case_for_a_person(
    client: Client, settings: Settings, stt: SpeechEngine
) -> None:
    """A URL the policy refuses (here the cloud metadata address, listed by mistake) is the
    message's problem: never fetched, never retried (202), and the caller is not lost: the
    case waits for a person with the reason code, without the URL."""
    ingress = settings.ingress.model_copy(
        update={"audio_url_hosts": ["169.254.169.254"], "audio_url_ports": [80]}
    )
    settings = settings.model_copy(update={"ingress": ingress})
    body = {
        **missed(f"vm-{uuid.uuid4().hex[:10]}"),
        "audio_url": "http://169.254.169.254/latest/meta-data",
    }
    async with (
        running_worker(client, settings, stt),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_app(settings, client=client)),
            base_url="http://ingress",
        ) as api,
    ):
        response = await post(api, "/voicemails", body)
        assert response.status_code == 202, response.text
        assert response.json()["created"] is True
        handle = client.get_workflow_handle(
            response.json()["workflow_id"], result_type=VoicemailResult
        )
        state, result = await wait_settled(handle, 60, caller_wait_settles=False)
        assert result is None and state.status == Status.WAITING_AGENT
        assert state.escalation is not None
        assert state.escalation.reason == EscalationReason.AUDIO_UNUSABLE
        assert "(non_public_address)" in state.escalation.detail
        assert "169.254" not in state.escalation.detail
        await handle.terminate("test over")
    # Nothing was stored: there was nothing to store.
    assert not settings.audio_dir.exists() or not any(settings.audio_dir.iterdir())
