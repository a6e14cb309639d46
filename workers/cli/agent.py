"""`encombot agent list | show | claim | release | resolve` (and `agent booking …`,
workers/cli/agent_bookings.py): the agent queue from a terminal, for those who prefer it to the
Temporal Web UI. Same data, same rules: `list` is the visibility query `NeedsAgent = true` (the
UI's saved views, printed with it), `show` prints the workflow's current details and its
`state` query, `claim` / `release` take and give back a case, `resolve` sends the `resolve`
Update, whose validator may reject it with a readable message (the workflow then keeps
waiting). Help and output in French, errors in one line (workers/cli/agent_connect.py).

The queue holds several workflow types, all with the same `resolve` Update and `state` query:
voicemails (`voicemail-{call id}`), SMS nobody waited for (`sms-…`), missed calls
(`missed-call-…`); a booking's follow-up (`booking-…`) is never queued but can be shown.
`show` and `resolve` take a voicemail's call id (as before) or any workflow id with one of
those prefixes; `list` prints each case's type and full workflow id, to copy from.

The async functions below are the implementation (tests call them); the typer commands only
parse arguments and print."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from domain import names
from domain.claims import AGENT_ID, ClaimInput, ClaimResult
from domain.escaping import strip_controls
from domain.missed_call_models import MISSED_CALL_WORKFLOW, missed_call_workflow_id
from domain.models import EscalationReason, ResolveInput, ResolveResult
from workers.cli.agent_connect import AgentCliError, fail, run_agent, saved_views
from workers.cli.context import cli_settings

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowExecution
    from temporalio.service import RPCError

agent_app = typer.Typer(
    help="File des agents : dossiers (appels, SMS) qui attendent une personne, réservations.",
    no_args_is_help=True,
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
    assigned_to: str = ""  # the agent holding the case (claim), "" when free


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


def needs_agent_query(
    sector: str = "", reason: str = "", assigned_to: str = "", free: bool = False
) -> str:
    """The visibility query of the agent queue (also the UI's saved view)."""
    parts = [f"{names.SA_NEEDS_AGENT} = true"]
    if sector:
        if not _SECTOR.match(sector):
            raise AgentCliError(f"secteur invalide {sector!r}")
        parts.append(f'{names.SA_SECTOR} = "{sector}"')
    if reason:
        if reason not in {r.value for r in EscalationReason}:
            known = ", ".join(r.value for r in EscalationReason)
            raise AgentCliError(f"motif inconnu {reason!r} (parmi : {known})")
        parts.append(f'{names.SA_REASON} = "{reason}"')
    if assigned_to:
        parts.append(f'{names.SA_ASSIGNED_TO} = "{check_agent_id(assigned_to)}"')
    if free:
        parts.append(f"{names.SA_ASSIGNED_TO} IS NULL")
    return " AND ".join(parts)


def check_agent_id(agent_id: str) -> str:
    agent_id = agent_id.strip()
    if not AGENT_ID.match(agent_id):
        raise AgentCliError(
            f"identifiant d'agent invalide {agent_id!r} (lettres, chiffres, . _ @ -; "
            "ENCOMBOT_AGENT_ID ou --agent-id)"
        )
    return agent_id


def workflow_id_for(call: str) -> str:
    """`agent show` / `resolve` accept a voicemail's call id or a workflow id that `agent list`
    prints (`voicemail-…`, `sms-…`, `missed-call-…`, `booking-…`). A call id that itself
    starts with one of those prefixes must be given as its workflow id `voicemail-…`."""
    call = call.strip()
    if not call or call in WORKFLOW_PREFIXES:
        raise AgentCliError(
            f"donnez un identifiant d'appel ou de workflow ({_known_forms()}), pas {call!r}"
        )
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
    client: Client,
    sector: str = "",
    reason: str = "",
    limit: int = 200,
    *,
    assigned_to: str = "",
    free: bool = False,
) -> list[AgentCase]:
    """Escalated cases, oldest wait first."""
    cases: list[AgentCase] = []
    query = needs_agent_query(sector, reason, assigned_to, free)
    async for wf in client.list_workflows(query, limit=limit):
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
                assigned_to=_sa(wf, names.SA_ASSIGNED_TO) or "",
            )
        )
    far = datetime.max.replace(tzinfo=UTC)
    cases.sort(key=lambda c: (c.waiting_since or far, c.workflow_id))
    return cases


