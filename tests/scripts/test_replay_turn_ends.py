"""The offline replay of the end-of-turn rules (bench/replay_turn_ends.py): a turn restarted
after each end, pauses counted before the last word only."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from activities.live.turns import TurnTaking
from domain.dialogue import Expect

_PATH = Path(__file__).resolve().parents[2] / "bench" / "replay_turn_ends.py"
_spec = importlib.util.spec_from_file_location("replay_turn_ends", _PATH)
assert _spec is not None and _spec.loader is not None
replay_turn_ends = importlib.util.module_from_spec(_spec)
sys.modules["replay_turn_ends"] = replay_turn_ends
_spec.loader.exec_module(replay_turn_ends)


def line(pattern: str) -> tuple[bytes, list[bool]]:
    """'S' a voiced 20 ms frame, '_' a silent one."""
    flags = [c == "S" for c in pattern]
    return b"".join((b"\x01" if v else b"\x00") * 320 for v in flags), flags


def test_pauses_before_the_last_word() -> None:
    _, flags = line("___SSSS" + "_" * 12 + "SS" + "_" * 5 + "SS" + "_" * 30)
    last = max(i for i, v in enumerate(flags) if v) + 1
    assert replay_turn_ends.pauses(flags, last) == 1  # 240 ms counts, 100 ms does not


def test_each_end_starts_a_new_turn() -> None:
    """The fixed 700 ms pause ends the first sentence, then the second."""
    pcm, flags = line("_" * 5 + "S" * 20 + "_" * 40 + "S" * 20 + "_" * 50)
    turns = TurnTaking(end_pause_ms=700)
    ends = replay_turn_ends.replay(pcm, flags, lambda: turns.detector(Expect.SPEECH))
    assert ends == [25 + 35, 85 + 35]
