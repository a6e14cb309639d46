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
            settings = Settings()
            refuse_weak_secrets(settings)
            if settings.production:
                refuse_unless_ready(settings)
            self._settings = settings
        return self._settings


def refuse_weak_secrets(settings: Settings) -> None:
    """Any command: a secret that is set must not be a placeholder or weak (exit 2), whether
    or not this command uses it, so a bad `.env` shows on the first command run with it."""
    from workers.secret_check import secret_problems

    problems = secret_problems(settings)
    if problems:
        for problem in problems:
            typer.echo(f"secret : {problem}", err=True)
        raise typer.Exit(2)


def refuse_unless_ready(settings: Settings) -> None:
    """Production mode: every reason not to serve callers, then exit 2."""
    from workers.site_config import production_problems

    problems = production_problems(settings)
    if problems:
        for problem in problems:
            typer.echo(f"production : {problem}", err=True)
        raise typer.Exit(2)


def cli_settings(ctx: typer.Context) -> Settings:
    """The run's settings (a command registered on another app gets its own context object)."""
    return ctx.ensure_object(CliContext).settings()
