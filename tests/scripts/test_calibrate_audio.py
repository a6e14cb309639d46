"""The audio path's fold calibration (bench/calibrate_audio.py): only messages with audio are
run, and the outcomes kept as the run goes are read back as they were."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from domain.models import AddressMatch, GeocodeResult, GeocodeStatus

_ROOT = Path(__file__).resolve().parents[2]
for name in ("calibrate_folds", "calibrate_audio"):
    spec = importlib.util.spec_from_file_location(f"bench.{name}", _ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench.{name}"] = module  # its dataclasses and pickles look it up
    spec.loader.exec_module(module)
ca = sys.modules["bench.calibrate_audio"]
cf = sys.modules["bench.calibrate_folds"]


def test_only_the_messages_with_audio_are_run(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.wav").write_bytes(b"RIFF")
    entries = [{"id": "a", "audio": "audio/a.wav"}, {"id": "b", "audio": "audio/b.wav"}]
    (tmp_path / "voicemails.json").write_text(json.dumps(entries), encoding="utf-8")
    assert [e["id"] for e in ca._with_audio(tmp_path)] == ["a"]


def test_the_outcomes_kept_are_read_back(tmp_path: Path) -> None:
    match = AddressMatch("4", "Rue Paradis", "13006", "13206", "Marseille", 0, 0, 0.97, "13206")
    geo = GeocodeResult(GeocodeStatus.MATCHED.value, match=match)
    kept = {"m1": cf.Outcome("m1", "ff_siwis", "booking", True, "", geo, {}, True, "gsm")}
    path = tmp_path / "outcomes.pickle"
    ca._save(path, kept)
    back = ca._load(path)
    assert back["m1"].geo == geo and back["m1"].condition == "gsm"
    assert ca._load(tmp_path / "none.pickle") == {}


def test_the_eval_figures_come_from_the_predictions_kept(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    expected = {
        "intent": "booking",
        "name": "Jean Martin",
        "callback_number": "+33612345678",
        "items": [{"item": "lit", "count": 2}],
        "outcome": "booked",
    }
    entries = []
    for vid in ("a", "b", "c"):
        (tmp_path / "audio" / f"{vid}.wav").write_bytes(b"RIFF")
        entries.append({"id": vid, "audio": f"audio/{vid}.wav", "expected": expected})
    (tmp_path / "voicemails.json").write_text(json.dumps(entries), encoding="utf-8")
    said = {
        "intent": "booking",
        "decision": "escalate",
        "items": [{"item": "lit", "count": 2}],
        "caller_name": "Jean Martin",
        "callback_number": "+33612345678",
    }
    outcomes = [
        cf.Outcome("a", "s", "booking", True, "", None, expected, prediction={**said, "id": "a"}),
        cf.Outcome(
            "b",
            "s",
            "booking",
            True,
            "",
            None,
            expected,
            prediction={**said, "id": "b", "items": []},
        ),
        # Kept before predictions were: left out, not counted as wrong.
        cf.Outcome("c", "s", "booking", True, "", None, expected),
    ]
    figures = ca.eval_figures(tmp_path, outcomes)
    assert figures["messages"] == 2
    assert figures["intent_accuracy"] == 1.0 and figures["caller_name_right"] == 1.0
    assert figures["items_recall"] == 0.5 and figures["items_precision"] == 1.0
    assert figures["escalation_rate"] == 1.0
    assert ca.eval_figures(tmp_path, outcomes[2:]) == {}
