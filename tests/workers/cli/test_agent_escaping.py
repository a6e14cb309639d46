"""Issue 17, defect 7: what `encombot agent show` prints of a caller's text."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner


def test_agent_show_prints_no_escape_bidi_or_markup_of_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`encombot agent show` on a case whose SMS, summary and details carry terminal escapes,
    a bidi override and rich markup: none of it reaches the terminal as such."""
    from workers.cli import agent as agent_cli
    from workers.cli.main import app

    hostile = "\x1b]8;;https://evil.example\x07lien\x1b]8;;\x07 \x1b[2J\u202eenilno [red]x[/]"
    view = agent_cli.CaseView(
        workflow_id="sms-m-1",
        workflow_type="IncomingSmsWorkflow",
        execution_status="RUNNING",
        summary=hostile,
        current_details=f"- 22:00 : {hostile}",
        state={"messages": [{"text": hostile}]},
    )
    monkeypatch.setattr(agent_cli, "run_agent", lambda settings, work: view)
    monkeypatch.setattr(agent_cli, "console", Console(file=(out := io.StringIO()), width=200))
    for args in (["agent", "show", "sms-m-1"], ["agent", "show", "sms-m-1", "--json"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        printed = out.getvalue() + result.output
        assert "\x1b" not in printed and "\u202e" not in printed and "\x07" not in printed
        assert "evil.example" not in printed  # the OSC 8 hyperlink is dropped whole
    assert "[red]x[/]" in out.getvalue()  # the caller's markup printed, not applied
