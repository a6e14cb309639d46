"""Fixtures of the corpus generator's tests: the shared geodata (read in place) and one
territory + one 400-message plan per session (pure Python, ~5 s, no TTS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.corpus.plan import build_plan
from scripts.corpus.territory import Territory

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def geodata() -> Path:
    shared = Path(os.environ.get("SHARED", REPO.parent / "shared"))
    path = shared / "geodata"
    if not (path / "adresses-13-marseille-synthetique.csv.gz").is_file():
        pytest.skip(f"shared geodata not found at {path} (set SHARED)")
    return path


@pytest.fixture(scope="session")
def territory(geodata: Path) -> Territory:
    return Territory(geodata, 16)


@pytest.fixture(scope="session")
def plan400(territory: Territory) -> list[dict]:
    return build_plan(16, 400, territory)
