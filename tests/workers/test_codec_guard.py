"""Issue 17, defect 2: the codec server decrypts personal data, so by default it answers only
an authenticated JSON request, for its own Host, from the UI's origin, and only to decrypt
what the workers encrypted. A real server on 127.0.0.1 each time."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import aiohttp
import pytest
from temporalio.api.common.v1 import Payload

from workers.codec.payload import EncryptionCodec
from workers.codec.server import (
    CodecServerConfig,
    CodecServerConfigError,
    RunningCodecServer,
    make_app,
)
from workers.settings import CodecServerSettings

UI = "https://encombrants.example.org"
TOKEN = "codec-token-0123456789abcdef"
CODEC = EncryptionCodec({"k1": b"k" * 32}, "k1")
OK = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def body(payloads: list[Payload]) -> str:
    return json.dumps(
        {
            "payloads": [
                {
                    "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                    "data": base64.b64encode(p.data).decode(),
                }
                for p in payloads
            ]
        }
    )


PLAIN = body([Payload(metadata={"encoding": b"json/plain"}, data=b'"12 rue Paradis"')])


async def sealed() -> str:
    return body(await CODEC.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")]))


@pytest.fixture
def server() -> Iterator[RunningCodecServer]:
    """The defaults of the settings, a token and the UI's origin: what production runs."""
    defaults = CodecServerSettings()
    config = CodecServerConfig(
        token=TOKEN,
        cors_origins=[UI],
        allowed_hosts=defaults.allowed_hosts,
        enable_encode=defaults.enable_encode,
        allow_unencrypted=defaults.allow_unencrypted,
    )
    with RunningCodecServer(make_app(CODEC, config)) as srv:
        yield srv


async def post(url: str, data: str, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as r:
        return r.status, await r.text()


def test_no_token_outside_dev_mode_refuses_to_start() -> None:
    assert CodecServerSettings().dev_mode is False
    with pytest.raises(CodecServerConfigError, match="TOKEN"):
        make_app(CODEC, CodecServerConfig(cors_origins=[UI]))
    make_app(CODEC, CodecServerConfig(dev_mode=True))


async def test_authenticated_json_decode_of_an_encrypted_payload_works(
    server: RunningCodecServer,
) -> None:
    status, text = await post(f"{server.url}/decode", await sealed(), {**OK, "Origin": UI})
    assert status == 200 and base64.b64decode(json.loads(text)["payloads"][0]["data"]) == b"1"


async def test_no_token_is_401(server: RunningCodecServer) -> None:
    status, _ = await post(
        f"{server.url}/decode", await sealed(), {"Content-Type": "application/json"}
    )
    assert status == 401


async def test_foreign_host_is_refused(server: RunningCodecServer) -> None:
    # A DNS-rebinding page: the browser sends its own name as Host.
    status, _ = await post(f"{server.url}/decode", await sealed(), {**OK, "Host": "evil.example"})
    assert status == 421


async def test_text_plain_is_415(server: RunningCodecServer) -> None:
    status, _ = await post(
        f"{server.url}/decode", await sealed(), {**OK, "Content-Type": "text/plain"}
    )
    assert status == 415


async def test_foreign_origin_is_403(server: RunningCodecServer) -> None:
    status, _ = await post(
        f"{server.url}/decode", await sealed(), {**OK, "Origin": "https://evil.example"}
    )
    assert status == 403


async def test_encode_is_off_by_default(server: RunningCodecServer) -> None:
    status, _ = await post(f"{server.url}/encode", PLAIN, OK)
    assert status in (404, 405)


async def test_unencrypted_payload_is_400_unless_migrating(server: RunningCodecServer) -> None:
    status, text = await post(f"{server.url}/decode", PLAIN, OK)
    assert status == 400 and "Paradis" not in text
    config = CodecServerConfig(token=TOKEN, allow_unencrypted=True)
    with RunningCodecServer(make_app(CODEC, config)) as migrating:
        status, _ = await post(f"{migrating.url}/decode", PLAIN, OK)
    assert status == 200


def plain_json(data: str) -> str:
    return body([Payload(metadata={"encoding": b"json/plain"}, data=data.encode())])


async def test_a_patch_marker_the_sdk_wrote_in_clear_is_shown(server: RunningCodecServer) -> None:
    """The SDK's core writes a `workflow.patched` marker's details past the codec; every
    voicemail's history holds one, and the UI must still show the case."""
    marker = '{"id":"stt-worker-queue","deprecated":false}'
    status, text = await post(f"{server.url}/decode", plain_json(marker), OK)
    assert status == 200
    assert base64.b64decode(json.loads(text)["payloads"][0]["data"]).decode() == marker


@pytest.mark.parametrize(
    "data",
    [
        '{"id":"x","deprecated":false,"address":"12 rue Paradis"}',
        '{"id":"12 rue Paradis","deprecated":"no"}',
        '"12 rue Paradis"',
        '{"id":"x","deprecated":false' + " " * 600 + "}",
    ],
)
async def test_only_the_markers_shape_passes(server: RunningCodecServer, data: str) -> None:
    status, _ = await post(f"{server.url}/decode", plain_json(data), OK)
    assert status == 400


async def test_health_answers_any_host(server: RunningCodecServer) -> None:
    url, headers = f"{server.url}/healthz", {"Host": "codec-server"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        assert r.status == 200
