"""`make corpus-check` (scripts/corpus/check.py) runs the project's own evaluation pipeline,
not only Whisper: it once fell back to transcripts silently when that pipeline's signature
changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.corpus import check


def test_the_check_builds_the_projects_pipeline(tmp_path: Path, shared_dir: Path) -> None:
    geodata = shared_dir / "geodata"
    ban = geodata / "adresses-13-marseille-synthetique.csv.gz"
    if not ban.is_file():
        pytest.skip("no BAN file in ../shared/geodata")
    (tmp_path / "ban-dev.csv.gz").symlink_to(ban)
    assert check.pipeline(tmp_path, geodata) is not None
