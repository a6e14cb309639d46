"""`encombot eval`: the command of the accuracy harness (workers/dev/evaluation.py): the
pipeline built from the run's settings, run on a voicemail set, its predictions and metrics
written, its report printed. Registered in `workers/cli/main.py` as
`app.command("eval")(eval_command)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from domain.decision import CONFIRM_THRESHOLD
from workers.cli.context import cli_settings
from workers.dev.eval_report import print_report
from workers.dev.evaluation import EvalOptions, build_pipeline, run_evaluation


def eval_command(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, help="voicemail set: voicemails.json + audio"),
    ],
    ban: Annotated[
        Path, typer.Option("--ban", exists=True, dir_okay=False, help="BAN CSV[.gz] gazetteer")
    ],
    sectors: Annotated[
        list[Path],
        typer.Option("--sectors", exists=True, dir_okay=False, help="sector GeoJSON (repeat)"),
    ],
    predictions: Annotated[
        Path, typer.Option("--predictions", dir_okay=False, help="write predictions here")
    ],
    metrics: Annotated[
        Path | None, typer.Option("--metrics", dir_okay=False, help="write metrics JSON here")
    ] = None,
    search: Annotated[
        bool, typer.Option(help="search the gazetteer for the street said (phonetic)")
    ] = True,
    rescore: Annotated[
        bool, typer.Option(help="re-score candidate addresses against the audio")
    ] = True,
    refine_items: Annotated[
        bool, typer.Option(help="let the audio choose items the words do not name")
    ] = True,
    second_pass: Annotated[
        bool, typer.Option(help="second Whisper pass on the address with candidate prompts")
    ] = False,
    book_threshold: Annotated[
        float,
        typer.Option(
            help="confidence needed to book without asking (0: the committed ones, 0.99 for "
            "an address the audio voted on, 0.90 otherwise)"
        ),
    ] = 0.0,
    confirm_threshold: Annotated[
        float, typer.Option(help="confidence needed to offer an address by SMS")
    ] = CONFIRM_THRESHOLD,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="evaluate these voicemail ids only")
    ] = None,
    transcript_cache: Annotated[
        Path | None,
        typer.Option(
            "--transcript-cache",
            file_okay=False,
            help="development: reuse first-pass transcripts kept in this directory",
        ),
    ] = None,
) -> None:
    """Run the real pipeline on a voicemail set and measure it (no SMS, no booking)."""
    console = Console()
    options = EvalOptions(
        search=search,
        rescore=rescore,
        refine_items=refine_items,
        second_pass=second_pass,
        book_threshold=book_threshold,
        confirm_threshold=confirm_threshold,
    )
    pipeline = build_pipeline(cli_settings(ctx), ban, sectors, options, transcript_cache)

    def progress(vid: str, pred: dict[str, Any]) -> None:
        console.print(f"{vid}: {pred['intent']} → {pred['decision']}", highlight=False)

    preds, report = run_evaluation(directory, pipeline, ids=only or (), progress=progress)
    predictions.parent.mkdir(parents=True, exist_ok=True)
    predictions.write_text(json.dumps(preds, ensure_ascii=False, indent=2), encoding="utf-8")
    print_report(report, console)
    if metrics is not None:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
