"""The fusion of the BM25 and dense rankings."""

from __future__ import annotations

import pytest
from haystack import Document

from activities.retrieval.components import HybridJoiner


def test_fusion_modes() -> None:
    bm25 = [Document(id="a", score=10.0), Document(id="b", score=9.0)]
    dense = [
        Document(id="b", score=0.95),
        Document(id="a", score=0.80),
        Document(id="c", score=0.7),
    ]
    scored = HybridJoiner("score").run(bm25=bm25, dense=dense)["documents"]
    # BM25 barely prefers a, the embeddings clearly prefer b: the scores say b.
    assert [d.id for d in scored] == ["b", "a", "c"]
    assert scored[0].score == pytest.approx(0.5 * 0.9 + 0.5 * 1.0)
    rrf = HybridJoiner("rrf").run(bm25=bm25, dense=dense)["documents"]
    # Ranks alone: a and b tie (first once, second once).
    assert rrf[0].score == pytest.approx(rrf[1].score)
    assert rrf[2].id == "c"
    assert HybridJoiner("rrf").run(bm25=[], dense=[])["documents"] == []
