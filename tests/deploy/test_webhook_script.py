"""deploy/asterisk/encombot-webhook, the signing script the Asterisk dialplan calls: run for
real (POSIX sh + openssl + curl) against a small HTTP server of this test on 127.0.0.1, which
records each request. Its signature is checked with an HMAC computed here from the v2 spec
(not with project code):

    X-Encombot-Timestamp: <unix seconds>
    X-Encombot-Signature: v2=<hex HMAC-SHA256(secret, "<ts>\\n<METHOD>\\n<path>\\n" + body)>

Every shell found among dash, busybox sh and the system sh runs the cases (Asterisk images are
Debian- or Alpine-based)."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "asterisk" / "encombot-webhook"
SECRET = "3f1c6b0e9a7d4c2b8e5f1a6d0c9b7e4a2d8f6c1b3e5a7d9c0b2e4f6a8c1d3e5f"

pytestmark = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("curl") and shutil.which("od")),
    reason="the script needs openssl, curl and od",
)


def _shells() -> list[list[str]]:
    found: list[list[str]] = []
    if shutil.which("dash"):
        found.append(["dash"])
    if shutil.which("busybox"):
        probe = subprocess.run(["busybox", "sh", "-c", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            found.append(["busybox", "sh"])
    if not found:
        found.append(["sh"])
    return found


SHELLS = _shells()


def expected_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}\n{method}\n{path}\n".encode() + body
    return "v2=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Ingress:
    """Answers each request with the next status of `statuses` (the last one repeats)."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    statuses: list[int] = field(default_factory=lambda: [202])