def _rpc_problem(workflow_id: str, exc: RPCError) -> AgentCliError:
    from temporalio.service import RPCStatusCode

    message = f"{workflow_id} : {exc.message}"
    if exc.status == RPCStatusCode.NOT_FOUND:
        message = (
            f"{workflow_id} : dossier introuvable (donnez l'identifiant d'appel d'un message "
            f"vocal ou un identifiant de workflow : {_known_forms()})"
        )
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
        where = f"ligne {exc.lineno}, colonne {exc.colno}"
        raise AgentCliError(f"JSON invalide : {exc.msg} ({where})") from None
    if not isinstance(raw, dict):
        raise AgentCliError('la correction doit être un objet JSON, par ex. {"agent_id": …}')
    if agent_id and not raw.get("agent_id"):
        raw["agent_id"] = agent_id
    known = {f.name for f in fields(ResolveInput)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise AgentCliError(
            f"correction invalide : champ(s) inconnu(s) {', '.join(unknown)} "
            f"(connus : {', '.join(sorted(known))})"
        )
    try:
        return value_to_type(ResolveInput, raw)
    except (TypeError, ValueError) as exc:
        raise AgentCliError(f"correction invalide : {exc}") from None


async def resolve_case(client: Client, call: str, inp: ResolveInput) -> ResolveResult:
    return await send_update(
        client, workflow_id_for(call), names.RESOLVE_UPDATE, inp, ResolveResult
    )


async def claim_case(client: Client, call: str, inp: ClaimInput) -> ClaimResult:
    return await send_update(client, workflow_id_for(call), names.CLAIM_UPDATE, inp, ClaimResult)


async def release_case(client: Client, call: str, inp: ClaimInput) -> ClaimResult:
    return await send_update(client, workflow_id_for(call), names.RELEASE_UPDATE, inp, ClaimResult)


async def send_update(
    client: Client, workflow_id: str, update: str, inp: Any, result_type: type[T]
) -> T:
    """An Update; a refusal (validator or handler) raises `ResolveRejected` with the
    workflow's French message, a case that is not there (or over) `AgentCliError`."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_workflow_handle(workflow_id)
    try:
        return await handle.execute_update(update, inp, result_type=result_type)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise ResolveRejected(cause.message, list(cause.details)) from None
        raise ResolveRejected(str(cause or exc)) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "completed" in exc.message:
            raise AgentCliError(f"{workflow_id} : dossier terminé, plus rien à y faire") from None
        raise _rpc_problem(handle.id, exc) from None


# --------------------------------------------------------------------------- commands

CALL_HELP = (
    "l'identifiant d'appel d'un message vocal, ou un identifiant de workflow tel que "
    f"`agent list` l'affiche ({_known_forms()})"
)
AGENT_HELP = "votre identifiant d'agent (par défaut : ENCOMBOT_AGENT_ID)"


def _agent(agent_id: str) -> str:
    try:
        return check_agent_id(agent_id)
    except AgentCliError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


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
    sector: Annotated[str, typer.Option(help='ce secteur seulement, par ex. "13208"')] = "",
    reason: Annotated[
        str,
        typer.Option(
            help="ce motif d'escalade seulement, parmi : "
            + ", ".join(r.value for r in EscalationReason)
        ),
    ] = "",
    free: Annotated[bool, typer.Option("--libres", help="seulement les dossiers libres")] = False,
    mine: Annotated[
        bool, typer.Option("--miens", help="seulement les dossiers que je tiens")
    ] = False,
    agent_id: Annotated[str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help=AGENT_HELP)] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="une ligne JSON par dossier au lieu du tableau")
    ] = False,
) -> None:
    """Les dossiers qui attendent un agent (messages, SMS, appels manqués), plus anciens
    d'abord, avec l'identifiant de workflow que prennent `show`, `claim` et `resolve`, puis les
    adresses des vues de l'interface (libres ; les miens)."""
    settings = cli_settings(ctx)
    me = _agent(agent_id) if (mine or agent_id) else ""
    try:
        query = needs_agent_query(sector, reason, me if mine else "", free)
    except AgentCliError as exc:
        fail(str(exc))
    cases: list[AgentCase] = run_agent(
        settings,
        lambda c: list_cases(c, sector, reason, assigned_to=me if mine else "", free=free),
    )
    if as_json:
        for case in cases:
            print(json.dumps(asdict(case), default=str, ensure_ascii=False))
        return
    table = Table(title=f"{len(cases)} dossier(s) — {query}")
    # The id is what the agent copies into `show` / `resolve`: the other columns shrink first,
    # and it is never wrapped at its hyphens.
    table.add_column("workflow id", no_wrap=True, overflow="fold")
    for col in ("type", "motif", "secteur", "depuis", "attente", "pris par"):
        table.add_column(col, overflow="fold")
    for case in cases:
        waiting = case.waiting_since
        since = waiting.astimezone().strftime("%d/%m %H:%M") if waiting else "-"
        table.add_row(
            *(
                escape(printable(cell))
                for cell in (
                    case.workflow_id,
                    case.workflow_type,
                    case.reason,
                    case.sector or "-",
                    since,
                    _ago(waiting),
                    case.assigned_to or "-",
                )
            )
        )
    console.print(table)
    for title, url in saved_views(settings, me):
        console.print(f"{title} : {url}", highlight=False, soft_wrap=True)


@agent_app.command("show")
def show_command(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help=CALL_HELP)],
    as_json: Annotated[
        bool, typer.Option("--json", help="seulement la requête state, en JSON")
    ] = False,
) -> None:
    """Ce que le robot a entendu et compris (ou le SMS reçu), pourquoi il s'est arrêté, qui
    tient le dossier, et le JSON à envoyer."""
    view: CaseView = run_agent(cli_settings(ctx), lambda c: show_case(c, call))
    # Everything here may hold a caller's text: no terminal escape, control or bidi character
    # reaches the agent's terminal, and no rich markup of theirs is interpreted.
    state = printable(view.state)
    if as_json:
        print(json.dumps(state, ensure_ascii=False, indent=2, default=str))
        return
    workflow_id, summary = escape(printable(view.workflow_id)), escape(printable(view.summary))
    title = f"[bold]{workflow_id}[/] ({escape(view.workflow_type)}) — {view.execution_status}"
    console.print(f"{title} — {summary}" if summary else title)
    if view.current_details:
        console.print(Markdown(printable(view.current_details)))
    else:
        console.print("(aucun détail courant : le dossier n'attend pas d'agent)")
    console.rule("état (requête state)")
    console.print_json(json.dumps(state, ensure_ascii=False, default=str))


