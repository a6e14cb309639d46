"""What the FAQ tests share: the shipped corpus and question sets, the service's name and
number, and how a measured report is printed (`pytest -s`)."""

from __future__ import annotations

from typing import Any

from activities.config import FaqSettings

FAQ_DIR = FaqSettings().corpus_dir
EVAL = FAQ_DIR / "eval_questions.yaml"
HELDOUT = FAQ_DIR / "eval_heldout.yaml"
SERVICE, PHONE = "Encombrants Métropole", "0 800 94 94 94"


def print_report(name: str, report: Any) -> None:
    modes = ", ".join(f"{m} top-1 {s.top1:.1%} top-3 {s.top3:.1%}" for m, s in report.modes.items())
    print(f"\n{name}: {report.questions} questions: {modes}")
