"""The offline replay of the call set (bench/replay_calls.py) on scripted steps: the truthful
caller's answers reach the dialogue, lookups are done as the telephony's runner does them,
and the outcome is scored as `make bench-calls` scores it."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from activities.geo.territory_file import load_territory
from activities.understand import load_catalogue
from domain.dialogue import Dialogue
from domain.models import AddressMatch, GeocodeResult, GeocodeStatus, ItemCount, Understanding
from tests.scripts.test_bench_calls import cs, minimal

# After test_bench_calls has put bench/calls_support.py in sys.modules: replay_calls imports
# it by that name.
_PATH = Path(__file__).resolve().parents[2] / "bench" / "replay_calls.py"
_spec = importlib.util.spec_from_file_location("replay_calls", _PATH)
assert _spec is not None and _spec.loader is not None
rc = importlib.util.module_from_spec(_spec)
sys.modules["replay_calls"] = rc
_spec.loader.exec_module(rc)

CHAVE = AddressMatch(
    "12", "Boulevard Chave", "13005", "13205", "Marseille", 5.4, 43.29, score=0.95, sector="13205"
)
SCRIPT = minimal()  # one plain call, c1, booking 12 Boulevard Chave


@dataclass
class Candidates:
    candidates: list[AddressMatch] = field(default_factory=list)


@dataclass
class Steps:
    """The call's steps on scripted results: each clip's words, the words' address, and
    the audio's vote when it is asked."""

    heard: dict[str, str]
    words_geo: GeocodeResult
    voted_geo: GeocodeResult | None = None
    asked: list[str] = field(default_factory=list)

    def transcribe(self, pcm: bytes, expect: str = "", beam_size: int = 0) -> str:
        self.asked.append(f"transcribe {pcm.decode()}")
        return self.heard[pcm.decode()]

    def lookup_address(self, lookup: Any) -> tuple[Candidates, GeocodeResult]:
        self.asked.append("lookup")
        return Candidates([CHAVE]), self.words_geo

    def vote_address(self, lookup: Any, candidates: Any, pcm: bytes) -> GeocodeResult:
        self.asked.append(f"vote {pcm.decode()}")
        assert self.voted_geo is not None
        return self.voted_geo

    def spelled_street(self, lookup: Any) -> str:
        self.asked.append(f"spelled {lookup.text} keyed={lookup.keyed}")
        return ""

    def hear_items(self, lookup: Any, pcm: bytes) -> Understanding:
        self.asked.append(f"items {pcm.decode()}")
        return Understanding(intent="booking", items=[ItemCount("canapé", 1)])

    def first_free_day(self, sector: str) -> str:
        return "2026-12-10"

    def answer(self, question: str) -> Any:
        raise AssertionError("no question in this script")


RENDERED: list[int] = []


def render(call: Any, index: int, answer: Any) -> bytes:
    RENDERED.append(index)
    return "+".join(p.clip for p in answer.parts).encode()


def dialogue() -> Dialogue:
    # The workers' territory (tests/scripts' own `territory` fixture is the corpus script's).
    territory = load_territory()
    return Dialogue(load_catalogue(), "", service_name="E", agent_phone="0", territory=territory)


def test_a_call_heard_right_is_booked_right() -> None:
    call = cs.parse_script(SCRIPT).calls[0]
    steps = Steps(
        {"addr": "j'habite au 12 boulevard Chave", "items": "un canapé", "oui_f": "oui"},
        GeocodeResult(GeocodeStatus.MATCHED, match=CHAVE),
    )
    RENDERED.clear()
    row = rc.replay(call, dialogue(), steps, render)
    assert row["score"] == "right" and row["booked"] == "12 Boulevard Chave, 13005 Marseille"
    # Each answer's index, as make bench-calls counts them (its noise seed): the typed
    # mobile is the third answer, and is not rendered.
    assert RENDERED == [0, 1, 3]
    assert row["turns"] == 4  # address, items, the mobile typed, "oui"
    assert "    address: matched 12 Boulevard Chave, 13005 Marseille (0.95)" in row["log"]
    assert "vote addr" not in steps.asked  # the words' address was usable


