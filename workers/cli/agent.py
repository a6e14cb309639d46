"""`encombot agent list | show | resolve`: the agent queue from a terminal, for those who prefer
it to the Temporal Web UI. Same data, same rules: `list` is the visibility query
`NeedsAgent = true` (the UI's saved view), `show` prints the workflow's current details and its
`state` query, `resolve` sends the `resolve` Update, whose validator may reject it with a
readable message (the workflow then keeps waiting).

The queue holds several workflow types, all with the same `resolve` Update and `state` query:
voicemails (`voicemail-{call id}`), SMS nobody waited for (`sms-…`), missed calls
(`missed-call-…`); a booking's follow-up (`booking-…`) is never queued but can be shown.
`show` and `resolve` take a voicemail's call id (as before) or any workflow id with one of
those prefixes; `list` prints each case's type and full workflow id, to copy from.

The async functions below are the implementation (tests call them); the typer commands only
parse arguments and print."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from domain import names
from domain.missed_call_models import MISSED_CALL_WORKFLOW, missed_call_workflow_id
from domain.models import EscalationReason, ResolveInput, ResolveResult
from workers.cli.context import cli_settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from temporalio.client import Client, WorkflowExecution
    from temporalio.service import RPCError

agent_app = typer.Typer(
    help="Agent queue: escalated cases (calls, SMS) waiting for a person.", no_args_is_help=True
)
console = Console()
T = TypeVar("T")

WORKFLOW_METADATA_QUERY = "__temporal_workflow_metadata"
_SECTOR = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

VOICEMAIL_PREFIX = names.voicemail_workflow_id("")
# Workflow id prefix -> workflow type, for every type `show` / `resolve` know. Anything else
# given to them is a voicemail's call id.
WORKFLOW_PREFIXES: dict[str, str] = {
    VOICEMAIL_PREFIX: names.VOICEMAIL_WORKFLOW,
    names.incoming_sms_workflow_id(""): names.INCOMING_SMS_WORKFLOW,
    missed_call_workflow_id(""): MISSED_CALL_WORKFLOW,
    names.booking_follow_up_workflow_id(""): names.BOOKING_FOLLOW_UP_WORKFLOW,
}


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
    workflow_id: str  # what `show` / `resolve` take, whatever the type
    workflow_type: str  # "VoicemailWorkflow", "IncomingSmsWorkflow", "MissedCallWorkflow"…
    # A voicemail's call id (the workflow id without `voicemail-`); "" for other types.
    call_id: str
    reason: str
    sector: str
    waiting_since: datetime | None
    status: str


@dataclass
class CaseView:
    workflow_id: str
    workflow_type: str
    execution_status: str
    summary: str
    current_details: str
    # The `state` query's result as plain JSON values (a dict for every known type: the
    # workflow's state dataclass), whatever the workflow type; None when it could not be
    # queried.
    state: Any


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
    """`agent show` / `resolve` accept a voicemail's call id or a workflow id that `agent list`
    prints (`voicemail-…`, `sms-…`, `missed-call-…`, `booking-…`). A call id that itself
    starts with one of those prefixes must be given as its workflow id `voicemail-…`."""
    call = call.strip()
    if not call or call in WORKFLOW_PREFIXES:
        raise AgentCliError(f"give a call id or a workflow id ({_known_forms()}), not {call!r}")
    if any(call.startswith(prefix) for prefix in WORKFLOW_PREFIXES):
        return call
    return names.voicemail_workflow_id(call)


def _known_forms() -> str:
    return ", ".join(f"{prefix}…" for prefix in WORKFLOW_PREFIXES)


def _sa(execution: WorkflowExecution, name: str) -> Any:
    for pair in execution.typed_search_attributes:
        if pair.key.name == name:
            return pair.value
    return None


async def list_cases(
    client: Client, sector: str = "", reason: str = "", limit: int = 200
) -> list[AgentCase]:
    """Escalated cases, oldest wait first."""
    cases: list[AgentCase] = []
    async for wf in client.list_workflows(needs_agent_query(sector, reason), limit=limit):
        since = _sa(wf, names.SA_WAITING_SINCE)
        voicemail = wf.workflow_type == names.VOICEMAIL_WORKFLOW
        cases.append(
            AgentCase(
                workflow_id=wf.id,
                workflow_type=wf.workflow_type,
                call_id=wf.id.removeprefix(VOICEMAIL_PREFIX) if voicemail else "",
                reason=_sa(wf, names.SA_REASON) or "",
                sector=_sa(wf, names.SA_SECTOR) or "",
                waiting_since=since,
                status=_sa(wf, names.SA_STATUS) or "",
            )
        )
    far = datetime.max.replace(tzinfo=UTC)
    cases.sort(key=lambda c: (c.waiting_since or far, c.workflow_id))
    return cases


def _rpc_problem(workflow_id: str, exc: RPCError) -> AgentCliError:
    from temporalio.service import RPCStatusCode

    message = f"{workflow_id}: {exc.message}"
    if exc.status == RPCStatusCode.NOT_FOUND:
        message += f" (give a voicemail call id or a workflow id: {_known_forms()})"
    return AgentCliError(message)


async def show_case(client: Client, call: str) -> CaseView:
    from temporalio.api.sdk.v1 import WorkflowMetadata
    from temporalio.service import RPCError

    handle = client.get_workflow_handle(workflow_id_for(call))
    try:
        desc = await handle.describe()
    except RPCError as exc:
        raise _rpc_problem(handle.id, exc) from None
    summary = await desc.static_summary() or ""
    details, state = "", None
    try:
        meta = await handle.query(WORKFLOW_METADATA_QUERY, result_type=WorkflowMetadata)
        details = meta.current_details
        # No result type: each workflow type has its own state dataclass, which the payload
        # converter gives back as the JSON object it was sent as (decrypted by the codec).
        state = await handle.query(names.STATE_QUERY)
    except RPCError as exc:
        # A closed workflow is still queried by replay, which needs a worker; say so.
        details = f"(requête impossible : {exc.message})"
    return CaseView(
        workflow_id=handle.id,
        workflow_type=desc.workflow_type,
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
        raise _rpc_problem(handle.id, exc) from None


# --------------------------------------------------------------------------- commands

CALL_HELP = f"a voicemail's call id, or a workflow id as `agent list` prints it ({_known_forms()})"


def _client_call(ctx: typer.Context, coro_fn: Callable[[Client], Awaitable[T]]) -> T:
    from workers.client import connect

    settings = cli_settings(ctx)

    async def main() -> T:
        client = await connect(settings)
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
    ctx: typer.Context,
    sector: Annotated[str, typer.Option(help='only this sector, e.g. "13208"')] = "",
    reason: Annotated[
        str,
        typer.Option(
            help="only this escalation reason, one of: "
            + ", ".join(r.value for r in EscalationReason)
        ),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """Cases waiting for an agent (voicemails, SMS, missed calls), oldest first, each with the
    workflow id that `show` and `resolve` take."""
    try:
        query = needs_agent_query(sector, reason)
    except AgentCliError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    cases: list[AgentCase] = _client_call(ctx, lambda c: list_cases(c, sector, reason))
    if as_json:
        for case in cases:
            print(json.dumps(asdict(case), default=str, ensure_ascii=False))
        return
    table = Table(title=f"{len(cases)} dossier(s) — {query}")
    # The id is what the agent copies into `show` / `resolve`: the other columns shrink first,
    # and it is never wrapped at its hyphens.
    table.add_column("workflow id", no_wrap=True, overflow="fold")
    for col in ("type", "motif", "secteur", "depuis", "attente"):
        table.add_column(col, overflow="fold")
    for case in cases:
        waiting = case.waiting_since
        since = waiting.astimezone().strftime("%d/%m %H:%M") if waiting else "-"
        table.add_row(
            case.workflow_id,
            case.workflow_type,
            case.reason,
            case.sector or "-",
            since,
            _ago(waiting),
        )
    console.print(table)


@agent_app.command("show")
def show_command(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help=CALL_HELP)],
    as_json: Annotated[bool, typer.Option("--json", help="the state query as JSON only")] = False,
) -> None:
    """What the bot heard and understood (or the SMS received), why it stopped, and the JSON
    to send."""
    view: CaseView = _client_call(ctx, lambda c: show_case(c, call))
    state = view.state
    if as_json:
        print(json.dumps(state, ensure_ascii=False, indent=2, default=str))
        return
    title = f"[bold]{view.workflow_id}[/] ({view.workflow_type}) — {view.execution_status}"
    console.print(f"{title} — {view.summary}" if view.summary else title)
    if view.current_details:
        console.print(Markdown(view.current_details))
    else:
        console.print("(aucun détail courant : le dossier n'attend pas d'agent)")
    console.rule("état (requête state)")
    console.print_json(json.dumps(state, ensure_ascii=False, default=str))


@agent_app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help=CALL_HELP)],
    json_text: Annotated[
        str, typer.Option("--json", help='the correction, e.g. {"agent_id": "agent-42", …}')
    ] = "",
    file: Annotated[Path | None, typer.Option(help="read the correction from a file")] = None,
    agent_id: Annotated[
        str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help="agent_id when the JSON has none")
    ] = "",
) -> None:
    """Send the `resolve` Update; prints the workflow's answer or why it refused. SMS and
    missed-call cases take `close` (with a comment) or `no_answer`."""
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
        result: ResolveResult = _client_call(ctx, lambda c: resolve_case(c, call, inp))
    except ResolveRejected as exc:
        console.print(f"[red]refusé[/] : {exc.message}")
        for detail in exc.details:
            console.print(json.dumps(detail, ensure_ascii=False, default=str), highlight=False)
        raise typer.Exit(1) from None
    console.print(f"[green]accepté[/] : {result.message}")
