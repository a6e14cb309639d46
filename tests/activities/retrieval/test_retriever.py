"""Retrieval quality (the numbers of issue 7): hybrid, each retriever alone, misspelt terms,
reciprocal rank fusion. The e5 model is loaded once per session and document embeddings come
from the on-disk cache (~/.cache/encombot/faq)."""

from __future__ import annotations

import pytest

from activities.config import FaqSettings
from activities.retrieval.evaluation import evaluate, load_eval_questions
from activities.retrieval.retriever import FaqRetriever
from tests.activities.retrieval.common import EVAL, HELDOUT, print_report


def test_question_set_numbers(retriever: FaqRetriever) -> None:
    """Issue 7's targets: hybrid top-1 >= 90 %, top-3 >= 97 %, and a threshold that sends
    out-of-scope questions to an agent."""
    report = evaluate(retriever, load_eval_questions(EVAL))
    print_report("eval_questions", report)
    hybrid = report.modes["hybrid"]
    assert hybrid.top1 >= 0.90, hybrid.misses
    assert hybrid.top3 >= 0.97, hybrid.misses
    # Each retriever alone does worse: the fusion is what reaches the targets.
    assert report.modes["bm25"].top1 < hybrid.top1
    assert report.modes["embedding"].top1 < hybrid.top1
    assert report.modes["bm25"].top1 >= 0.75
    assert report.modes["embedding"].top1 >= 0.75
    # Confidence at FaqSettings.min_score.
    assert report.answered_right >= 0.75
    assert report.confident_wrong <= 0.05
    assert report.out_of_scope_confident <= 0.1


def test_held_out_questions(retriever: FaqRetriever) -> None:
    report = evaluate(retriever, load_eval_questions(HELDOUT))
    print_report("eval_heldout", report)
    assert report.modes["hybrid"].top1 >= 0.85
    assert report.modes["hybrid"].top3 >= 0.92
    assert report.out_of_scope_confident == 0.0


def test_bm25_alone_when_embeddings_are_off(faq_settings: FaqSettings) -> None:
    r = FaqRetriever(faq_settings.model_copy(update={"embedding": False}))
    r.index()
    report = evaluate(r, load_eval_questions(EVAL))
    print_report("eval_questions, embedding off", report)
    assert list(report.modes) == ["bm25"]
    assert report.modes["bm25"].top1 >= 0.75
    assert report.modes["bm25"].top3 >= 0.90
    hit = r.rankings("vous ramassez les gravar ?").hybrid[0]
    assert hit.entry_id == "gravats"  # "gravar" corrected against the index vocabulary


def test_bm25_corrects_misspelt_terms_against_the_index(faq_settings: FaqSettings) -> None:
    r = FaqRetriever(faq_settings.model_copy(update={"embedding": False}))
    r.index()
    store = r.store
    assert store.query_terms("des parpings") == store.analyzer.analyze("des parpaings")
    assert store.query_terms("amiente") == ["amiante"]  # closest prefix wins a tie
    assert store.query_terms("un frigidere") == ["refrigerateur"]  # via the synonym
    assert store.query_terms("passeport") == ["passeport"]  # nothing close: left alone
    assert r.rankings("des parpings").bm25[0].entry_id == "gravats"


@pytest.mark.slow
def test_reciprocal_rank_fusion_numbers(faq_settings: FaqSettings) -> None:
    """RRF is available (`fusion: rrf`) but ranks worse on this corpus: measured, not hidden."""
    r = FaqRetriever(faq_settings.model_copy(update={"fusion": "rrf"}))
    r.index()
    report = evaluate(r, load_eval_questions(EVAL))
    print_report("eval_questions, rrf fusion", report)
    assert report.modes["hybrid"].top3 >= 0.95