@pytest.fixture
def ingress() -> Iterator[Ingress]:
    state = Ingress(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Recorded(self.command, self.path, headers, body))
            status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            payload = json.dumps({"status": status}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def run(
    shell: list[str], args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    return subprocess.run(
        [*shell, str(SCRIPT), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def base_env(ingress: Ingress, spool: Path, **extra: str) -> dict[str, str]:
    return {
        "ENCOMBOT_INGRESS_URL": ingress.url,
        "ENCOMBOT_WEBHOOK_SECRET": SECRET,
        "ENCOMBOT_WEBHOOK_SPOOL": str(spool),
        **extra,
    }


def check_signature(request: Recorded, secret: str = SECRET) -> None:
    timestamp = request.headers["x-encombot-timestamp"]
    assert timestamp.isdigit()
    assert abs(int(timestamp) - time.time()) < 30
    expected = expected_signature(secret, timestamp, request.method, request.path, request.body)
    assert request.headers["x-encombot-signature"] == expected


def wav_bytes(seconds: float = 1.0) -> bytes:
    """A small 8 kHz mono 16-bit PCM WAV with every byte value in its samples."""
    frames = bytes(range(256)) * max(1, int(16000 * seconds) // 256)
    header = (
        b"RIFF"
        + (36 + len(frames)).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + (8000).to_bytes(4, "little")
        + (16000).to_bytes(4, "little")
        + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + len(frames).to_bytes(4, "little")
    )
    return header + frames


def multipart_parts(request: Recorded) -> dict[str, tuple[bytes, dict[str, str]]]:
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    assert message.is_multipart()
    parts: dict[str, tuple[bytes, dict[str, str]]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        parts[name] = (payload, {k.lower(): str(v) for k, v in part.items()})
    return parts


# --------------------------------------------------------------------------- missed calls


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_missed_call_is_signed_json(shell: list[str], ingress: Ingress, tmp_path: Path) -> None:
    args = [
        "missed-call",
        "--call-id=1764352812.42",
        "--caller-id",
        "+33612345678",
        "--received-at",
        "2026-11-28T19:00:12Z",
    ]
    done = run(shell, args, base_env(ingress, tmp_path / "spool"))
    assert done.returncode == 0, done.stderr
    [request] = ingress.requests
    assert (request.method, request.path) == ("POST", "/missed-calls")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "call_id": "1764352812.42",
        "caller_id": "+33612345678",
        "received_at": "2026-11-28T19:00:12Z",
    }
    check_signature(request)
    assert not list((tmp_path / "spool").glob("failed/*"))


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_withheld_number_and_default_time(
    shell: list[str], ingress: Ingress, tmp_path: Path
) -> None:
    done = run(
        shell,
        ["missed-call", "--call-id", "c-1", "--caller-id", ""],
        base_env(ingress, tmp_path / "spool"),
    )
    assert done.returncode == 0, done.stderr
    [request] = ingress.requests
    body = json.loads(request.body)
    assert body["caller_id"] == ""
    assert body["received_at"].endswith("Z") and body["received_at"][:4].isdigit()
    check_signature(request)


# --------------------------------------------------------------------------- voicemails


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_voicemail_is_signed_multipart(shell: list[str], ingress: Ingress, tmp_path: Path) -> None:
    audio = tmp_path / "vm-1764352812.43.wav"
    data = wav_bytes()
    audio.write_bytes(data)
    args = [
        "voicemail",
        "--call-id=1764352812.43",
        "--caller-id=0612345678",
        "--received-at=2026-11-28T19:05:00+01:00",
        f"--audio={audio}",
    ]
    done = run(shell, args, base_env(ingress, tmp_path / "spool"))
    assert done.returncode == 0, done.stderr
    [request] = ingress.requests
    assert (request.method, request.path) == ("POST", "/voicemails")
    check_signature(request)
    parts = multipart_parts(request)
    assert set(parts) == {"call_id", "caller_id", "received_at", "audio"}
    assert parts["call_id"][0] == b"1764352812.43"
    assert parts["caller_id"][0] == b"0612345678"
    assert parts["received_at"][0] == b"2026-11-28T19:05:00+01:00"
    payload, headers = parts["audio"]
    assert payload == data
    assert headers["content-type"] == "audio/wav"
    assert not audio.exists(), "an accepted recording is deleted (personal data)"


def test_keep_audio_option(ingress: Ingress, tmp_path: Path) -> None:
    audio = tmp_path / "vm.wav"
    audio.write_bytes(wav_bytes(0.2))
    env = base_env(ingress, tmp_path / "spool", ENCOMBOT_WEBHOOK_KEEP_AUDIO="yes")
    args = ["voicemail", "--call-id", "c-2", "--caller-id", "", "--audio", str(audio)]
    assert run(SHELLS[0], args, env).returncode == 0
    assert audio.exists()


# --------------------------------------------------------------------------- secrets


def test_secret_from_an_owner_only_file(ingress: Ingress, tmp_path: Path) -> None:
    secret_file = tmp_path / "webhook.secret"
    secret = "an \\ odd secret with 6 and \\\\ and a long tail " + "x" * 80  # > 64 bytes
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    env = base_env(ingress, tmp_path / "spool", ENCOMBOT_WEBHOOK_SECRET_FILE=str(secret_file))
    env.pop("ENCOMBOT_WEBHOOK_SECRET")
    done = run(SHELLS[0], ["missed-call", "--call-id", "c-3", "--caller-id", "+33491000000"], env)
    assert done.returncode == 0, done.stderr
    [request] = ingress.requests
    check_signature(request, secret)  # the trailing newline of the file is not part of it


def test_a_readable_secret_file_is_refused(ingress: Ingress, tmp_path: Path) -> None:
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o644)
    env = base_env(ingress, tmp_path / "spool", ENCOMBOT_WEBHOOK_SECRET_FILE=str(secret_file))
    done = run(SHELLS[0], ["missed-call", "--call-id", "c-4", "--caller-id", ""], env)
    assert done.returncode == 3
    assert "chmod 600" in done.stderr
    assert not ingress.requests


def test_no_secret(ingress: Ingress, tmp_path: Path) -> None:
    env = base_env(ingress, tmp_path / "spool")
    env.pop("ENCOMBOT_WEBHOOK_SECRET")
    done = run(SHELLS[0], ["missed-call", "--call-id", "c-5", "--caller-id", ""], env)
    assert done.returncode == 3
    assert not ingress.requests


def test_the_secret_is_never_on_a_command_line() -> None:
    code = [
        line
        for line in SCRIPT.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    assert not [line for line in code if "-hmac" in line or "macopt" in line or "-pass" in line]


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    "args",
    [
        ["missed-call", "--call-id", "c-6; touch /tmp/pwned", "--caller-id", ""],
        ["missed-call", "--call-id", "c-6", "--caller-id", "+33$(id)"],
        ["missed-call", "--call-id", "c-6", "--caller-id", "", "--received-at", 'x"}'],
        ["missed-call", "--call-id", "", "--caller-id", ""],
        ["missed-call", "--call-id", "c-6", "--unknown", "1"],
        ["voicemail", "--call-id", "c-6", "--caller-id", ""],
        ["nonsense"],
    ],
    ids=["call-id", "caller-id", "received-at", "empty-id", "option", "no-audio", "command"],
)
def test_invalid_arguments_send_nothing(args: list[str], ingress: Ingress, tmp_path: Path) -> None:
    done = run(SHELLS[0], args, base_env(ingress, tmp_path / "spool"))
    assert done.returncode == 2, done.stderr
    assert not ingress.requests


def test_path_prefix_is_signed_as_sent(ingress: Ingress, tmp_path: Path) -> None:
    env = base_env(ingress, tmp_path / "spool")
    env["ENCOMBOT_INGRESS_URL"] = ingress.url + "/telephonie/"
    done = run(SHELLS[0], ["missed-call", "--call-id", "c-7", "--caller-id", ""], env)
    assert done.returncode == 0, done.stderr
    [request] = ingress.requests
    assert request.path == "/telephonie/missed-calls"
    check_signature(request)


# --------------------------------------------------------------------------- failures


def test_retries_with_a_new_signature(ingress: Ingress, tmp_path: Path) -> None:
    ingress.statuses = [503, 202]
    done = run(
        SHELLS[0],
        ["missed-call", "--call-id", "c-8", "--caller-id", ""],
        base_env(ingress, tmp_path / "spool"),
    )
    assert done.returncode == 0, done.stderr
    assert len(ingress.requests) == 2
    for request in ingress.requests:
        check_signature(request)
    assert ingress.requests[0].body == ingress.requests[1].body


def test_refused_request_is_spooled_then_resent(ingress: Ingress, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    audio = tmp_path / "vm.wav"
    data = wav_bytes(0.5)
    audio.write_bytes(data)
    ingress.statuses = [401]
    args = ["voicemail", "--call-id", "c-9", "--caller-id", "", "--audio", str(audio)]
    done = run(SHELLS[0], args, base_env(ingress, spool))
    assert done.returncode == 4
    assert len(ingress.requests) == 1, "a 4xx is not retried"
    assert sorted(p.name for p in (spool / "failed").iterdir()) == [
        "voicemail-c-9.body",
        "voicemail-c-9.meta",
    ]
    assert stat.S_IMODE((spool / "failed" / "voicemail-c-9.body").stat().st_mode) == 0o600
    assert not audio.exists(), "the spooled body holds the audio"

    ingress.statuses = [202]
    done = run(SHELLS[0], ["resend"], base_env(ingress, spool))
    assert done.returncode == 0, done.stderr
    assert len(ingress.requests) == 2
    resent = ingress.requests[1]
    check_signature(resent)
    assert resent.path == "/voicemails"
    assert multipart_parts(resent)["audio"][0] == data
    assert not list((spool / "failed").iterdir())


def test_unreachable_ingress_gives_up_after_the_attempts(tmp_path: Path) -> None:
    env = {
        "ENCOMBOT_INGRESS_URL": "http://127.0.0.1:9",  # discard port: nothing listens
        "ENCOMBOT_WEBHOOK_SECRET": SECRET,
        "ENCOMBOT_WEBHOOK_SPOOL": str(tmp_path / "spool"),
        "ENCOMBOT_WEBHOOK_ATTEMPTS": "2",
    }
    done = run(SHELLS[0], ["missed-call", "--call-id", "c-10", "--caller-id", ""], env)
    assert done.returncode == 4
    meta = (tmp_path / "spool" / "failed" / "missed-call-c-10.meta").read_text()
    assert "path=/missed-calls" in meta and "status=000" in meta


def test_shellcheck() -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck not installed (Debian package shellcheck)")
    done = subprocess.run(
        ["shellcheck", "-s", "sh", str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
