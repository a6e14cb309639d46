"""`encombot eval`'s command (workers/cli/eval.py): its wiring into typer."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from workers.cli.eval import eval_command


def test_the_command_registers_with_typer() -> None:
    app = typer.Typer()
    app.command("eval")(eval_command)

    @app.command("other")
    def other() -> None:  # a second command, as in the real CLI
        pass

    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--ban", "--sectors", "--predictions", "--metrics", "--rescore"):
        assert option in result.output


def test_the_command_rejects_a_missing_set(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("eval")(eval_command)

    @app.command("other")
    def other() -> None:
        pass

    result = CliRunner().invoke(
        app,
        ["eval", str(tmp_path / "nope"), "--ban", "x", "--sectors", "y", "--predictions", "p"],
    )
    assert result.exit_code != 0
