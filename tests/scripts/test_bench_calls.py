"""The pure parts of the scripted call bench (bench/calls_support.py): the script and its
validation, the caller's answers, the scoring of an outcome and the cut-off rule."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from domain.stats import percentile

_PATH = Path(__file__).resolve().parents[2] / "bench" / "calls_support.py"
_spec = importlib.util.spec_from_file_location("calls_support", _PATH)
assert _spec is not None and _spec.loader is not None
cs = importlib.util.module_from_spec(_spec)
sys.modules["calls_support"] = cs
_spec.loader.exec_module(cs)


def minimal(**call: Any) -> dict[str, Any]:
    return {
        "seed": 1,
        "clips": {
            "addr": {"src": "demo:demo01.wav", "start": 2.7, "end": 6.45, "text": "douze…"},
            "items": {"src": "demo:demo01.wav", "start": 6.55, "end": 9.6, "text": "canapé"},
            "oui_f": {"src": "shared:vm019.wav", "start": 0.0, "end": 1.07, "text": "oui"},
        },
        "addresses": {
            "chave": {
                "housenumber": "12",
                "street": "Boulevard Chave",
                "postcode": "13005",
                "city": "Marseille",
                "clip": "addr",
                "items": "items",
            },
            "nowhere": {
                "housenumber": "7",
                "street": "Impasse des Tilleuls",
                "postcode": "13005",
                "city": "Marseille",
                "clip": "addr",
                "items": "items",
                "known": False,
            },
        },
        "calls": [{"id": "c1", "kind": "plain", "address": "chave", "expect": "booked", **call}],
    }


def test_the_committed_script_is_valid_and_covers_every_kind() -> None:
    script = cs.load_script()
    kinds = Counter(c.kind for c in script.calls)
    assert len(script.calls) >= 30
    assert set(kinds) == {
        "plain",
        "paused",
        "keypad",
        "person",
        "question",
        "correction",
        "barge",
        "unknown_street",
    }
    # Transfers are expected exactly where the caller asks for one or the street is unknown.
    for call in script.calls:
        wants_person = any(a.keys == "0" for listed in call.answers.values() for a in listed)
        assert (call.expect == "transfer") == (wants_person or not call.address.known), call.id
    # The keypad callers type the number and postcode and confirm with 1.
    for call in script.calls:
        if call.kind == "keypad":
            assert call.answers["ask_address"][0].keys.endswith("#")
            assert call.answers["confirm"][0].keys == "1"


def test_answers_parse_clips_parts_pauses_keys_and_barge_in() -> None:
    clips = cs.parse_script(minimal()).clips
    answer = cs.parse_answer("addr[:0.72] + ~1.5 + addr[0.72:]", clips)
    assert answer.parts == (
        cs.Part(clip="addr", a=0.0, b=0.72),
        cs.Part(pause_s=1.5),
        cs.Part(clip="addr", a=0.72, b=None),
    )
    assert answer.spoken and not answer.barge
    assert cs.parse_answer("barge:items", clips).barge
    assert cs.parse_answer("keys:12#", clips) == cs.Answer(keys="12#")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("nope", "unknown clip"),
        ("addr[0.5:9]", "outside the clip"),
        ("addr[2:1]", "outside the clip"),
        ("~1.0", "says nothing"),
        ("keys:12a", "digits"),
        ("addr + 1.0", "neither a clip"),
    ],
)
def test_bad_answers_are_refused(text: str, why: str) -> None:
    clips = cs.parse_script(minimal()).clips
    with pytest.raises(cs.ScriptError, match=why):
        cs.parse_answer(text, clips)


@pytest.mark.parametrize(
    ("call", "why"),
    [
        ({"address": "elsewhere"}, "unknown address"),
        ({"condition": "radio"}, "condition"),
        ({"expect": "maybe"}, "expect"),
        ({"answers": {"greeting": ["addr"]}}, "not a question phase"),
        ({"answers": {"ask_items": ["sofa"]}}, "c1, ask_items: unknown clip"),
        ({"address": "nowhere"}, "cannot know"),
    ],
)
def test_bad_calls_are_refused(call: dict[str, Any], why: str) -> None:
    with pytest.raises(cs.ScriptError, match=why):
        cs.parse_script(minimal(**call))


def test_a_call_id_is_used_once() -> None:
    data = minimal()
    data["calls"].append(dict(data["calls"][0]))
    with pytest.raises(cs.ScriptError, match="used twice"):
        cs.parse_script(data)


def test_the_subset_spreads_over_kinds_and_follows_the_seed() -> None:
    calls = cs.load_script().calls
    four = cs.select(calls, 4, 21)
    assert len({c.kind for c in four}) == 4
    assert [c.id for c in cs.select(calls, 4, 21)] == [c.id for c in four]
    assert sorted(c.id for c in cs.select(calls, None, 5)) == sorted(c.id for c in calls)


def test_the_truthful_caller() -> None:
    script = cs.parse_script(
        minimal(answers={"ask_items": ["keys:0"], "confirm": ["keys:1", "oui_f"]})
    )
    call = script.calls[0]
    right = {"housenumber": "12", "street": "Boulevard Chave", "postcode": "13005"}
    right["label"] = "12 Boulevard Chave, 13005 Marseille"
    wrong = {**right, "housenumber": "2", "label": "2 Boulevard Chave, 13005 Marseille"}
    # Scripted answers in order, the last one repeated; defaults elsewhere.
    assert cs.answer_for(call, "confirm", 0, right) == (cs.Answer(keys="1"), False)
    assert cs.answer_for(call, "confirm", 5, right)[0].parts[0].clip == "oui_f"
    assert cs.answer_for(call, "ask_items", 0, None)[0].keys == "0"
    assert cs.answer_for(call, "ask_address", 0, None)[0].parts[0].clip == "addr"
    assert cs.answer_for(call, "ask_postcode", 0, None)[0].keys == "13005"
    assert cs.answer_for(call, "ask_number", 0, wrong)[0].keys == "12#"
    assert cs.answer_for(call, "ask_phone", 0, None)[0].keys == cs.MOBILE
    # A wrong read-back gets "no" whatever the script says; fields read back alone get 1 or 2.
    assert cs.answer_for(call, "confirm", 0, wrong) == (cs.Answer(keys="2"), True)
    assert cs.answer_for(call, "check_number", 0, wrong) == (cs.Answer(keys="2"), True)
    assert cs.answer_for(call, "check_street", 0, wrong) == (cs.Answer(keys="1"), False)
    assert cs.answer_for(call, "check_city", 0, wrong) == (cs.Answer(keys="1"), False)
    # Asked to spell, the caller types the street's name on the keypad; asked again, with its
    # type (« Boulevard »).
    assert cs.answer_for(call, "spell_street", 0, wrong) == (cs.Answer(keys="24283#"), False)
    assert cs.answer_for(call, "spell_street", 1, wrong)[0].keys == "26853827324283#"


def test_scoring_an_outcome() -> None:
    script = cs.parse_script(minimal())
    booked = script.calls[0]
    transfer = cs.Call("c2", "unknown_street", booked.address, "clean", "transfer")
    label = "12 Boulevard Chave, 13005 Marseille"
    assert cs.score(booked, label, False) == "right"
    assert cs.score(booked, "12 boulevard  chave, 13005 MARSEILLE", False) == "right"
    assert cs.score(booked, "2 Boulevard Chave, 13005 Marseille", False) == "wrong"
    assert cs.score(booked, None, True) == "transferred"
    assert cs.score(booked, None, False) == "missed"
    assert cs.score(transfer, None, True) == "right"
    assert cs.score(transfer, label, False) == "wrong"
    assert cs.score(transfer, None, False) == "missed"


def test_cut_offs() -> None:
    # Turn sent from 10.0 to 14.0, last voiced frame at 13.5.
    assert cs.cut_off(10.0, 13.5, 14.0, [], []) == ""
    assert cs.cut_off(10.0, 13.5, 14.0, [9.9, 14.2], [13.8]) == ""  # before and after
    assert cs.cut_off(10.0, 13.5, 14.0, [12.0], []) == "spoke"
    assert cs.cut_off(10.0, 13.5, 14.0, [], [11.2]) == "ended_early"  # a pause taken as the end
    # Over a prompt, the bot's first second is the prompt stopping.
    assert cs.cut_off(10.0, 13.5, 14.0, [10.4, 10.9], [], barge=True) == ""
    assert cs.cut_off(10.0, 13.5, 14.0, [10.4, 11.5], [], barge=True) == "spoke"


def test_the_reply_starts_after_a_silence() -> None:
    def frames(pattern: str, start: float = 10.0) -> list[tuple[float, bool]]:
        return [(start + 0.02 * i, c == "S") for i, c in enumerate(pattern)]

    # Keys sent at 10.05 while the prompt's last frames arrive: its tail is not the reply.
    line = frames("SSSSSS" + "_" * 10 + "SSS")
    assert cs.speech_onset(line, 10.05) == line[16][0]
    # A reply after a spoken turn (nothing before it), and none at all.
    assert cs.speech_onset(frames("____SS"), 10.0) == frames("____SS")[4][0]
    assert cs.speech_onset(frames("SSS___"), 10.05) is None
    # A gap shorter than ONSET_GAP_S does not start a new run.
    assert cs.speech_onset(frames("SS___S"), 10.01) is None


def test_keys_on_an_idle_line_get_the_reply_glued_to_the_prompt() -> None:
    # The greeting ends on speech at 10.10, the caller types at 10.18 once the line is idle,
    # the reply starts at 10.19: under ONSET_GAP_S after the prompt's last frame.
    prompt = [(10.0 + 0.02 * i, True) for i in range(6)]
    line = prompt + [(10.19 + 0.02 * i, True) for i in range(40)]
    assert cs.line_idle([at for at, _ in prompt], 10.18)
    assert not cs.line_idle([at for at, _ in prompt], 10.12)
    assert cs.line_idle([], 10.0)
    assert cs.speech_onset(line, 10.18, gap_s=0.0) == 10.19
    # The pause rule alone would skip the reply glued to the prompt (the 9-s keys latency).
    assert cs.speech_onset(line, 10.18) is None


def test_summary() -> None:
    def turn(latency: float | None, cut: bool = False, spoken: bool = True) -> dict[str, Any]:
        return {"spoken": spoken, "latency_s": latency, "cut_off": cut}

    rows = [
        {
            "expect": "booked",
            "score": "right",
            "readbacks_refused": 0,
            "turns": [turn(0.5), turn(0.7), turn(0.2, spoken=False)],
        },
        {
            "expect": "booked",
            "score": "wrong",
            "readbacks_refused": 1,
            "turns": [turn(None, cut=True), turn(0.9)],
        },
        {"expect": "transfer", "score": "right", "readbacks_refused": 0, "turns": [turn(0.6)]},
        {"expect": "booked", "score": "transferred", "readbacks_refused": 0, "turns": []},
    ]
    s = cs.summarize(rows, percentile)
    assert (s["booked_right"], s["booked_expected"], s["booked_right_pct"]) == (1, 3, 33.3)
    assert s["wrong_bookings"] == 1
    assert (s["transfers_right"], s["transfers_expected"], s["transfers_unexpected"]) == (1, 1, 1)
    assert (s["turns"], s["spoken_turns"], s["cut_offs"], s["cut_off_pct"]) == (6, 5, 1, 20.0)
    assert s["latency_p50_s"] == round(percentile([0.5, 0.7, 0.9, 0.6], 0.5), 3)
    assert s["keys_latency_p50_s"] == 0.2
    assert s["readbacks_refused"] == 1
