"""`encombot faq`: index the FAQ, ask it a question, measure it.

encombot faq index                 # (re)build the index (Elasticsearch: the FAQ index)
encombot faq ask "vous prenez les gravats ?"
encombot faq eval [--questions corpus/faq/eval_questions.yaml] [--fusion rrf] [--json]
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from activities.config import FaqSettings
from workers.cli.context import cli_settings

if TYPE_CHECKING:
    from activities.faq import FaqActivities
    from workers.settings import Settings

# No haystack telemetry, set before the FAQ engine is imported: see workers/worker/composition.py.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

app = typer.Typer(help="FAQ (questions des appelants) : index, ask, eval.", no_args_is_help=True)
console = Console()

DEFAULT_QUESTIONS = FaqSettings().corpus_dir / "eval_questions.yaml"


def _activities(faq: FaqSettings, settings: Settings, index: bool = True) -> FaqActivities:
    from activities.faq import FaqActivities
    from activities.retrieval.corpus import load_values
    from activities.retrieval.retriever import FaqRetriever

    values = load_values(
        faq.corpus_dir,
        {
            "agent_phone": settings.sms.agent_phone,
            "service_name": settings.sms.service_name,
            **faq.values,
        },
    )
    acts = FaqActivities(
        FaqRetriever(faq, values),
        service_name=settings.sms.service_name,
        agent_phone=settings.sms.agent_phone,
    )
    if index:
        acts.ensure_indexed()
    return acts


@app.command()
def index(
    ctx: typer.Context,
    recreate: Annotated[
        bool, typer.Option(help="drop and recreate the index (Elasticsearch) first")
    ] = True,
) -> None:
    """Build the FAQ index from corpus/faq (Markdown -> documents -> embeddings -> store)."""
    settings = cli_settings(ctx)
    faq = settings.faq
    acts = _activities(faq, settings, index=False)
    n = acts.retriever.index(recreate=recreate)
    target = (
        f"{faq.elasticsearch_url} index {faq.elasticsearch_index}"
        if faq.backend == "elasticsearch"
        else "in-memory store (rebuilt by each worker at start)"
    )
    console.print(f"[green]{n} documents[/] indexed into {target}")


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="the question, in French")],
    as_json: Annotated[bool, typer.Option("--json", help="print the activity result")] = False,
) -> None:
    """Answer one question as the `answer_question` activity would."""
    settings = cli_settings(ctx)
    result = _activities(settings.faq, settings).answer(question)
    if as_json:
        console.print_json(json.dumps(asdict(result), ensure_ascii=False))
        return
    if not result.entry_id:
        console.print("[yellow]aucune réponse[/] : la question irait à un conseiller")
        raise typer.Exit(1)
    verdict = "[green]confiant[/]" if result.confident else "[yellow]pas confiant → conseiller[/]"
    console.print(f"[bold]{result.entry_id}[/] — {result.question}")
    console.print(f"score {result.score:.2f} ({verdict})")
    console.print(f"SMS ({result.segments} × {result.encoding}) : {result.sms_text}")
    for c in result.candidates[1:]:
        console.print(f"  ensuite : {c.entry_id} ({c.score:.2f}) — {c.question}")


@app.command("eval")
def eval_(
    ctx: typer.Context,
    questions: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="YAML question set")
    ] = DEFAULT_QUESTIONS,
    fusion: Annotated[str, typer.Option(help="score | rrf (default: the settings')")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
    show_misses: Annotated[bool, typer.Option(help="list hybrid misses")] = True,
) -> None:
    """Top-1 / top-3 of BM25 alone, embeddings alone and hybrid on a question set, and how
    the confidence threshold splits answerable from out-of-scope questions."""
    from activities.retrieval.evaluation import evaluate, load_eval_questions

    settings = cli_settings(ctx)
    faq = settings.faq
    if fusion:
        if fusion not in ("score", "rrf"):
            raise typer.BadParameter("fusion must be score or rrf")
        faq = faq.model_copy(update={"fusion": fusion})
    acts = _activities(faq, settings)
    report = evaluate(acts.retriever, load_eval_questions(questions))
    if as_json:
        data: dict[str, Any] = asdict(report)
        data.pop("scores")
        console.print_json(json.dumps(data, ensure_ascii=False))
        return
    table = Table(title=f"{questions.name}: {report.questions} questions ({faq.fusion} fusion)")
    table.add_column("retrieval")
    table.add_column("top-1", justify="right")
    table.add_column("top-3", justify="right")
    for mode, score in report.modes.items():
        table.add_row(mode, f"{score.top1:.1%}", f"{score.top3:.1%}")
    console.print(table)
    console.print(
        f"min_score {faq.min_score:.2f}: answered right {report.answered_right:.1%}, "
        f"confidently wrong {report.confident_wrong:.1%}, out-of-scope answered "
        f"{report.out_of_scope_confident:.1%} of {report.out_of_scope}; "
        f"{report.seconds_per_question * 1000:.0f} ms a question"
    )
    if show_misses and "hybrid" in report.modes:
        for q, expected, got in report.modes["hybrid"].misses:
            console.print(f"  [yellow]miss[/] {q!r}: expected {expected}, got {got}")


if __name__ == "__main__":
    app()