def printable(value: Any) -> Any:
    """`value` (text, or JSON values) with control, escape and bidi characters removed."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


def _send(ctx: typer.Context, work: Callable[[Client], Awaitable[Any]]) -> Any:
    try:
        return run_agent(cli_settings(ctx), work)
    except ResolveRejected as exc:
        console.print(f"[red]refusé[/] : {escape(printable(exc.message))}", highlight=False)
        for detail in exc.details:
            text = json.dumps(printable(detail), ensure_ascii=False, default=str)
            console.print(escape(text), highlight=False)
        raise typer.Exit(1) from None


@agent_app.command("claim")
def claim_command(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help=CALL_HELP)],
    agent_id: Annotated[str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help=AGENT_HELP)] = "",
    minutes: Annotated[
        int, typer.Option(help="durée de la prise (par défaut : ENCOMBOT_AGENTS__CLAIM_MINUTES)")
    ] = 0,
) -> None:
    """Prendre un dossier avant d'appeler : les autres agents le voient pris et ne peuvent ni
    le prendre ni le résoudre tant qu'il n'est pas rendu ou expiré."""
    inp = ClaimInput(
        agent_id=_agent(agent_id), minutes=minutes or cli_settings(ctx).agents.claim_minutes
    )
    result: ClaimResult = _send(ctx, lambda c: claim_case(c, call, inp))
    console.print(f"[green]accepté[/] : {escape(printable(result.message))}", highlight=False)


@agent_app.command("release")
def release_command(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help=CALL_HELP)],
    agent_id: Annotated[str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help=AGENT_HELP)] = "",
    force: Annotated[
        bool, typer.Option(help="rendre un dossier pris par un autre agent (noté au dossier)")
    ] = False,
) -> None:
    """Rendre un dossier : il redevient libre pour les autres agents."""
    inp = ClaimInput(agent_id=_agent(agent_id), force=force)
    result: ClaimResult = _send(ctx, lambda c: release_case(c, call, inp))
    console.print(f"[green]accepté[/] : {escape(printable(result.message))}", highlight=False)


@agent_app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    call: Annotated[str, typer.Argument(help=CALL_HELP)],
    json_text: Annotated[
        str,
        typer.Option("--json", help='la correction, par ex. {"agent_id": "agent-42", …}'),
    ] = "",
    file: Annotated[Path | None, typer.Option(help="lire la correction dans un fichier")] = None,
    agent_id: Annotated[
        str,
        typer.Option(envvar="ENCOMBOT_AGENT_ID", help="agent_id quand le JSON n'en a pas"),
    ] = "",
) -> None:
    """Envoyer l'Update `resolve` ; affiche la réponse du workflow ou pourquoi il refuse. Les
    SMS et appels manqués prennent `close` (avec comment) ou `no_answer`."""
    if bool(json_text) == bool(file):
        fail("donnez la correction avec --json ou --file (l'un des deux)")
    text = json_text or (file.read_text("utf-8") if file else "")
    try:
        inp = parse_resolution(text, agent_id)
    except AgentCliError as exc:
        fail(str(exc))
    result: ResolveResult = _send(ctx, lambda c: resolve_case(c, call, inp))
    console.print(f"[green]accepté[/] : {escape(printable(result.message))}", highlight=False)
