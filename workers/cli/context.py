"""The settings of one `encombot` run, built once and handed to every command through the
click context (`ctx.obj`), sub-commands included.

Built on first use rather than at start: `codec-key` and every `--help` need none, and must work
whatever the environment holds."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from workers.settings import Settings


@dataclass
class CliContext:
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings()
        return self._settings


def cli_settings(ctx: typer.Context) -> Settings:
    """The run's settings (a command registered on another app gets its own context object)."""
    return ctx.ensure_object(CliContext).settings()
