"""POST /voicemails with the object-store audio (issue 23): the upload goes to the S3-compatible
store sealed, the workflow gets its reference, nothing is written on the ingress's disk."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.client import Client

from activities.audio_store.sealed import open_sealed
from domain import names
from domain.models import VoicemailInput
from tests.activities.audio_store.conftest import S3Server, s3_server  # noqa: F401 - fixture
from tests.workers.ingress.support import CALLER, multipart, now_iso, post, wav_bytes
from workers.codec.payload import codec_from_settings
from workers.ingress.app import make_app
from workers.settings import Settings


async def test_an_upload_goes_to_the_object_store(
    client: Client,
    settings: Settings,
    s3_server: S3Server,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    settings = settings.model_copy(
        update={
            "audio_store": settings.audio_store.model_copy(
                update={
                    "backend": "s3",
                    "s3_endpoint": s3_server.endpoint,
                    "s3_bucket": s3_server.bucket,
                    "s3_access_key": SecretStr(s3_server.access_key),
                    "s3_secret_key": SecretStr(s3_server.secret_key),
                    "s3_secure": False,
                }
            )
        }
    )
    app = make_app(settings, client=client)
    transport = httpx.ASGITransport(app=app)
    call_id = f"vm-{uuid.uuid4().hex[:10]}"
    audio = wav_bytes()
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as api:
        fields = {"call_id": call_id, "caller_id": CALLER, "received_at": now_iso()}
        body, kind = multipart(fields, audio)
        assert (await post(api, "/voicemails", body, kind)).status_code == 202

    handle = client.get_workflow_handle(names.voicemail_workflow_id(call_id))
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (inp,) = await client.data_converter.decode(started.input.payloads, [VoicemailInput])
    await handle.terminate("test over")
    prefix = f"s3://{s3_server.bucket}/"
    assert inp.audio_path.startswith(prefix) and call_id not in inp.audio_path
    assert not (settings.audio_dir.exists() and any(settings.audio_dir.iterdir()))
    name = inp.audio_path.removeprefix(prefix)
    blob = s3_server.client().get_object(s3_server.bucket, name).read()  # type: ignore[attr-defined]
    assert open_sealed(codec_from_settings(settings).keys, name, blob) == audio


async def test_an_unreachable_object_store_is_a_503_to_retry(
    client: Client, settings: Settings
) -> None:
    from workers.dev.devserver import free_port

    store = settings.audio_store.model_copy(
        update={"backend": "s3", "s3_endpoint": f"127.0.0.1:{free_port()}", "s3_secure": False}
    )
    app = make_app(settings.model_copy(update={"audio_store": store}), client=client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as api:
        call_id = f"vm-{uuid.uuid4().hex[:10]}"
        fields = {"call_id": call_id, "caller_id": CALLER, "received_at": now_iso()}
        body, kind = multipart(fields, wav_bytes())
        response = await post(api, "/voicemails", body, kind)
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert "stockage audio indisponible" in response.json()["detail"]
