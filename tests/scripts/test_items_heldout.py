"""The items bench of issue 16 (bench/items_heldout.py): micro counts as `encombot eval`
makes them, and a split read end to end, reproducibly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from activities.geo.territory_file import load_territory
from activities.understand import load_catalogue
from scripts.corpus.territory import Territory as CorpusTerritory

_PATH = Path(__file__).resolve().parents[2] / "bench" / "items_heldout.py"
_spec = importlib.util.spec_from_file_location("items_heldout", _PATH)
assert _spec is not None and _spec.loader is not None
ih = importlib.util.module_from_spec(_spec)
sys.modules["items_heldout"] = ih
_spec.loader.exec_module(ih)


def test_scores_count_items_not_messages() -> None:
    score = ih.Score()
    assert not score.add({"chaise": 4, "table": 1}, {"chaise": 3, "lit": 1}, ["pneu"])
    assert not score.add({"chaise": 1}, {"chaise": 1, "pneu": 1}, ["pneu"])
    row = score.row()
    # tp 3 + 1, fp 1 (lit) + 1 (pneu), fn 1 (chaise) + 1 (table)
    assert (row["precision"], row["recall"]) == (round(4 / 6, 4), round(4 / 6, 4))
    assert row["refused_booked"] == 1 and row["messages_exact"] == 0.0


def test_synonyms_count_as_their_item() -> None:
    assert ih.canonical([("frigo", 1), ("réfrigérateur", 2)], load_catalogue()) == {
        "réfrigérateur": 3
    }


def test_a_split_end_to_end_is_reproducible(territory: CorpusTerritory) -> None:
    catalogue, project_territory = load_catalogue(), load_territory()
    runs = [
        ih.run_split("dev", 18, catalogue, project_territory, territory, show=False)
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert runs[0]["clean"]["messages"] == 18
    assert set(runs[0]["per_family"]) == set(ih.item_talk.FAMILIES)
