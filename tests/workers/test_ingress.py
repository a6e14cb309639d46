"""The telephony ingress (workers/ingress/app.py) against the session's Temporal dev server: the
signature and its replay window, size, media type and content checks, idempotency by call id,
safe audio storage, the audio URL allow-list, the call status without personal data, and a
missed call that ends booked through an SMS reply (POST /missed-calls → invitation SMS →
POST /sms/incoming → text channel → booking)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import uuid
import wave
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr
from temporalio import activity
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.messaging.routing import phone_key_query
from domain import names
from domain.booking_models import CallCentreInput, CallCentreOpening
from domain.missed_call_models import SEARCH_ATTRIBUTES as MISSED_CALL_SEARCH_ATTRIBUTES
from domain.phone import phone_key
from domain.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from workers.client import _SA_TYPES
from workers.ingress.app import audio_file_name, make_app
from workers.settings import Settings

SECRET = "ingress-test-secret-7f3a"
OLD_SECRET = "ingress-previous-secret-91bc"
PHONE_SECRET = "phone-key-secret-for-ingress-tests"
CALLER = "+33612340077"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def wav_bytes(seconds: float = 0.2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buf.getvalue()


def multipart(fields: dict[str, str], audio: bytes | None, filename: str = "vm.wav") -> tuple:
    """(body, content type) built by httpx itself, so the signature covers the exact bytes."""
    files = (
        {"audio": (filename, audio, "audio/wav")}
        if audio is not None
        else {"note": ("note.txt", b"pas d'audio", "text/plain")}
    )
    request = httpx.Request("POST", "http://x/", data=fields, files=files)
    return request.read(), request.headers["content-type"]


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


async def post(
    api: httpx.AsyncClient,
    path: str,
    body: bytes | dict[str, Any],
    content_type: str = "application/json",
    *,
    secret: str | None = SECRET,
    at: float | None = None,
) -> httpx.Response:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers |= signed_headers(secret.encode(), raw, time.time() if at is None else at)
    return await api.post(path, content=raw, headers=headers)


def missed(call_id: str | None = None, caller: str = CALLER) -> dict[str, Any]:
    return {
        "call_id": call_id or f"c-{uuid.uuid4().hex[:10]}",
        "caller_id": caller,
        "received_at": now_iso(),
    }


async def ensure_search_attributes(client: Client) -> None:
    for name, kind in MISSED_CALL_SEARCH_ATTRIBUTES.items():
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace, search_attributes={name: _SA_TYPES[kind]}
                )
            )
        except RPCError as err:
            if "already" not in str(err).lower():
                raise


# --------------------------------------------------------------------------- security


async def test_missing_wrong_or_tampered_signature_is_401(api: httpx.AsyncClient) -> None:
    body = json.dumps(missed()).encode()
    unsigned = await post(api, "/missed-calls", body, secret=None)
    assert unsigned.status_code == 401
    assert unsigned.json()["detail"] == "signature manquante"
    assert "HMAC-SHA256" in unsigned.headers["www-authenticate"]

    wrong = await post(api, "/missed-calls", body, secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["detail"] == "signature invalide"

    headers = {"Content-Type": "application/json"} | signed_headers(
        SECRET.encode(), body, time.time()
    )
    tampered = await api.post(
        "/missed-calls", content=body.replace(b"+336", b"+337"), headers=headers
    )
    assert tampered.status_code == 401

    garbled = await api.post(
        "/missed-calls",
        content=body,
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: "yesterday",
            SIGNATURE_HEADER: "v1=00",
        },
    )
    assert garbled.status_code == 401


async def test_stale_or_future_timestamp_is_401(api: httpx.AsyncClient) -> None:
    for skew in (-301, 301, -86_400):
        response = await post(api, "/missed-calls", missed(), at=time.time() + skew)
        assert response.status_code == 401, skew
        assert "périmée" in response.json()["detail"]


async def test_previous_secret_still_accepted_during_rotation(api: httpx.AsyncClient) -> None:
    response = await post(api, "/missed-calls", missed(), secret=OLD_SECRET)
    assert response.status_code == 202, response.text


async def test_too_large_is_413_before_anything_else(api: httpx.AsyncClient) -> None:
    big = {**missed(), "padding": "x" * 9000}
    assert (await post(api, "/missed-calls", big, secret=None)).status_code == 413
    assert (await post(api, "/missed-calls", big)).status_code == 413
    fields = {k: str(v) for k, v in missed().items()}
    body, kind = multipart(fields, wav_bytes(20.0))  # 320 KB > 256 KB
    assert (await post(api, "/voicemails", body, kind)).status_code == 413


async def test_wrong_media_type_is_415(api: httpx.AsyncClient) -> None:
    body = json.dumps(missed()).encode()
    assert (await post(api, "/missed-calls", body, "text/plain")).status_code == 415
    assert (await post(api, "/sms/incoming", body, "application/xml")).status_code == 415
    assert (await post(api, "/voicemails", body, "audio/wav")).status_code == 415
    # Not audio at all: refused by its first bytes, whatever the part's type says.
    fields = {k: str(v) for k, v in missed().items()}
    body, kind = multipart(fields, b"%PDF-1.7 not a recording", "vm.wav")
    response = await post(api, "/voicemails", body, kind)
    assert response.status_code == 415
    assert "format audio" in response.json()["detail"]


async def test_malformed_is_422_with_reasons_and_no_echo(api: httpx.AsyncClient) -> None:
    bad_json = await post(api, "/missed-calls", b"{not json", "application/json")
    assert bad_json.status_code == 422 and bad_json.json()["detail"] == "JSON invalide"
    assert (await post(api, "/missed-calls", b"[1, 2]")).status_code == 422

    response = await post(
        api,
        "/missed-calls",
        {"call_id": "../../etc/passwd", "caller_id": "06 11 22 33 4X", "received_at": "hier"},
    )
    assert response.status_code == 422
    reasons = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert set(reasons) == {("call_id",), ("caller_id",), ("received_at",)}
    assert "illisible" in reasons[("caller_id",)]
    # The input is never echoed back (it may be a number or a message).
    assert "06 11 22 33" not in response.text and "passwd" not in response.text

    naive = await post(api, "/missed-calls", {**missed(), "received_at": "2026-11-28T19:00:00"})
    assert naive.status_code == 422
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert (
        await post(api, "/missed-calls", {**missed(), "received_at": future})
    ).status_code == 422

    fields = {k: str(v) for k, v in missed().items()}
    body, kind = multipart(fields, None)
    no_audio = await post(api, "/voicemails", body, kind)
    assert no_audio.status_code == 422
    assert no_audio.json()["detail"][0]["loc"] == ["body", "audio"]
    body, kind = multipart(fields, b"")
    assert (await post(api, "/voicemails", body, kind)).status_code == 422
    broken = await post(api, "/voicemails", b"--nope\r\n", "multipart/form-data; boundary=xyz")
    assert broken.status_code == 422


# --------------------------------------------------------------------------- voicemails


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
    api: httpx.AsyncClient, settings: Settings, audio_host: str
) -> None:
    def by_url(url: str) -> dict[str, Any]:
        return {**missed(f"vm-{uuid.uuid4().hex[:10]}"), "audio_url": url}

    for url in (
        "http://localhost:1/vm.wav",  # not in the allow-list
        "http://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
        "ftp://127.0.0.1/vm.wav",
        "http://user:pw@127.0.0.1/vm.wav",
        "http://127.0.0.1:99999/vm.wav",
    ):
        response = await post(api, "/voicemails", by_url(url))
        assert response.status_code == 422, (url, response.text)
    # Redirects are not followed: an allowed host cannot bounce the server elsewhere.
    redirected = await post(api, "/voicemails", by_url(f"{audio_host}/redirect.wav"))
    assert redirected.status_code == 422
    assert "302" in redirected.json()["detail"]

    ok = by_url(f"{audio_host}/vm.wav")
    response = await post(api, "/voicemails", ok)
    assert response.status_code == 202, response.text
    stored = settings.audio_dir / audio_file_name(ok["call_id"], ".wav")
    assert stored.read_bytes() == wav_bytes()


# --------------------------------------------------------------------------- missed calls


async def test_missed_calls_join_one_case_per_number(
    api: httpx.AsyncClient, client: Client
) -> None:
    await ensure_search_attributes(client)
    number = f"+3361{uuid.uuid4().int % 10**7:07d}"  # 0690-0694: overseas, not +33
    first = await post(api, "/missed-calls", missed(caller=number))
    assert first.status_code == 202, first.text
    workflow_id = first.json()["workflow_id"]
    assert workflow_id == f"missed-call-{phone_key(number, PHONE_SECRET.encode())}"
    assert number not in first.text and number[4:] not in workflow_id
    retried = await post(api, "/missed-calls", {**missed(first.json()["call_id"], number)})
    other_call = await post(api, "/missed-calls", missed(caller=number.replace("+33", "0")))
    assert retried.json()["workflow_id"] == other_call.json()["workflow_id"] == workflow_id

    withheld = missed(caller="anonymous")
    one = await post(api, "/missed-calls", withheld)
    two = await post(api, "/missed-calls", withheld)
    assert one.json()["workflow_id"] == two.json()["workflow_id"]
    assert one.json()["workflow_id"] == f"missed-call-withheld-{withheld['call_id']}"
    assert (one.json()["created"], two.json()["created"]) == (True, False)


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
    again = await post(api, "/sms/incoming", body)
    assert again.json()["workflow_id"] == response.json()["workflow_id"]


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
    signed = await api.get(
        f"/calls/{call_id}", headers=signed_headers(SECRET.encode(), b"", time.time())
    )
    assert signed.status_code == 200
    assert signed.json()["detail"]["workflow_id"] == names.voicemail_workflow_id(call_id)
    bad = await api.get(f"/calls/{call_id}", headers=signed_headers(b"nope", b"", time.time()))
    assert bad.status_code == 401
    assert (await api.get("/calls/unknown-call-0000")).status_code == 404
    assert (await api.get("/calls/%27%20OR%201%3D1")).status_code == 422


async def test_health(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "temporal": "ok"}


async def test_openapi_documents_the_contract(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert set(spec["paths"]) >= {
        "/voicemails",
        "/missed-calls",
        "/sms/incoming",
        "/calls/{call_id}",
        "/health",
    }
    voicemail = spec["paths"]["/voicemails"]["post"]
    assert set(voicemail["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert set(voicemail["responses"]) >= {"202", "401", "413", "415", "422"}
    assert spec["components"]["securitySchemes"]["signature"]["name"] == SIGNATURE_HEADER


# --------------------------------------------------------------------------- end to end


def closed_call_centre() -> Callable[[CallCentreInput], CallCentreOpening]:
    """Out of hours whatever the hour the test runs at."""

    @activity.defn(name="call_centre_opening")
    def call_centre_opening(inp: CallCentreInput) -> CallCentreOpening:
        at = datetime.fromisoformat(inp.at) if inp.at else datetime.now(UTC)
        opening = (at + timedelta(days=1)).astimezone(UTC)
        return CallCentreOpening(open_now=False, next_opening=opening.isoformat())

    return call_centre_opening


def outbox(settings: Settings, to: str) -> list[str]:
    path = settings.sms.outbox_path
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return [m["text"] for m in lines if m["to"] == to]


async def wait_for(probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_missed_call_reply_by_sms_ends_booked(
    api: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    from workers.worker.composition import build_default_activities
    from workflows.missed_call import MissedCallWorkflow
    from workflows.voicemail import VoicemailWorkflow

    await ensure_search_attributes(client)
    number = f"+337{uuid.uuid4().int % 10**8:08d}"
    activities = [
        a
        for a in build_default_activities(settings, client)
        if activity._Definition.must_from_callable(a).name != "call_centre_opening"
    ]
    activities += [closed_call_centre()]
    from concurrent.futures import ThreadPoolExecutor

    async with Worker(
        client,
        task_queue=settings.temporal.task_queue,
        workflows=[MissedCallWorkflow, VoicemailWorkflow],
        activities=activities,
        activity_executor=ThreadPoolExecutor(max_workers=4),
    ):
        call = missed(caller=number)
        response = await post(api, "/missed-calls", call)
        assert response.status_code == 202, response.text
        workflow_id = response.json()["workflow_id"]
        invite = await wait_for(lambda: outbox(settings, number))
        assert invite and "adresse et vos objets" in invite[0]

        # The reply is routed by the keyed hash of the number, once the case publishes it.
        key = phone_key(number, PHONE_SECRET.encode())

        async def listed() -> bool:
            return any(
                [e.id == workflow_id async for e in client.list_workflows(phone_key_query(key))]
            )

        assert await wait_for(listed, 30)
        reply = {
            "message_id": f"sms-{uuid.uuid4().hex[:8]}",
            "sender": number,
            "text": "12 boulevard Chave 13005, un canapé",
            "received_at": now_iso(),
        }
        routed = await post(api, "/sms/incoming", reply)
        assert routed.status_code == 202, routed.text
        assert routed.json()["outcome"] == "routed"
        assert routed.json()["workflow_id"] == workflow_id

        headers = lambda: signed_headers(SECRET.encode(), b"", time.time())  # noqa: E731

        async def booked() -> dict[str, Any] | None:
            body = (await api.get(f"/calls/{call['call_id']}", headers=headers())).json()
            return body if body.get("status") == "booked" else None

        status = await wait_for(booked, 90)
        assert status, (await api.get(f"/calls/{call['call_id']}", headers=headers())).json()
        assert status["kind"] == "missed_call"
        assert status["detail"]["handed_over_to"] == names.voicemail_workflow_id(
            f"{call['call_id']}-sms"
        )
        texts = outbox(settings, number)
        assert len(texts) == 2 and "Boulevard Chave" in texts[1]
        public = await api.get(f"/calls/{call['call_id']}")
        assert public.json()["status"] == "booked" and "detail" not in public.json()
        assert number not in public.text and "Chave" not in public.text


# --------------------------------------------------------------------------- deployment


def test_compose_ingress_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_compose import _check_settings_path, environment, resolved, services

    service = services()["ingress"]
    assert service["command"][0] == "serve"
    assert "/health" in " ".join(service["healthcheck"]["test"])
    # Same volumes as the workers: the audio it stores, the phone-key secret file it shares.
    assert set(service["volumes"]) >= {
        "encombot-data:/var/lib/encombot",
        "encombot-audio:/var/lib/encombot/audio",
    }
    env = environment(services(resolved())["ingress"])
    for variable in env:
        _check_settings_path(variable)
    for key in list(os.environ):
        if key.startswith("ENCOMBOT_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    parsed = Settings(_env_file=None)  # type: ignore[call-arg]
    assert parsed.ingress.secret.get_secret_value() == "change-me-ingress"
    assert parsed.ingress.audio_url_hosts == []
    assert parsed.codec.keys  # it starts workflows: the workers' payload keys
