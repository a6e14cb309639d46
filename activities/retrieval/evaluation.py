"""Measuring the FAQ (`encombot faq eval`): top-1 / top-3 of each retrieval mode on a question
set, and how the confidence threshold splits answerable from out-of-scope questions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from activities.retrieval.retriever import FaqRetriever, Mode


@dataclass
class EvalQuestion:
    question: str
    expected: str | None  # None: out of scope, must not be confident


def load_eval_questions(path: Path) -> list[EvalQuestion]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return [
        EvalQuestion(str(q["q"]), str(q["expected"]) if q.get("expected") else None)
        for q in raw.get("questions", [])
    ]


@dataclass
class ModeScore:
    top1: float
    top3: float
    misses: list[tuple[str, str, list[str]]] = field(default_factory=list)


@dataclass
class EvalReport:
    questions: int
    out_of_scope: int
    modes: dict[str, ModeScore]
    # Confidence at min_score: answerable questions answered (right entry, confident),
    # answerable questions confidently wrong, out-of-scope questions confidently answered.
    answered_right: float = 0.0
    confident_wrong: float = 0.0
    out_of_scope_confident: float = 0.0
    seconds_per_question: float = 0.0
    scores: list[tuple[str, str | None, str, float]] = field(default_factory=list)


def evaluate(retriever: FaqRetriever, questions: Sequence[EvalQuestion]) -> EvalReport:
    positives = [q for q in questions if q.expected]
    negatives = [q for q in questions if not q.expected]
    modes: list[Mode] = ["bm25", "embedding", "hybrid"] if retriever.model else ["bm25"]
    found = {m: [0, 0] for m in modes}
    misses: dict[str, list[tuple[str, str, list[str]]]] = {m: [] for m in modes}
    right = wrong = neg_conf = 0
    scores = []
    started = time.monotonic()
    for q in questions:
        r = retriever.rankings(q.question)
        conf = retriever.confidence(r)
        confident = conf >= retriever.settings.min_score
        top = r.hybrid[0].entry_id if r.hybrid else ""
        scores.append((q.question, q.expected, top, conf))
        if not q.expected:
            neg_conf += confident
            continue
        for m in modes:
            ids = [h.entry_id for h in r.get(m)[:3]]
            found[m][0] += bool(ids) and ids[0] == q.expected
            found[m][1] += q.expected in ids
            if not ids or ids[0] != q.expected:
                misses[m].append((q.question, q.expected, ids))
        if confident and top == q.expected:
            right += 1
        elif confident:
            wrong += 1
    n = max(1, len(positives))
    return EvalReport(
        questions=len(positives),
        out_of_scope=len(negatives),
        modes={m: ModeScore(found[m][0] / n, found[m][1] / n, misses[m]) for m in modes},
        answered_right=right / n,
        confident_wrong=wrong / n,
        out_of_scope_confident=neg_conf / max(1, len(negatives)),
        seconds_per_question=(time.monotonic() - started) / max(1, len(questions)),
        scores=scores,
    )
