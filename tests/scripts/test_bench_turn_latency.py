"""The benches' rule specs (bench/bench_turn_latency.py): a rule, and the encoder window of
each turn when it is given (`semantic@10`), so both windows run side by side in one run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from workers.settings import Settings

_PATH = Path(__file__).resolve().parents[2] / "bench" / "bench_turn_latency.py"
_spec = importlib.util.spec_from_file_location("bench_turn_latency", _PATH)
assert _spec is not None and _spec.loader is not None
btl = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_turn_latency", btl)
_spec.loader.exec_module(btl)


@pytest.mark.parametrize(
    ("spec", "valid"),
    [
        ("fixed", True),
        ("semantic@10", True),
        ("semantic@0", True),
        ("smart@6.5", True),
        ("semantic@", True),
        ("quick", False),
        ("semantic@ten", False),
        ("semantic@31", False),
        ("semantic@-1", False),
    ],
)
def test_a_spec_is_a_known_rule_and_a_window_whisper_has(spec: str, valid: bool) -> None:
    assert btl.valid_spec(spec) is valid


def test_the_window_given_with_the_rule_is_the_one_the_telephony_runs(tmp_path: Path) -> None:
    base = Settings()
    padded = btl.bench_settings(base, "127.0.0.1:7233", tmp_path, "semantic@10")
    assert padded.telephony.turn_rule == "semantic"
    assert padded.telephony.stt_window_pad_s == 10.0
    plain = btl.bench_settings(base, "127.0.0.1:7233", tmp_path, "fixed")
    assert plain.telephony.turn_rule == "fixed"
    assert plain.telephony.stt_window_pad_s == base.telephony.stt_window_pad_s
