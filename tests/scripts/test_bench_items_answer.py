"""The items-answer bench (bench/bench_items_answer.py): an answer is cut as the live turn
listener cuts it, given to the dialogue at the items question with lookups done as the
runner does them, and scored against what was said."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities.geo.territory_file import load_territory
from activities.live.turns import TurnTaking
from activities.understand import load_catalogue
from domain.dialogue import Dialogue
from domain.faq_models import FaqResult
from domain.models import GeocodeResult, GeocodeStatus, ItemCount, Understanding
from tests.fakes.caller_turns import caller_turn
from tests.scripts.test_replay_calls import CHAVE, Candidates

# After test_replay_calls has put bench/replay_calls.py in sys.modules: the bench imports it
# by that name.
_PATH = Path(__file__).resolve().parents[2] / "bench" / "bench_items_answer.py"
_spec = importlib.util.spec_from_file_location("bench_items_answer", _PATH)
assert _spec is not None and _spec.loader is not None
bia = importlib.util.module_from_spec(_spec)
sys.modules["bench_items_answer"] = bia
_spec.loader.exec_module(bia)


RATE_BYTES = 16000  # slin16 at 8 kHz: bytes per second


@dataclass
class Steps:
    """The call's steps on scripted words: what the turn heard, what the items' second
    hearing finds, and the FAQ's answer."""

    text: str
    again: list[ItemCount] = field(default_factory=list)
    faq: FaqResult | None = None
    asked: list[str] = field(default_factory=list)

    def transcribe(self, pcm: bytes, expect: str = "", beam_size: int = 0) -> str:
        self.asked.append("transcribe")
        return self.text

    def lookup_address(self, lookup: Any) -> tuple[Candidates, GeocodeResult]:
        return Candidates([CHAVE]), GeocodeResult(GeocodeStatus.MATCHED, match=CHAVE)

    def hear_items(self, lookup: Any, pcm: bytes) -> Understanding:
        self.asked.append("hear items")
        return Understanding(intent="booking", items=list(self.again))

    def answer(self, question: str) -> FaqResult:
        self.asked.append("faq")
        assert self.faq is not None
        return self.faq


@dataclass
class Offline:
    steps: Steps

    def dialogue(self) -> Dialogue:
        return Dialogue(
            load_catalogue(), "", service_name="E", agent_phone="0", territory=load_territory()
        )


def test_an_answer_is_cut_as_the_turn_listener_cuts_it() -> None:
    said = caller_turn("items")
    cut, split = bia.as_a_turn(said, TurnTaking())
    line = len(said) + int((bia.BEFORE_S + bia.AFTER_S) * RATE_BYTES)
    # Its pre-roll and the trailing silence kept, not the 3 s of silence after it.
    assert len(said) - 0.3 * RATE_BYTES < len(cut) < line - 2 * RATE_BYTES
    assert not split
    assert bia.as_a_turn(b"\0" * RATE_BYTES, TurnTaking()) == (b"", False)  # no turn
    # A pause longer than the end pause inside the answer: the first part is the turn.
    pause = b"\0" * int(1.5 * RATE_BYTES)
    cut, split = bia.as_a_turn(said + pause + said, TurnTaking())
    assert split and len(cut) < len(said) + 0.7 * RATE_BYTES


def test_the_words_name_the_items() -> None:
    catalogue, territory = load_catalogue(), load_territory()
    steps = Steps("Un canapé et deux chaises")
    heard = bia.hear(Offline(steps), b"pcm", catalogue, territory)
    assert heard["items"] == {"canapé": 1, "chaise": 2} == heard["words"]
    assert not heard["asked_again"] and "hear items" not in steps.asked
    assert bia.outcome(heard["items"], {"canapé": 1, "chaise": 2}, False) == "exact"


def test_an_answer_naming_nothing_is_heard_again_as_on_a_call() -> None:
    catalogue, territory = load_catalogue(), load_territory()
    steps = Steps("Je voudrais faire halver une chale.", again=[ItemCount("chaise", 1)])
    heard = bia.hear(Offline(steps), b"pcm", catalogue, territory)
    assert steps.asked == ["transcribe", "hear items"]
    assert heard["words"] == {} and heard["items"] == {"chaise": 1} and not heard["transferred"]
    assert bia.outcome(heard["items"], {"chaise": 1, "table": 1}, False) == "partly"
    steps = Steps("Je voudrais faire halver une chale.")  # the audio names nothing either
    heard = bia.hear(Offline(steps), b"pcm", catalogue, territory)
    assert heard["asked_again"] and heard["items"] == {}
    assert bia.outcome(heard["items"], {"chaise": 1}, heard["asked_again"]) == "asked again"


def test_items_not_said_are_counted_apart() -> None:
    assert bia.outcome({"matelas": 1}, {"chaise": 1}, False) == "not said only"
    assert bia.outcome({"chaise": 2}, {"chaise": 1}, False) == "partly"
    rows = [
        {"condition": "gsm", "outcome": "exact", "words": {"a": 1}, "want": {"a": 1}},
        {"condition": "gsm", "outcome": "asked again", "words": {}, "want": {"b": 1}},
        {"condition": "clean", "outcome": "not said only", "words": {}, "want": {"c": 1}},
        {"condition": "clean", "outcome": "no turn", "words": {}, "want": {"c": 1}},
    ]
    for row in rows:
        row["split"] = row["outcome"] == "exact"
    lines = bia.table("line", rows, "condition")
    zero = "0 (0 %)"
    assert lines[2] == (
        f"| clean | 2 | {zero} | {zero} | 1 (50 %) | {zero} | {zero} | 1 (50 %) | 0 | 0 |"
    )
    assert lines[3] == (
        f"| gsm | 2 | 1 (50 %) | {zero} | {zero} | 1 (50 %) | {zero} | {zero} | 1 | 1 |"
    )
    assert lines[4].startswith("| all | 4 | 1 (25 %) |")
