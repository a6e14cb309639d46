"""The question sets `encombot faq eval` measures the FAQ on."""

from __future__ import annotations

from activities.retrieval.corpus import load_entries, load_values
from activities.retrieval.evaluation import load_eval_questions
from domain.french_analysis import words
from tests.activities.retrieval.common import EVAL, FAQ_DIR, HELDOUT


def test_eval_set_is_large_and_not_copied_into_the_corpus() -> None:
    questions = load_eval_questions(EVAL)
    positives = [q for q in questions if q.expected]
    assert len(positives) >= 60
    assert len(questions) - len(positives) >= 10  # out-of-scope questions
    entry_ids = {e.id for e in load_entries(FAQ_DIR, load_values(FAQ_DIR))}
    assert {q.expected for q in positives} == entry_ids  # every entry is asked about
    corpus_questions = {
        " ".join(words(q))
        for e in load_entries(FAQ_DIR, load_values(FAQ_DIR))
        for q in e.all_questions
    }
    for q in [*questions, *load_eval_questions(HELDOUT)]:
        assert " ".join(words(q.question)) not in corpus_questions, q.question
