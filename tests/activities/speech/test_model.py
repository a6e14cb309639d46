"""The packaged Whisper model is checked against its pinned SHA-256 once assembled; an `stt`
worker loads it with one replica per transcription it runs at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.config import SttSettings, usable_cores, worker_threads
from activities.speech.model import VERIFIED_MARKER, prepare_packaged_model, verify_model_dir
from domain.errors import MODEL_UNAVAILABLE


def test_the_assembled_model_matches_its_pinned_digests(tmp_path: Path) -> None:
    target = prepare_packaged_model(tmp_path / "whisper")
    assert (target / VERIFIED_MARKER).exists()
    assert (target / "model.bin").stat().st_size > 100_000_000


def test_a_changed_model_file_is_a_clear_error(tmp_path: Path) -> None:
    target = prepare_packaged_model(tmp_path / "whisper")
    config = target / "config.json"
    config.write_text(config.read_text().replace("}", ', "x": 1}', 1))
    with pytest.raises(ApplicationError) as raised:
        verify_model_dir(target)
    assert raised.value.type == MODEL_UNAVAILABLE and raised.value.non_retryable
    assert "config.json" in str(raised.value) and "SHA-256" in str(raised.value)
    assert not (target / VERIFIED_MARKER).exists()
    # The next start re-copies the file of the wrong size and checks again.
    prepare_packaged_model(target)
    assert (target / VERIFIED_MARKER).exists()


def test_a_truncated_model_is_rebuilt_and_checked(tmp_path: Path) -> None:
    target = prepare_packaged_model(tmp_path / "whisper")
    with open(target / "model.bin", "r+b") as handle:
        handle.truncate(1000)
    prepare_packaged_model(target)
    verify_model_dir(target)


@pytest.mark.parametrize(
    ("set_", "cores", "expected"),
    [
        # One replica per transcription at once, each with twice its share of the cores:
        # a message alone uses the other's share.
        ({}, 2, (2, 2)),
        ({}, 8, (8, 2)),
        ({"concurrency": 2}, 8, (2, 8)),  # fewer at once: each may take all the cores
        ({"concurrency": 3}, 2, (3, 1)),  # more at once than cores: one thread each
        ({"num_workers": 1}, 2, (1, 2)),  # one replica asked: it gets the cores
        ({"num_workers": 4}, 8, (4, 4)),
        ({"num_workers": 3, "cpu_threads": 2}, 2, (3, 2)),  # set: kept as set
        ({"cpu_threads": 2}, 8, (4, 2)),  # threads set alone: the replicas that fit the cores
        ({"cpu_threads": 4}, 2, (1, 4)),
    ],
)
def test_an_stt_worker_runs_one_replica_per_transcription(
    set_: dict[str, int], cores: int, expected: tuple[int, int]
) -> None:
    resolved = worker_threads(SttSettings(**set_), cores)
    assert (resolved.num_workers, resolved.cpu_threads) == expected


def test_the_cores_are_the_cpu_set_bounded_by_the_cgroup_quota(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    cpu_set = usable_cores(cpu_max)
    assert cpu_set >= 1
    cpu_max.write_text("150000 100000\n")  # --cpus 1.5: two cores, one of them half
    assert usable_cores(cpu_max) == min(cpu_set, 2)
    cpu_max.write_text("garbage")
    assert usable_cores(cpu_max) == cpu_set
    assert usable_cores(tmp_path / "absent") == cpu_set
