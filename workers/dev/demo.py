"""`encombot demo`: a Temporal dev server, a worker and the demo voicemails, on the embedded
defaults (SQLite bookings, local SMS outbox, the demo territory in corpus/demo)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from corpus import DEMO_DIR
from domain.case_state import WorkflowState
from domain.models import Status, VoicemailResult
from domain.names import STATE_QUERY
from workers.client import connect, submit_voicemail
from workers.codec.payload import codec_from_settings
from workers.codec.server import CodecServerConfig, RunningCodecServer, agent_routes, make_app
from workers.dev.devserver import DevServer, free_port
from workers.settings import Settings
from workers.worker.composition import workers_running


@dataclass
class Outcome:
    call_id: str
    status: str
    detail: str
    sms: list[str]
    seconds: float


def demo_settings(base: Settings, data_dir: Path) -> Settings:
    """Everything the demo writes lives under one directory, wiped at each run."""
    sms = base.sms.model_copy(
        update={
            "backend": "outbox",
            "outbox_path": data_dir / "sms-outbox.jsonl",
            "ledger_path": data_dir / "sms-ledger.sqlite",
        }
    )
    booking = base.booking.model_copy(
        update={"database_url": f"sqlite:///{data_dir / 'bookings.sqlite'}"}
    )
    return base.model_copy(update={"data_dir": data_dir, "sms": sms, "booking": booking})


async def wait_settled(
    handle: WorkflowHandle[object, VoicemailResult],
    timeout_s: float,
    *,
    caller_wait_settles: bool = True,
) -> tuple[WorkflowState, VoicemailResult | None]:
    """Until the workflow completes, parks in the agent queue, or waits for the caller's SMS
    reply (address choice)."""
    deadline = time.monotonic() + timeout_s
    while True:
        desc = await handle.describe()
        if desc.status == WorkflowExecutionStatus.COMPLETED:
            result = await handle.result()
            state = await handle.query(STATE_QUERY, result_type=WorkflowState)
            return state, result
        if desc.status != WorkflowExecutionStatus.RUNNING:
            raise RuntimeError(f"{handle.id} ended as {desc.status}")
        state = await handle.query(STATE_QUERY, result_type=WorkflowState)
        if state.status == Status.WAITING_AGENT or (
            caller_wait_settles and state.status == Status.WAITING_CALLER
        ):
            return state, None
        if time.monotonic() > deadline:
            raise TimeoutError(f"{handle.id} still {state.status} after {timeout_s:.0f} s")
        await asyncio.sleep(0.3)


def sms_sent_to(outbox: Path, key_prefix: str) -> list[str]:
    if not outbox.exists():
        return []
    texts = []
    for line in outbox.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if str(record.get("key", "")).startswith(key_prefix):
            texts.append(str(record["text"]))
    return texts


async def process_voicemails(
    client: Client,
    settings: Settings,
    entries: list[dict[str, str]],
    run_id: str,
    console: Console,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("messages vocaux", total=len(entries))
        for entry in entries:
            started = time.monotonic()
            call_id = f"{entry['id']}-{run_id}"
            handle, _ = await submit_voicemail(
                client,
                settings,
                call_id=call_id,
                audio_path=DEMO_DIR / entry["audio"],
                caller_number=entry["caller_number"],
            )
            state, result = await wait_settled(handle, timeout_s=300)
            if result is not None:
                detail = (
                    f"le {result.pickup_date}, secteur {result.sector}, réf. "
                    f"{result.booking_reference}"
                    if result.booking_reference
                    else result.reason
                )
                status = result.status
            elif state.status == Status.WAITING_CALLER:
                status = "waiting_caller"
                detail = "adresse incertaine : l'appelant choisit par SMS (répondre 1, 2…)"
            else:
                assert state.escalation is not None
                status = f"escalated: {state.escalation.reason}"
                detail = state.escalation.detail
            outcomes.append(
                Outcome(
                    call_id=call_id,
                    status=status,
                    detail=detail,
                    sms=sms_sent_to(settings.sms.outbox_path, handle.id),
                    seconds=time.monotonic() - started,
                )
            )
            progress.advance(task)
    return outcomes


def print_outcomes(console: Console, outcomes: list[Outcome]) -> None:
    console.rule("Démo encombot")
    for o in outcomes:
        colour = "green" if o.status in ("booked", "refused") else "yellow"
        console.print(f"[bold]{o.call_id}[/] — [{colour}]{o.status}[/] ({o.seconds:.1f} s)")
        if o.detail:
            console.print(f"  {o.detail}")
        for text in o.sms or ["(pas de SMS)"]:
            console.print(f"  SMS : {text}", highlight=False)
        console.print()


async def run_demo(base: Settings, console: Console, keep_running: bool = False) -> int:
    data_dir = Path(base.data_dir) / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    entries = json.loads((DEMO_DIR / "voicemails.json").read_text(encoding="utf-8"))
    ui_port = 8233 if _port_free(8233) else free_port()
    settings = demo_settings(base, data_dir)
    # Payloads are encrypted (workers/codec/payload.py): the UI decodes them for the reader
    # through a codec server holding the same key (the development key of the demo's data
    # directory).
    origins = [f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"]
    # With the agents' routes: the voicemails' audio links, the lookup keys of bookings.
    config = CodecServerConfig(
        cors_origins=origins,
        dev_mode=True,
        enable_encode=True,
        **agent_routes(settings, create=True),
    )
    codec_app = make_app(codec_from_settings(settings), config)
    console.print("Démarrage du serveur Temporal (dev) et du worker…")
    with (
        RunningCodecServer(codec_app) as codec_server,
        DevServer(
            db_file=data_dir / "temporal.sqlite",
            ui_port=ui_port,
            log_file=data_dir / "temporal.log",
            ui_codec_endpoint=codec_server.url,
        ) as server,
    ):
        settings = settings.model_copy(
            update={
                "temporal": settings.temporal.model_copy(
                    update={"address": server.address, "ui_url": server.ui_url}
                ),
                "agents": settings.agents.model_copy(
                    update={"audio_link_base_url": codec_server.url}
                ),
            }
        )
        client = await connect(settings)
        try:
            async with workers_running(client, settings, "all"):
                outcomes = await process_voicemails(
                    client, settings, entries, time.strftime("%Y%m%d%H%M%S"), console
                )
                print_outcomes(console, outcomes)
                console.print(
                    f"Historiques dans l'interface Temporal : [bold]{server.ui_url}[/]\n"
                    f"File des agents : filtre [bold]NeedsAgent = true[/] "
                    f"({server.ui_url}/namespaces/default/workflows?query=NeedsAgent%3Dtrue)\n"
                    f"SMS (outbox) : {settings.sms.outbox_path}\n"
                    f"Serveur de codec (déchiffrement pour l'interface) : {codec_server.url}"
                )
                if keep_running:
                    console.print("Serveur et worker restent actifs — Ctrl-C pour arrêter.")
                    await asyncio.Event().wait()
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
    return 0


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
