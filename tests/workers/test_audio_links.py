"""The link to a voicemail's audio (activities/audio_links.py signs it, the codec server serves
it): a valid link plays the file; an expired one, a forged or reused signature, another file, a
path out of the audio directory, a link without signature, one that would live too long are
refused; a purged file is gone; the lookup keys need the codec server's token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from activities.audio_links import AudioLinkActivities
from domain.audio_links import MAX_TTL_S, AudioLinkInput, signed_path
from workers.codec.payload import EncryptionCodec
from workers.codec.server import CodecServerConfig, RunningCodecServer, make_app

SECRET = b"s" * 32
NOW = 1_800_000_000.0
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / "vm-abc.wav").write_bytes(WAV)
    (tmp_path / "secret.wav").write_bytes(b"not yours")
    return folder


@pytest.fixture
def server(audio_dir: Path) -> Iterator[RunningCodecServer]:
    config = CodecServerConfig(
        token="tok",
        audio_dir=audio_dir,
        audio_secret=SECRET,
        lookup_keys=lambda ref, number: [f"{'0' * 31}1"] if ref or number else [],
    )
    with RunningCodecServer(make_app(EncryptionCodec({"k": b"k" * 32}, "k"), config)) as srv:
        yield srv


def link(audio_dir: Path, base: str, ttl_s: int = 600, at: float = NOW) -> str:
    acts = AudioLinkActivities(audio_dir, SECRET, base, ttl_s, clock=lambda: at)
    result = acts.audio_link(AudioLinkInput("c1", str(audio_dir / "vm-abc.wav")))
    assert result.available, result
    return result.url


def test_the_activity_signs_files_of_the_audio_directory_only(audio_dir: Path) -> None:
    acts = AudioLinkActivities(audio_dir, SECRET, "https://ui.example/codec/", 600, lambda: NOW)
    url = acts.audio_link(AudioLinkInput("c1", str(audio_dir / "vm-abc.wav"))).url
    parts = urlsplit(url)
    assert parts.path == "/codec/audio/vm-abc.wav"
    assert parse_qs(parts.query)["exp"] == [str(int(NOW) + 600)]
    outside = acts.audio_link(AudioLinkInput("c1", str(audio_dir.parent / "secret.wav")))
    assert not outside.available and outside.reason == "audio hors du dossier des messages"
    gone = acts.audio_link(AudioLinkInput("c1", str(audio_dir / "vm-purged.wav")))
    assert not gone.available and "supprimé" in gone.reason


def test_a_signed_link_plays_until_it_expires(server: RunningCodecServer, audio_dir: Path) -> None:
    import time

    url = link(audio_dir, server.url, at=time.time())
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == WAV
    assert response.headers["content-type"] == "audio/x-wav" or response.headers[
        "content-type"
    ].startswith("audio/")
    assert response.headers["cache-control"] == "no-store, private"
    expired = link(audio_dir, server.url, ttl_s=60, at=time.time() - 61)
    assert httpx.get(expired).status_code == 403 and httpx.get(expired).text == "link expired"


def test_forged_reused_and_unsigned_links_are_refused(
    server: RunningCodecServer, audio_dir: Path, tmp_path: Path
) -> None:
    import time

    url = link(audio_dir, server.url, at=time.time())
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    exp, sig = query["exp"][0], query["sig"][0]
    base = server.url
    # The signature of one file does not open another, nor a later expiry.
    (audio_dir / "vm-other.wav").write_bytes(WAV)
    assert httpx.get(f"{base}/audio/vm-other.wav?exp={exp}&sig={sig}").status_code == 403
    assert httpx.get(f"{base}/audio/vm-abc.wav?exp={int(exp) + 1}&sig={sig}").status_code == 403
    assert httpx.get(f"{base}/audio/vm-abc.wav?exp={exp}&sig={'0' * 64}").status_code == 403
    assert httpx.get(f"{base}/audio/vm-abc.wav").status_code == 401
    # Out of the directory, even correctly signed with the secret.
    far = int(time.time()) + 60
    escape = signed_path_unchecked("../secret.wav", far)
    assert httpx.get(f"{base}{escape}").status_code in (403, 404)
    # A link that would live longer than a day is refused even when signed.
    long_lived = signed_path("vm-abc.wav", int(time.time()) + MAX_TTL_S + 3600, SECRET)
    assert httpx.get(f"{base}{long_lived}").status_code == 403
    # Purged since the link was made.
    (audio_dir / "vm-abc.wav").unlink()
    assert httpx.get(url).status_code == 410


def signed_path_unchecked(name: str, expires: int) -> str:
    from domain.audio_links import signature

    return f"/audio/{name}?exp={expires}&sig={signature(name, expires, SECRET)}"


def test_lookup_keys_need_the_token(server: RunningCodecServer) -> None:
    url = f"{server.url}/lookup-keys"
    assert httpx.post(url, json={"reference": "AC3D4F"}).status_code == 401
    auth = {"Authorization": "Bearer tok"}
    ok = httpx.post(url, json={"reference": "AC3D4F"}, headers=auth)
    assert ok.status_code == 200 and ok.json() == {"keys": ["0" * 31 + "1"]}
    assert httpx.post(url, json={}, headers=auth).status_code == 400