def test_the_audio_votes_only_on_an_address_it_was_not_sure_of() -> None:
    call = cs.parse_script(SCRIPT).calls[0]
    steps = Steps(
        {"addr": "j'habite au dos boulot vachave", "items": "un canapé", "oui_f": "oui"},
        GeocodeResult(GeocodeStatus.NOT_FOUND),
        voted_geo=GeocodeResult(GeocodeStatus.MATCHED, match=CHAVE),
    )
    row = rc.replay(call, dialogue(), steps, render)
    assert steps.asked[:3] == ["transcribe addr", "lookup", "vote addr"]
    assert row["score"] == "right"


def test_a_wrong_read_back_is_refused_and_never_booked() -> None:
    call = cs.parse_script(SCRIPT).calls[0]
    rome = replace(CHAVE, street="Rue de Rome", postcode="13006")
    steps = Steps(
        {"addr": "j'habite au 12 rue de Rome", "items": "un canapé", "oui_f": "oui"},
        GeocodeResult(GeocodeStatus.MATCHED, match=rome),
    )
    row = rc.replay(call, dialogue(), steps, render)
    # The caller refuses the read-back, says the number is right and the street is not, and
    # types its name (CHAVE), then with its type (BOULEVARDCHAVE), which the gazetteer's
    # streets (here none) do not give: a person takes the call.
    assert row["score"] == "transferred" and row["booked"] is None
    assert row["readbacks_refused"] >= 2
    assert "  spell_street: keys 24283#" in row["log"]
    assert "spelled 24283 keyed=True" in steps.asked
    assert "spelled 26853827324283 keyed=True" in steps.asked


def test_a_typed_postcode_leaves_the_address_audio_to_vote_on() -> None:
    """As the runner does: the words' lookup found nothing to vote among, the postcode is
    typed, and the lookup with it has candidates: the address said is the audio voted on."""
    call = cs.parse_script(SCRIPT).calls[0]

    class Later(Steps):
        def lookup_address(self, lookup: Any) -> tuple[Candidates, GeocodeResult]:
            self.asked.append("lookup")
            if self.asked.count("lookup") == 1:
                return Candidates([]), GeocodeResult(GeocodeStatus.NOT_FOUND)
            return Candidates([CHAVE]), GeocodeResult(GeocodeStatus.NOT_FOUND)

    steps = Later(
        {"addr": "j'habite au dos boulot vachave", "items": "un canapé", "oui_f": "oui"},
        GeocodeResult(GeocodeStatus.NOT_FOUND),
        voted_geo=GeocodeResult(GeocodeStatus.MATCHED, match=CHAVE),
    )
    row = rc.replay(call, dialogue(), steps, render)
    assert steps.asked[:4] == ["transcribe addr", "lookup", "lookup", "vote addr"]
    assert "  ask_postcode: keys 13005" in row["log"]
    assert row["score"] == "right"


def test_a_failed_vote_leaves_the_words_result() -> None:
    call = cs.parse_script(SCRIPT).calls[0]

    class Broken(Steps):
        def vote_address(self, lookup: Any, candidates: Any, pcm: bytes) -> GeocodeResult:
            raise RuntimeError("model gone")

    steps = Broken(
        {"addr": "j'habite au dos boulot vachave", "items": "un canapé", "oui_f": "oui"},
        GeocodeResult(GeocodeStatus.NOT_FOUND),
    )
    row = rc.replay(call, dialogue(), steps, render)
    assert "    address vote failed: RuntimeError" in row["log"]
    assert "  ask_postcode: keys 13005" in row["log"]  # the call goes on, as on the line


@pytest.mark.parametrize("score", ["right", "transferred"])
def test_the_summary_counts_what_was_scored(score: str) -> None:
    rows = [
        {
            "expect": "booked",
            "score": score,
            "turns": 3,
            "readbacks_refused": 0,
            "transfer_reason": "" if score == "right" else "two_failures",
        }
    ]
    s = rc.summary(rows)
    assert s["booked_right"] == (score == "right") and s["booked_expected"] == 1
    assert s["transfers_unexpected"] == (score == "transferred")
    assert s["transfer_reasons"] == ({} if score == "right" else {"two_failures": 1})
