"""The agents' audio links for voicemails in the object store (issue 23), on the real
S3-compatible server of tests/activities/audio_store (SeaweedFS): the worker signs a link to the
object, the codec server fetches it, opens it with the codec keys and plays it in clear, under
the same signature and expiry checks as a file of the directory. A missing object is gone; an
object the keys do not open, or too large, is refused; an unreachable store is a 503."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from activities.audio_links import AudioLinkActivities, audio_link_secret
from activities.audio_store.s3 import AudioStoreError, S3AudioStore, object_name
from corpus import DEMO_DIR
from domain.audio_links import AudioLinkInput, signed_path
from tests.activities.audio_store.conftest import S3Server, s3_server  # noqa: F401 - fixture
from workers.codec.payload import EncryptionCodec
from workers.codec.server import (
    CodecServerConfig,
    RunningCodecServer,
    agent_routes,
    make_app,
)
from workers.settings import Settings

SECRET = b"s" * 32
KEYS = {"2026-12": os.urandom(32)}
WAV = (DEMO_DIR / "audio" / "demo01.wav").read_bytes()


def store_on(server: S3Server, tmp_path: Path, max_bytes: int = 5_000_000) -> S3AudioStore:
    return S3AudioStore(
        server.client(), server.bucket, KEYS, "2026-12",
        cache_dir=tmp_path / "cache", max_bytes=max_bytes,
    )  # fmt: skip


@pytest.fixture
def store(
    s3_server: S3Server,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> S3AudioStore:
    return store_on(s3_server, tmp_path)


@pytest.fixture
def server(store: S3AudioStore, tmp_path: Path) -> Iterator[RunningCodecServer]:
    config = CodecServerConfig(
        token="tok", audio_dir=tmp_path / "no-such-dir", audio_secret=SECRET, audio_store=store
    )
    with RunningCodecServer(make_app(EncryptionCodec({"k": b"k" * 32}, "k"), config)) as srv:
        yield srv


def activities(
    store: S3AudioStore, base: str, ttl_s: int = 600, at: float | None = None
) -> AudioLinkActivities:
    clock = (lambda: at) if at is not None else time.time
    return AudioLinkActivities(Path("/nonexistent"), SECRET, base, ttl_s, clock, remote=store)


def put(store: S3AudioStore, audio: bytes = WAV, call_id: str = "") -> str:
    return store.put(call_id or f"c-{os.urandom(6).hex()}", audio, ".wav")


def test_a_signed_link_to_an_object_plays_the_clear_audio(
    server: RunningCodecServer, store: S3AudioStore
) -> None:
    # A call id with letters no hex digest has: "c1" was found in the object's random name
    # about one run in eight.
    ref = put(store, call_id="appel-martin")
    result = activities(store, server.url).audio_link(AudioLinkInput("appel-martin", ref))
    assert result.available, result
    parts = urlsplit(result.url)
    assert parts.path == "/audio/" + store.link_name(ref)  # type: ignore[operator]
    assert parts.path.startswith("/audio/voicemails/vm-") and "martin" not in parts.path
    response = httpx.get(result.url)
    assert response.status_code == 200 and response.content == WAV
    assert response.headers["content-type"].startswith("audio/")
    assert response.headers["cache-control"] == "no-store, private"
    # What the store holds is not what the agent hears: sealed.
    raw = store.client.get_object(store.bucket, store.link_name(ref)).read()
    assert raw != WAV and WAV[100:200] not in raw


def test_expired_forged_and_unsigned_links_are_refused(
    server: RunningCodecServer, store: S3AudioStore
) -> None:
    ref, other = put(store), put(store)
    expired = activities(store, server.url, ttl_s=60, at=time.time() - 61).audio_link(
        AudioLinkInput("c1", ref)
    )
    answer = httpx.get(expired.url)
    assert answer.status_code == 403 and answer.text == "link expired"
    url = activities(store, server.url).audio_link(AudioLinkInput("c1", ref)).url
    query = parse_qs(urlsplit(url).query)
    exp, sig = query["exp"][0], query["sig"][0]
    base = server.url
    name, other_name = store.link_name(ref), store.link_name(other)
    # One object's signature opens no other object, and no later expiry.
    assert httpx.get(f"{base}/audio/{other_name}?exp={exp}&sig={sig}").status_code == 403
    assert httpx.get(f"{base}/audio/{name}?exp={int(exp) + 1}&sig={sig}").status_code == 403
    assert httpx.get(f"{base}/audio/{name}?exp={exp}&sig={'0' * 64}").status_code == 403
    assert httpx.get(f"{base}/audio/{name}").status_code == 401
    # A link signed under another secret.
    forged = signed_path(name, int(time.time()) + 60, b"x" * 32)  # type: ignore[arg-type]
    assert httpx.get(f"{base}{forged}").status_code == 403


def test_a_missing_object_is_gone(server: RunningCodecServer, store: S3AudioStore) -> None:
    ref = put(store)
    acts = activities(store, server.url)
    url = acts.audio_link(AudioLinkInput("c1", ref)).url
    name = store.link_name(ref)
    store.client.remove_object(store.bucket, name)  # the retention purge, after the link
    answer = httpx.get(url)
    assert answer.status_code == 410 and answer.text == "audio no longer kept"
    # Never stored at all: the same answer, under a valid signature.
    never = signed_path(object_name("never-stored", ".wav"), int(time.time()) + 60, SECRET)
    assert httpx.get(f"{server.url}{never}").status_code == 410
    # The worker makes no link to a purged object, nor to another bucket's.
    gone = acts.audio_link(AudioLinkInput("c1", ref))
    assert not gone.available and "supprimé" in gone.reason
    foreign = acts.audio_link(AudioLinkInput("c1", "s3://another-bucket/voicemails/vm-x.wav"))
    assert not foreign.available and foreign.reason == "audio hors du stockage configuré"


def test_objects_the_keys_do_not_open_or_too_large_are_refused(
    server: RunningCodecServer, store: S3AudioStore, tmp_path: Path
) -> None:
    # Planted in the bucket in clear, under a voicemail's name: never played.
    name = object_name(f"planted-{os.urandom(4).hex()}", ".wav")
    store.client.put_object(store.bucket, name, io.BytesIO(WAV), len(WAV))
    planted = signed_path(name, int(time.time()) + 60, SECRET)
    answer = httpx.get(f"{server.url}{planted}")
    assert answer.status_code == 502 and WAV[:4] not in answer.content
    # Larger than the store's bound: refused before it is read.
    small = store_on_bound(store, tmp_path, max_bytes=1000)
    config = CodecServerConfig(token="tok", audio_secret=SECRET, audio_store=small)
    with RunningCodecServer(make_app(EncryptionCodec({"k": b"k" * 32}, "k"), config)) as srv:
        url = activities(small, srv.url).audio_link(AudioLinkInput("c1", put(store))).url
        assert httpx.get(url).status_code == 502


def store_on_bound(store: S3AudioStore, tmp_path: Path, max_bytes: int) -> S3AudioStore:
    return S3AudioStore(
        store.client, store.bucket, KEYS, "2026-12", cache_dir=tmp_path, max_bytes=max_bytes
    )


def test_an_unreachable_store_is_a_503(tmp_path: Path) -> None:
    from minio import Minio
    from urllib3 import PoolManager, Retry

    from workers.dev.devserver import free_port

    client = Minio(
        f"127.0.0.1:{free_port()}", access_key="a", secret_key="b" * 16, secure=False,
        http_client=PoolManager(retries=Retry(total=0), timeout=2),
    )  # fmt: skip
    down = S3AudioStore(
        client, "encombot-audio", KEYS, "2026-12", cache_dir=tmp_path, max_bytes=1000
    )
    config = CodecServerConfig(token="tok", audio_secret=SECRET, audio_store=down)
    with RunningCodecServer(make_app(EncryptionCodec({"k": b"k" * 32}, "k"), config)) as srv:
        link = signed_path(object_name("c1", ".wav"), int(time.time()) + 60, SECRET)
        answer = httpx.get(f"{srv.url}{link}")
        assert answer.status_code == 503 and answer.headers["retry-after"] == "10"
    # The worker's activity raises, so Temporal retries it.
    with pytest.raises(AudioStoreError):
        activities(down, "http://codec").audio_link(AudioLinkInput("c1", down.ref("x.wav")))


def test_the_codec_server_takes_the_store_from_the_settings(
    s3_server: S3Server,  # noqa: F811 - the fixture imported above
    base_settings: Settings,
) -> None:
    settings = base_settings.model_copy(
        update={
            "audio_store": base_settings.audio_store.model_copy(
                update={
                    "backend": "s3",
                    "s3_endpoint": s3_server.endpoint,
                    "s3_bucket": s3_server.bucket,
                    "s3_access_key": SecretStr(s3_server.access_key),
                    "s3_secret_key": SecretStr(s3_server.secret_key),
                    "s3_secure": False,
                }
            ),
            "agents": base_settings.agents.model_copy(
                update={"audio_link_secret": SecretStr("l" * 32)}
            ),
        }
    )
    routes = agent_routes(settings)
    remote = routes["audio_store"]
    assert isinstance(remote, S3AudioStore) and remote.bucket == s3_server.bucket
    assert routes["audio_secret"] == b"l" * 32
    assert agent_routes(base_settings, create=True)["audio_store"] is None  # local backend


def test_production_refuses_a_link_secret_made_on_one_host(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AUDIO_LINK_SECRET"):
        audio_link_secret("", tmp_path, allow_file=False)
    assert not list(tmp_path.iterdir()), "no secret file written"
    assert audio_link_secret("c" * 32, tmp_path, allow_file=False) == b"c" * 32
