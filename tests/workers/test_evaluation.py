"""`encombot eval` (workers/dev/evaluation.py): metrics from predictions, the command's wiring,
and the real pipeline on a small subset of ../shared/voicemails (skipped without it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from activities.geo.gazetteer import Gazetteer
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from activities.transcribe import TranscribeActivities
from activities.understand import UnderstandActivities, load_catalogue
from domain.catalogue import Catalogue
from domain.understanding import Territory
from workers.dev.evaluation import (
    EvalOptions,
    EvalPipeline,
    compute_metrics,
    eval_command,
    run_evaluation,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
VOICEMAILS = SHARED / "voicemails"
GEODATA = SHARED / "geodata"
BAN = GEODATA / "adresses-13-marseille-synthetique.csv.gz"
SECTORS = [
    GEODATA / "marseille-arrondissements-osm-20160128.geojson",
    GEODATA / "communes-metropole-aix-marseille-provence.geojson",
]
PREDICTION_KEYS = {
    "id",
    "transcript",
    "intent",
    "decision",
    "address",
    "sector",
    "items",
    "callback_number",
    "confidence",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _entry(vid: str, intent: str, address: dict[str, Any] | None, sector: str = "") -> dict:
    return {
        "id": vid,
        "expected": {
            "intent": intent,
            "address": address,
            "sector": sector,
            "callback_number": "+33612345678",
            "items": [{"item": "frigo", "count": 2}] if intent == "booking" else [],
        },
    }


def _prediction(vid: str, intent: str, decision: str, address: dict | None, sector: str = ""):
    return {
        "id": vid,
        "transcript": "",
        "intent": intent,
        "decision": decision,
        "address": address,
        "sector": sector,
        "items": [{"item": "réfrigérateur", "count": 2}] if intent == "booking" else [],
        "callback_number": "+33612345678",
        "confidence": 0.9,
    }


ADDR = {"housenumber": "4", "street": "Rue Paradis", "postcode": "13006", "citycode": "13206"}


def test_metrics_count_each_rule(catalogue: Catalogue) -> None:
    wrong = dict(ADDR, housenumber="14")
    entries = [
        _entry("a", "booking", ADDR, "13206"),  # booked right
        _entry("b", "booking", ADDR, "13206"),  # booked at the wrong number
        _entry("c", "booking", ADDR, "13206"),  # escalated, right address offered
        _entry("d", "question", None),  # answered
    ]
    predictions = [
        _prediction("a", "booking", "book", ADDR, "13206"),
        _prediction("b", "booking", "book", wrong, "13206"),
        _prediction("c", "booking", "escalate", ADDR, "13206"),
        _prediction("d", "question", "answer", None),
    ]
    m = compute_metrics(entries, predictions, catalogue, stt_seconds=[1.0, 2.0, 3.0, 4.0])
    assert m["messages"] == 4
    assert m["booking_messages"] == 3
    assert m["intent_accuracy"] == 1.0
    assert m["address_fully_right"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["street_right"] == 1.0
    assert m["number_right"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["sector_right"] == 1.0
    # "frigo" and "réfrigérateur" are the same catalogue item.
    assert m["items_f1"] == 1.0
    assert m["callback_number_right"] == 1.0
    assert m["escalation_rate"] == 0.25
    assert m["wrong_automatic_decisions"] == 0.25
    assert m["decisions"] == {"answer": 1, "book": 2, "escalate": 1}
    assert m["transcription_s_mean"] == 2.5
    assert m["transcription_s_p95"] == pytest.approx(3.85)


def test_a_booking_for_a_question_is_a_wrong_automatic_decision(catalogue: Catalogue) -> None:
    entries = [_entry("q", "question", None)]
    predictions = [_prediction("q", "booking", "book", ADDR, "13206")]
    m = compute_metrics(entries, predictions, catalogue)
    assert m["wrong_automatic_count"] == 1
    assert m["intent_accuracy"] == 0.0


def test_items_f1_counts_quantities(catalogue: Catalogue) -> None:
    entries = [_entry("a", "booking", ADDR, "13206")]
    pred = _prediction("a", "booking", "book", ADDR, "13206")
    pred["items"] = [{"item": "frigo", "count": 1}, {"item": "chaise", "count": 1}]
    m = compute_metrics(entries, [pred], catalogue)
    # 1 of 2 fridges found, 1 chair too many: P = 1/2, R = 1/2.
    assert m["items_f1"] == 0.5


def test_the_command_registers_with_typer() -> None:
    app = typer.Typer()
    app.command("eval")(eval_command)

    @app.command("other")
    def other() -> None:  # a second command, as in the real CLI
        pass

    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--ban", "--sectors", "--predictions", "--metrics", "--rescore"):
        assert option in result.output


def test_the_command_rejects_a_missing_set(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("eval")(eval_command)

    @app.command("other")
    def other() -> None:
        pass

    result = CliRunner().invoke(
        app,
        ["eval", str(tmp_path / "nope"), "--ban", "x", "--sectors", "y", "--predictions", "p"],
    )
    assert result.exit_code != 0


# --------------------------------------------------------------------------- real pipeline


@pytest.fixture(scope="module")
def pipeline(
    stt: TranscribeActivities,
    catalogue: Catalogue,
    territory: Territory,
    tmp_path_factory: pytest.TempPathFactory,
) -> EvalPipeline:
    if not (VOICEMAILS / "voicemails.json").is_file() or not BAN.is_file():
        pytest.skip(f"shared voicemails or geodata not found under {SHARED}")
    gazetteer = Gazetteer.load(BAN, tmp_path_factory.mktemp("gz-cache"))
    geocode = GeocodeActivities(gazetteer, SectorIndex.load(SECTORS), 0.82, territory)
    understand = UnderstandActivities(catalogue, territory)
    return EvalPipeline(stt, understand, geocode, catalogue, EvalOptions())


def test_real_pipeline_on_a_small_subset(pipeline: EvalPipeline, tmp_path: Path) -> None:
    # One booking whose address is transcribed cleanly, one question.
    predictions, metrics = run_evaluation(VOICEMAILS, pipeline, ids=["vm009", "vm005"])
    assert sorted(p["id"] for p in predictions) == ["vm005", "vm009"]
    for p in predictions:
        assert set(p) == PREDICTION_KEYS
        assert p["decision"] in {
            "book",
            "confirm_by_sms",
            "escalate",
            "answer",
            "refuse",
            "out_of_territory",
            "cancel",
        }
        json.dumps(p)  # plain JSON
    by_id = {p["id"]: p for p in predictions}
    booking, question = by_id["vm009"], by_id["vm005"]
    assert booking["intent"] == "booking"
    assert booking["decision"] in ("book", "confirm_by_sms")
    assert booking["address"]["street"] == "Rue de Roubaix"
    assert booking["address"]["housenumber"] == "13"
    assert booking["sector"] == "13213"
    assert {"item", "count"} <= set(booking["items"][0])
    assert question["decision"] == "answer"
    assert question["address"] is None
    assert metrics["messages"] == 2
    assert metrics["address_fully_right"] == 1.0
    assert metrics["wrong_automatic_decisions"] == 0.0
    details = {d["id"]: d for d in metrics["per_voicemail"]}
    assert details["vm009"]["timings_s"]["rescore"] > 0
