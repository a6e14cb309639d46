"""`encombot eval`'s harness (workers/dev/evaluation.py): the real pipeline on a small subset
of ../shared/voicemails (skipped without it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities.geo.gazetteer import Gazetteer
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from activities.speech.engine import SpeechEngine
from activities.understand import UnderstandActivities, load_catalogue
from domain.catalogue import Catalogue
from domain.understanding import Territory
from tests.conftest import SHARED
from workers.dev.evaluation import EvalOptions, EvalPipeline, items_to_collect, run_evaluation

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
    "caller_name",
    "question",
    "callback_number",
    "confidence",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def pipeline(
    stt: SpeechEngine,
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


def test_a_run_keeps_what_its_decision_stands_on(pipeline: EvalPipeline) -> None:
    """bench/calibrate_audio.py decides again at other thresholds from the request's own
    decision and the address lookup's result: at the run's threshold they give its decision."""
    from domain.decision import ask_instead
    from domain.pipeline import decide_on_address

    entries = {e["id"]: e for e in json.loads((VOICEMAILS / "voicemails.json").read_text())}
    booking = pipeline.run(entries["vm009"], VOICEMAILS)
    assert booking.request == "" and booking.geo is not None
    again = ask_instead(decide_on_address(booking.geo), booking.geo, can_text=booking.can_text)
    assert again.kind == booking.prediction["decision"]
    question = pipeline.run(entries["vm005"], VOICEMAILS)
    assert question.request == "answer" == question.prediction["decision"]


def test_a_question_or_a_cancellation_predicts_no_item_to_collect() -> None:
    """The item a question asks about is its subject, a cancellation's items are a booking's
    made before: the bot collects nothing (the expectations list none in items)."""
    from domain.decision import Decision, DecisionKind, decide_request
    from domain.models import Intent, ItemCount, Understanding

    asked = Understanding(Intent.QUESTION.value, items=[ItemCount("sommier", 1)], confidence=0.9)
    decision = decide_request(asked)
    assert decision is not None and decision.kind == DecisionKind.ANSWER
    assert items_to_collect(asked, decision) == []
    cancel = Understanding(Intent.CANCEL.value, items=[ItemCount("canapé", 1)])
    decision = decide_request(cancel)
    assert decision is not None and decision.kind == DecisionKind.CANCEL
    assert items_to_collect(cancel, decision) == []
    booking = Understanding(Intent.BOOKING.value, items=[ItemCount("sommier", 2)])
    assert items_to_collect(booking, Decision(DecisionKind.CONFIRM_BY_SMS)) == [
        {"item": "sommier", "count": 2}
    ]
