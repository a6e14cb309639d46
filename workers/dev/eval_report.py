"""`encombot eval`'s report: a table of the voicemails (what was predicted against what was
expected), then the metrics against their targets."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from workers.dev.eval_metrics import PER_KIND_COLUMNS

TARGETS: dict[str, tuple[str, float]] = {
    "address_fully_right": (">=", 0.80),
    "wrong_automatic_decisions": ("<=", 0.02),
    "intent_accuracy": (">=", 0.95),
    "items_f1": (">=", 0.85),
    "escalation_rate": ("<=", 0.25),
}


def print_report(metrics: dict[str, Any], console: Console) -> None:
    """The table of the voicemails, then the metrics against their targets."""
    console.print(_voicemail_table(metrics["rows"]))
    console.print(_metrics_table(metrics))
    if metrics.get("per_kind"):
        console.print(per_kind_table(metrics["per_kind"]))


def per_kind_table(per_kind: dict[str, dict[str, int]]) -> Table:
    """Decisions by kind of message: where the automation and its mistakes are."""
    table = Table(title="Per kind")
    columns = PER_KIND_COLUMNS
    table.add_column("kind")
    for col in columns:
        table.add_column(col, justify="right")
    for kind, row in per_kind.items():
        table.add_row(kind, *(str(row.get(col, 0)) for col in columns))
    return table


def _voicemail_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Voicemails", show_lines=False)
    for col in (
        "id",
        "intent",
        "decision",
        "address",
        "expected",
        "sector",
        "ok",
        "name",
        "callback",
        "conf",
    ):
        table.add_column(col)
    for row in rows:
        mark = _mark(row["address_ok"])
        intent = row["intent"]
        if intent != row["expected_intent"]:
            intent = f"[red]{intent}[/] ({row['expected_intent']})"
        sector = row["sector"]
        if row["expected_sector"] and sector != row["expected_sector"]:
            sector = f"{sector or '-'}≠{row['expected_sector']}"
        table.add_row(
            row["id"],
            intent,
            row["decision"],
            row["address"],
            row["expected_address"],
            sector,
            mark,
            # Old metrics files have no name or callback columns.
            _mark(row.get("name_ok")),
            _mark(row.get("callback_ok")),
            f"{row['confidence']:.2f}",
        )
    return table


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("[green]✓[/]" if ok else "[red]✗[/]")


def _metrics_table(metrics: dict[str, Any]) -> Table:
    summary = Table(title="Metrics")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    summary.add_column("target")
    for key in (
        "intent_accuracy",
        "address_fully_right",
        "street_right",
        "number_right",
        "sector_right",
        "address_right_or_offered",
        "items_f1",
        "caller_name_right",
        "callback_number_right",
        "both_requests_heard",
        "escalation_rate",
        "sms_confirmation_rate",
        "address_asked_rate",
        "escalation_or_asked_rate",
        "wrong_automatic_decisions",
    ):
        if key not in metrics:  # a metrics file written before the key existed
            continue
        if key == "both_requests_heard" and not metrics.get("two_request_messages"):
            continue  # a set without such messages
        value = metrics[key]
        target = TARGETS.get(key)
        shown = f"{value:.1%}" if key != "items_f1" else f"{value:.3f}"
        mark = ""
        if target is not None:
            op, bound = target
            met = value >= bound if op == ">=" else value <= bound
            mark = f"{'[green]' if met else '[red]'}{op} {bound:g}[/]"
        summary.add_row(key, shown, mark)
    summary.add_row(
        "transcription s mean / p95",
        f"{metrics['transcription_s_mean']} / {metrics['transcription_s_p95']}",
        "",
    )
    summary.add_row("decisions", json.dumps(metrics["decisions"]), "")
    return summary
