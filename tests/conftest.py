"""Session-wide fixtures: one real Temporal dev server and one loaded Whisper model per test
session (not per test), a fake OVH API on 127.0.0.1, and settings pointing every file the
project writes into a temporary directory."""

from __future__ import annotations

import os
import platform
import uuid

# Whisper's transcripts depend on the CPU instructions CTranslate2 dispatches to (AVX2 and
# AVX-512 hear the same synthetic voice differently): the tests fix them so that what they
# assert holds on any x86-64 machine. Set before ctranslate2 is imported; the worker
# processes that the proofs start inherit it.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("CT2_FORCE_CPU_ISA", "AVX2")
# No haystack telemetry (as the worker's composition root sets it): the FAQ tests import the
# engine directly, and haystack reads the variable once, at its first import.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from activities.geo.territory_file import load_territory
from activities.speech.engine import SpeechEngine
from domain.understanding import Territory
from workers.client import connect
from workers.codec.payload import codec_from_settings
from workers.codec.server import (
    CodecServerConfig,
    RunningCodecServer,
    agent_routes,
    make_app,
)
from workers.dev.devserver import DevServer, free_port
from workers.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encombot")


@pytest.fixture(scope="session")
def base_settings(session_tmp: Path) -> Settings:
    """Defaults with every writable path moved under the session's temporary directory.
    The Whisper model cache stays shared (assembling 140 MB per session would be waste)."""
    data = session_tmp / "var"
    settings = Settings()
    return settings.model_copy(
        update={
            "data_dir": data,
            "audio_dir": data / "audio",
            "geo": settings.geo.model_copy(update={"cache_dir": data / "cache"}),
            "booking": settings.booking.model_copy(
                update={"database_url": f"sqlite:///{data / 'bookings.sqlite'}"}
            ),
            "sms": settings.sms.model_copy(
                update={
                    "outbox_path": data / "sms-outbox.jsonl",
                    "inbox_path": data / "sms-inbox.jsonl",
                    "ledger_path": data / "sms-ledger.sqlite",
                }
            ),
        }
    )


@pytest.fixture(scope="session")
def ui_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def codec_server(base_settings: Settings, ui_port: int) -> Iterator[RunningCodecServer]:
    """The codec server that the session dev server's Web UI decodes payloads with (same keys
    as every client of the session: `connect` encrypts)."""
    origins = [f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"]
    # With the agents' routes (audio links, lookup keys) under the session's secrets.
    config = CodecServerConfig(
        cors_origins=origins,
        dev_mode=True,
        enable_encode=True,
        **agent_routes(base_settings, create=True),
    )
    app = make_app(codec_from_settings(base_settings), config)
    with RunningCodecServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def dev_server(
    session_tmp: Path, ui_port: int, codec_server: RunningCodecServer
) -> Iterator[DevServer]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with DevServer(
        db_file=session_tmp / "temporal.sqlite",
        log_file=ARTIFACTS / "temporal-dev.log",
        ui_port=ui_port,
        ui_codec_endpoint=codec_server.url,
    ) as server:
        yield server


@pytest.fixture(scope="session")
async def client(dev_server: DevServer, base_settings: Settings) -> AsyncIterator[Client]:
    settings = base_settings.model_copy(
        update={
            "temporal": base_settings.temporal.model_copy(update={"address": dev_server.address})
        }
    )
    yield await connect(settings)


@pytest.fixture(scope="session")
def stt(base_settings: Settings) -> SpeechEngine:
    """The one Whisper model of the session, loaded on first use."""
    from activities.understand import load_catalogue

    return SpeechEngine(base_settings.stt, load_catalogue(base_settings.booking.items_file))


@pytest.fixture(scope="session")
def territory() -> Territory:
    """The territory files of the corpus, read as a worker reads them."""
    return load_territory()


@pytest.fixture
def unique_queue() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def postgres_url() -> str:
    return os.environ.get(
        "ENCOMBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


# .ci/run installs every external tool the tests drive (Chromium, SIP peers, espeak-ng, sox, the
# deployment validators) and sets ENCOMBOT_REQUIRE_TOOLS: there, a test that would skip for a
# missing tool fails instead, so a broken install step cannot hide behind a green run. Such
# skips say "not installed"; skips for missing data or services keep skipping.
TOOL_MISSING = "not installed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not (os.environ.get("ENCOMBOT_REQUIRE_TOOLS") and report.skipped):
        return
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if TOOL_MISSING in str(reason):
        report.outcome = "failed"
        report.longrepr = f"required tool missing in CI: {reason}"
