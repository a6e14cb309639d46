"""`encombot agent list | show | resolve`: the agent queue from a terminal, for those who prefer
it to the Temporal Web UI. Same data, same rules: `list` is the visibility query
`NeedsAgent = true` (the UI's saved view), `show` prints the workflow's current details and its
`state` query, `resolve` sends the `resolve` Update, whose validator may reject it with a
readable message (the workflow then keeps waiting).

The async functions below are the implementation (tests call them); the typer commands only
parse arguments and print."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from domain import names
from domain.models import EscalationReason, ResolveInput, ResolveResult

if TYPE_CHECKING:
    from temporalio.client import Client

    from workflows.voicemail import WorkflowState

agent_app = typer.Typer(
    help="Agent queue: escalated calls waiting for a person.", no_args_is_help=True
)
console = Console()

WORKFLOW_METADATA_QUERY = "__temporal_workflow_metadata"
_SECTOR = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class AgentCliError(Exception):
    """A problem to print to the agent (bad input, unknown call)."""


class ResolveRejected(Exception):
    """The workflow refused the correction (validator or handler); it keeps waiting."""

    def __init__(self, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # An ApplicationError's details (encrypted in the history, decoded here): e.g. the
        # addresses close to the one refused.
        self.details = details or []


@dataclass
class AgentCase:
    workflow_id: str
    call_id: str
    reason: str
    sector: str
    waiting_since: datetime | None
    status: str


@dataclass
class CaseView:
    workflow_id: str
    execution_status: str
    summary: str
    current_details: str
    state: WorkflowState | None


def needs_agent_query(sector: str = "", reason: str = "") -> str:
    """The visibility query of the agent queue (also the UI's saved view)."""
    parts = [f"{names.SA_NEEDS_AGENT} = true"]
    if sector:
        if not _SECTOR.match(sector):
            raise AgentCliError(f"invalid sector {sector!r}")
        parts.append(f'{names.SA_SECTOR} = "{sector}"')
    if reason:
        if reason not in {r.value for r in EscalationReason}:
            known = ", ".join(r.value for r in EscalationReason)
            raise AgentCliError(f"unknown reason {reason!r} (one of: {known})")
        parts.append(f'{names.SA_REASON} = "{reason}"')
    return " AND ".join(parts)


def workflow_id_for(call: str) -> str:
    """`agent show` accepts the call id or the workflow id that `agent list` prints."""
    prefix = names.voicemail_workflow_id("")
    return call if call.startswith(prefix) else names.voicemail_workflow_id(call)


def _sa(execution: Any, name: str) -> Any:
    for pair in execution.typed_search_attributes:
        if pair.key.name == name:
            return pair.value
    return None


async def list_cases(
    client: Client, sector: str = "", reason: str = "", limit: int = 200
) -> list[AgentCase]:
    """Escalated cases, oldest wait first."""
    cases: list[AgentCase] = []
    prefix = names.voicemail_workflow_id("")
    async for wf in client.list_workflows(needs_agent_query(sector, reason), limit=limit):
        since = _sa(wf, names.SA_WAITING_SINCE)
        cases.append(
            AgentCase(
                workflow_id=wf.id,
                call_id=wf.id.removeprefix(prefix),
                reason=_sa(wf, names.SA_REASON) or "",
                sector=_sa(wf, names.SA_SECTOR) or "",
                waiting_since=since,
                status=_sa(wf, names.SA_STATUS) or "",
            )
        )
    far = datetime.max.replace(tzinfo=UTC)
    cases.sort(key=lambda c: (c.waiting_since or far, c.workflow_id))
    return cases


async def show_case(client: Client, call: str) -> CaseView:
    from temporalio.api.sdk.v1 import WorkflowMetadata
    from temporalio.service import RPCError

    from workflows.voicemail import WorkflowState

    handle = client.get_workflow_handle(workflow_id_for(call))
    try:
        desc = await handle.describe()
    except RPCError as exc:
        raise AgentCliError(f"{handle.id}: {exc.message}") from None
    summary = await desc.static_summary() or ""
    details, state = "", None
    try:
        meta = await handle.query(WORKFLOW_METADATA_QUERY, result_type=WorkflowMetadata)
        details = meta.current_details
        state = await handle.query(names.STATE_QUERY, result_type=WorkflowState)
    except RPCError as exc:
        # A closed workflow is still queried by replay, which needs a worker; say so.
        details = f"(requête impossible : {exc.message})"
    return CaseView(
        workflow_id=handle.id,
        execution_status=desc.status.name if desc.status else "?",
        summary=summary,
        current_details=details,
        state=state,
    )


def parse_resolution(text: str, agent_id: str = "") -> ResolveInput:
    """The agent's JSON as a `ResolveInput`; unknown fields and wrong types are refused here
    rather than by the workflow."""
    from temporalio.converter import value_to_type

    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, col {exc.colno}"
        raise AgentCliError(f"invalid JSON: {exc.msg} ({where})") from None
    if not isinstance(raw, dict):
        raise AgentCliError('the correction must be a JSON object, e.g. {"agent_id": …}')
    if agent_id and not raw.get("agent_id"):
        raw["agent_id"] = agent_id
    known = {f.name for f in fields(ResolveInput)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise AgentCliError(
            f"invalid correction: unknown field(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    try:
        return value_to_type(ResolveInput, raw)
    except (TypeError, ValueError) as exc:
        raise AgentCliError(f"invalid correction: {exc}") from None


async def resolve_case(client: Client, call: str, inp: ResolveInput) -> ResolveResult:
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError

    handle = client.get_workflow_handle(workflow_id_for(call))
    try:
        return await handle.execute_update(names.RESOLVE_UPDATE, inp, result_type=ResolveResult)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise ResolveRejected(cause.message, list(cause.details)) from None
        raise ResolveRejected(str(cause or exc)) from None
    except RPCError as exc:
        raise AgentCliError(f"{handle.id}: {exc.message}") from None


# --------------------------------------------------------------------------- commands


def _client_call(coro_fn: Any) -> Any:
    from workers.client import connect
    from workers.settings import Settings

    async def main() -> Any:
        client = await connect(Settings())
        return await coro_fn(client)

    try:
        return asyncio.run(main())
    except AgentCliError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


def _ago(since: datetime | None) -> str:
    if since is None:
        return "-"
    minutes = int((datetime.now(UTC) - since).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d}"
    return f"{hours // 24} j"


@agent_app.command("list")
def list_command(
    sector: Annotated[str, typer.Option(help='only this sector, e.g. "13208"')] = "",
    reason: Annotated[str, typer.Option(help="only this escalation reason")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """Escalated calls waiting for an agent, oldest first."""
    try:
        query = needs_agent_query(sector, reason)
    except AgentCliError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    cases: list[AgentCase] = _client_call(lambda c: list_cases(c, sector, reason))
    if as_json:
        for case in cases:
            print(json.dumps(asdict(case), default=str, ensure_ascii=False))
        return
    table = Table(title=f"{len(cases)} dossier(s) — {query}")
    for col in ("appel", "motif", "secteur", "en attente depuis", "attente"):
        table.add_column(col)
    for case in cases:
        waiting = case.waiting_since
        since = waiting.astimezone().strftime("%d/%m %H:%M") if waiting else "-"
        table.add_row(case.call_id, case.reason, case.sector or "-", since, _ago(waiting))
    console.print(table)


@agent_app.command("show")
def show_command(
    call: Annotated[str, typer.Argument(help="call id (or workflow id voicemail-…)")],
    as_json: Annotated[bool, typer.Option("--json", help="the state query as JSON only")] = False,
) -> None:
    """What the bot heard and understood, why it stopped, and the JSON to send."""
    view: CaseView = _client_call(lambda c: show_case(c, call))
    state = asdict(view.state) if view.state is not None else None
    if as_json:
        print(json.dumps(state, ensure_ascii=False, indent=2, default=str))
        return
    console.print(f"[bold]{view.workflow_id}[/] — {view.execution_status} — {view.summary}")
    if view.current_details:
        console.print(Markdown(view.current_details))
    else:
        console.print("(aucun détail courant : le dossier n'attend pas d'agent)")
    console.rule("état (requête state)")
    console.print_json(json.dumps(state, ensure_ascii=False, default=str))


@agent_app.command("resolve")
def resolve_command(
    call: Annotated[str, typer.Argument(help="call id (or workflow id voicemail-…)")],
    json_text: Annotated[
        str, typer.Option("--json", help='the correction, e.g. {"agent_id": "agent-42", …}')
    ] = "",
    file: Annotated[Path | None, typer.Option(help="read the correction from a file")] = None,
    agent_id: Annotated[
        str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help="agent_id when the JSON has none")
    ] = "",
) -> None:
    """Send the `resolve` Update; prints the workflow's answer or why it refused."""
    if bool(json_text) == bool(file):
        console.print("[red]give the correction with --json or --file (one of them)[/]")
        raise typer.Exit(2)
    text = json_text or (file.read_text("utf-8") if file else "")
    try:
        inp = parse_resolution(text, agent_id)
    except AgentCliError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    try:
        result: ResolveResult = _client_call(lambda c: resolve_case(c, call, inp))
    except ResolveRejected as exc:
        console.print(f"[red]refusé[/] : {exc.message}")
        for detail in exc.details:
            console.print(json.dumps(detail, ensure_ascii=False, default=str), highlight=False)
        raise typer.Exit(1) from None
    console.print(f"[green]accepté[/] : {result.message}")
