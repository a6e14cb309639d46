"""Payload encryption (AES-GCM codec, key rotation, failure encoding) and the codec server."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from domain.disclosure import CORRECTION_REJECTED
from domain.models import ItemCount, ResolveInput
from workers.codec.payload import (
    ENCODING,
    KEY_ID_METADATA,
    CodecConfigError,
    EncodedFailureConverter,
    EncryptionCodec,
    PayloadDecryptionError,
    codec_from_settings,
    data_converter,
    new_key,
    parse_key,
)
from workers.codec.server import CodecServerConfig, RunningCodecServer, make_app
from workers.settings import Settings

SECRET = "Claire Martin, 12 boulevard Chave, +33612345678"


def codec(*ids: str, active: str = "") -> EncryptionCodec:
    keys = {kid: parse_key(kid, KEYS[kid]) for kid in ids}
    return EncryptionCodec(keys, active or ids[-1])


KEYS = {kid: new_key() for kid in ("2025-01", "2025-07", "other")}


def settings_with(tmp_path: Path, **codec_fields: object) -> Settings:
    base = Settings()
    return base.model_copy(
        update={"data_dir": tmp_path, "codec": base.codec.model_copy(update=codec_fields)}
    )


async def test_payloads_are_encrypted_with_the_key_id_and_decrypt_back() -> None:
    converter = DataConverter(payload_codec=codec("2025-01"))
    value = ResolveInput(agent_id="agent-1", street="boulevard Chave", items=[ItemCount("canapé")])
    [payload] = await converter.encode([value])
    assert payload.metadata["encoding"] == ENCODING == b"binary/encrypted"
    assert payload.metadata[KEY_ID_METADATA] == b"2025-01"
    assert b"Chave" not in payload.SerializeToString()
    [again] = await converter.encode([value])
    assert again.data != payload.data  # a fresh nonce every time
    assert await converter.decode([payload], [ResolveInput]) == [value]


async def test_rotation_old_keys_decrypt_the_active_key_encrypts() -> None:
    old = codec("2025-01")
    rotated = codec("2025-01", "2025-07", active="2025-07")
    [sealed_old] = await old.encode([Payload(data=SECRET.encode())])
    [opened] = await rotated.decode([sealed_old])
    assert opened.data == SECRET.encode()
    [sealed_new] = await rotated.encode([Payload(data=b"x")])
    assert sealed_new.metadata[KEY_ID_METADATA] == b"2025-07"
    with pytest.raises(PayloadDecryptionError, match="unknown key id '2025-07'"):
        await old.decode([sealed_new])


async def test_a_wrong_key_or_altered_data_is_refused() -> None:
    [sealed] = await codec("2025-01").encode([Payload(data=b"secret")])
    impostor = EncryptionCodec({"2025-01": parse_key("x", KEYS["other"])}, "2025-01")
    with pytest.raises(PayloadDecryptionError, match="wrong key or altered"):
        await impostor.decode([sealed])
    altered = Payload()
    altered.CopyFrom(sealed)
    altered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError):
        await codec("2025-01").decode([altered])


async def test_unencrypted_payloads_pass_through() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')
    assert await codec("2025-01").decode([plain]) == [plain]


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "ENCOMBOT_CODEC__KEYS", json.dumps({"2025-01": KEYS["2025-01"], "2025-07": KEYS["2025-07"]})
    )
    monkeypatch.setenv("ENCOMBOT_CODEC__ACTIVE_KEY_ID", "2025-07")
    monkeypatch.setenv("ENCOMBOT_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert KEYS["2025-01"] not in repr(settings)  # secrets never printed
    built = codec_from_settings(settings)
    assert built.key_ids == ["2025-01", "2025-07"]
    assert built.active_key_id == "2025-07"
    assert not (tmp_path / "codec-dev.key").exists()


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ({"a": KEYS["2025-01"], "b": KEYS["2025-07"]}, "", "several codec keys"),
        ({"a": KEYS["2025-01"]}, "b", "not in the keys"),
        ({"a": "not base64 !"}, "", "not valid base64"),
        ({"a": base64.b64encode(b"short").decode()}, "", "5 bytes"),
    ],
)
def test_bad_key_configuration_is_explicit_and_never_echoes_a_key(
    tmp_path: Path, keys: dict[str, str], active: str, message: str
) -> None:
    secrets = {kid: SecretStr(value) for kid, value in keys.items()}
    settings = settings_with(tmp_path, keys=secrets, active_key_id=active)
    with pytest.raises(CodecConfigError, match=message) as err:
        codec_from_settings(settings)
    for value in keys.values():
        assert value not in str(err.value)


def test_dev_key_is_created_once_private_and_shared(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    first = codec_from_settings(settings)
    key_file = tmp_path / "codec-dev.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert first.active_key_id.startswith("dev-")
    second = codec_from_settings(settings)  # another process, same data dir
    assert second.key_ids == first.key_ids
    assert [p.name for p in tmp_path.iterdir()] == ["codec-dev.key"]  # no temporary left


def test_production_refuses_to_run_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(CodecConfigError, match="ENCOMBOT_CODEC__KEYS"):
        codec_from_settings(settings_with(tmp_path, allow_dev_key=False))
    assert not (tmp_path / "codec-dev.key").exists()


async def test_failure_messages_and_stack_traces_are_encrypted(tmp_path: Path) -> None:
    converter = data_converter(settings_with(tmp_path))
    assert isinstance(converter.failure_converter, EncodedFailureConverter)
    try:
        raise ApplicationError(f"Adresse refusée : {SECRET}", type="InvalidAddress")
    except ApplicationError as exc:
        error = exc
    failure = Failure()
    await converter.encode_failure(error, failure)
    raw = failure.SerializeToString()
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    assert b"Chave" not in raw and b"test_codec" not in raw
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == f"Adresse refusée : {SECRET}"


async def test_a_correction_rejection_stays_readable_for_the_ui(tmp_path: Path) -> None:
    converter = data_converter(settings_with(tmp_path))
    try:
        raise ApplicationError("Numéro de voie manquant (housenumber).", type=CORRECTION_REJECTED)
    except ApplicationError as exc:
        error = exc
    failure = Failure()
    await converter.encode_failure(error, failure)
    assert failure.message == "Numéro de voie manquant (housenumber)."
    assert failure.stack_trace == ""  # the trace stays encrypted
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING


# --------------------------------------------------------------------------- codec server

UI = "http://127.0.0.1:8233"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningCodecServer]:
    app = make_app(
        codec("2025-01"), CodecServerConfig(token="s3cret", cors_origins=[UI], enable_encode=True)
    )
    with RunningCodecServer(app) as running:
        yield running


def payloads_json(*values: bytes, encoding: bytes = b"json/plain") -> str:
    return json.dumps(
        {
            "payloads": [
                {
                    "metadata": {"encoding": base64.b64encode(encoding).decode()},
                    "data": base64.b64encode(v).decode(),
                }
                for v in values
            ]
        }
    )


AUTH = {
    "Authorization": "Bearer s3cret",
    "X-Namespace": "default",
    "Content-Type": "application/json",
}


async def sealed_json(*values: bytes) -> str:
    """Payloads as the workers write them (encrypted with the server's key)."""
    sealed = await codec("2025-01").encode([Payload(data=v) for v in values])
    return json.dumps(
        {
            "payloads": [
                {
                    "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                    "data": base64.b64encode(p.data).decode(),
                }
                for p in sealed
            ]
        }
    )


async def test_codec_server_encode_decode_round_trip(server: RunningCodecServer) -> None:
    body = payloads_json(json.dumps(SECRET).encode(), b'{"a":1}')
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/encode", data=body, headers=AUTH) as resp:
            assert resp.status == 200
            encoded = await resp.json()
        assert "Chave" not in json.dumps(encoded)
        metadata = encoded["payloads"][0]["metadata"]
        assert base64.b64decode(metadata["encoding"]) == ENCODING
        assert base64.b64decode(metadata["encryption-key-id"]) == b"2025-01"
        async with http.post(
            f"{server.url}/decode", data=json.dumps(encoded), headers=AUTH
        ) as resp:
            assert resp.status == 200
            decoded = await resp.json()
    assert decoded == json.loads(body)


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic s3cret", "s3cret"])
async def test_codec_server_requires_the_bearer_token(
    server: RunningCodecServer, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with aiohttp.ClientSession() as http:
        for path in ("/encode", "/decode"):
            async with http.post(
                f"{server.url}{path}", data=payloads_json(b"1"), headers=headers
            ) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_codec_server_cors_for_the_ui_origin_only(server: RunningCodecServer) -> None:
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with aiohttp.ClientSession() as http:
        async with http.options(f"{server.url}/decode", headers=preflight) as resp:
            assert resp.status == 204  # no token asked for a preflight
            assert resp.headers["Access-Control-Allow-Origin"] == UI
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert "x-namespace" in resp.headers["Access-Control-Allow-Headers"].lower()
            assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        async with http.post(
            f"{server.url}/decode", data=await sealed_json(b"1"), headers={**AUTH, "Origin": UI}
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == UI
        async with http.post(
            f"{server.url}/decode", data=payloads_json(b"1"), headers={"Origin": UI}
        ) as resp:  # a refusal the browser can read
            assert resp.status == 401
            assert resp.headers["Access-Control-Allow-Origin"] == UI
        evil = {**preflight, "Origin": "http://evil.example"}
        async with http.options(f"{server.url}/decode", headers=evil) as resp:
            assert resp.status == 403
            assert "Access-Control-Allow-Origin" not in resp.headers


async def test_codec_server_bad_input_and_unknown_key(server: RunningCodecServer) -> None:
    foreign = await codec("other").encode([Payload(data=SECRET.encode())])
    body = json.dumps(
        {
            "payloads": [
                {
                    "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                    "data": base64.b64encode(p.data).decode(),
                }
                for p in foreign
            ]
        }
    )
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/decode", data="{not json", headers=AUTH) as resp:
            assert resp.status == 400
        async with http.post(f"{server.url}/decode", data=body, headers=AUTH) as resp:
            assert resp.status == 422
            text = await resp.text()
    assert "unknown key id 'other'" in text and "Chave" not in text
