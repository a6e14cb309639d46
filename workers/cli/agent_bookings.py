"""`encombot agent booking find | show | move | cancel | items`: an agent finds a caller's
booking (by its reference or the caller's number) and changes it through the `change_booking`
Update of its follow-up workflow — the same Update, validator and SMS as from the Temporal UI.

Finding never puts a number or a reference in clear into Temporal: the search is on the keyed
hashes the follow-up publishes (`BookingKeys`, `SmsPhoneKey`). The key is computed here when this
machine holds the phone-key secret (ENCOMBOT_SMS__PHONE_KEY_SECRET or the workers' secret file),
else asked of the codec server (`POST /lookup-keys`, same token as /decode)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markdown import Markdown
from rich.table import Table

from domain import names
from domain.booking_changes import BookingChangeInput, BookingChangeResult
from domain.models import ItemCount
from workers.cli.agent import (
    AGENT_HELP,
    ResolveRejected,
    _agent,
    _send,
    send_update,
    show_case,
)
from workers.cli.agent_connect import (
    AgentCliError,
    codec_endpoint,
    console,
    fail,
    run_agent,
)
from workers.cli.context import cli_settings
from workers.settings import Settings

if TYPE_CHECKING:
    from temporalio.client import Client

booking_app = typer.Typer(
    help="Réservations : retrouver celle d'un appelant, la déplacer, l'annuler, "
    "changer ses objets.",
    no_args_is_help=True,
)
BOOKING_HELP = "la référence de la réservation (ex. AC3D4F) ou son workflow booking-…"
BOOKING_PREFIX = names.booking_follow_up_workflow_id("")
_ITEM = re.compile(r"^\s*(?P<name>[^=:]+?)\s*[=:]\s*(?P<count>\d{1,3})\s*$")

__all__ = ["ResolveRejected", "booking_app"]


@dataclass
class FoundBooking:
    workflow_id: str
    status: str  # the workflow's: RUNNING, COMPLETED…
    reference: str = ""
    booking_status: str = ""  # booked, cancelled (from the state query)


def lookup_keys(settings: Settings, reference: str = "", number: str = "") -> list[str]:
    """The keyed hashes to search by: computed here with the phone-key secret when this
    machine has it, else by the codec server."""
    from activities.booking_changes import number_key, reference_key
    from activities.messaging.phone_keys import PHONE_KEY_FILE_NAME

    configured = settings.sms.phone_key_secret.get_secret_value()
    path = settings.sms.phone_key_file or settings.data_dir / PHONE_KEY_FILE_NAME
    if configured or path.is_file():
        from activities.messaging.phone_keys import phone_key_secret

        secret = phone_key_secret(settings.sms, settings.data_dir)
        keys = [reference_key(reference, secret)] if reference else []
        key = number_key(number, secret) if number else None
        if number and key is None:
            raise AgentCliError(f"numéro invalide {number!r} (ex. 06 12 34 56 78)")
        return keys + ([key] if key else [])
    return _remote_keys(settings, reference, number)


def _remote_keys(settings: Settings, reference: str, number: str) -> list[str]:
    import httpx

    endpoint = codec_endpoint(settings)
    token = settings.codec.server.token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"reference": reference} if reference else {"number": number}
    try:
        response = httpx.post(f"{endpoint}/lookup-keys", json=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise AgentCliError(
            f"serveur de chiffrement injoignable ({endpoint}) : {type(exc).__name__}"
        ) from None
    if response.status_code != 200:
        raise AgentCliError(
            f"serveur de chiffrement : réponse {response.status_code} à /lookup-keys "
            "(numéro ou référence invalide ?)"
        )
    return [str(k) for k in response.json().get("keys", [])]


def find_query(keys: list[str]) -> str:
    if not keys or any(not re.fullmatch(r"[0-9a-f]{32}", k) for k in keys):
        raise AgentCliError("clé de recherche invalide")
    clauses = " OR ".join(
        f'{attr} = "{k}"' for k in keys for attr in (names.SA_BOOKING_KEYS, names.SA_SMS_PHONE_KEY)
    )
    return f'WorkflowType = "{names.BOOKING_FOLLOW_UP_WORKFLOW}" AND ({clauses})'


async def find_bookings(client: Client, keys: list[str]) -> list[FoundBooking]:
    """The follow-ups of the bookings these keys name, running ones first."""
    from temporalio.service import RPCError

    found: list[FoundBooking] = []
    async for wf in client.list_workflows(find_query(keys), limit=50):
        status = wf.status.name if wf.status else "?"
        item = FoundBooking(wf.id, status)
        if status == "RUNNING":
            try:
                state = await client.get_workflow_handle(wf.id).query(names.STATE_QUERY)
                item.reference = str(state.get("reference", ""))
                item.booking_status = str(state.get("status", ""))
            except RPCError:
                pass
        found.append(item)
    found.sort(key=lambda f: (f.status != "RUNNING", f.workflow_id))
    return found


async def resolve_booking(client: Client, settings: Settings, booking: str) -> str:
    """The follow-up's workflow id of `booking` (a workflow id, or a reference to look up)."""
    booking = booking.strip()
    if booking.startswith(BOOKING_PREFIX) and len(booking) > len(BOOKING_PREFIX):
        return booking
    if not re.fullmatch(r"[A-Za-z0-9 -]{4,12}", booking):
        raise AgentCliError(f"réservation invalide {booking!r} : {BOOKING_HELP}")
    running = [
        f
        for f in await find_bookings(client, lookup_keys(settings, reference=booking))
        if f.status == "RUNNING"
    ]
    if not running:
        raise AgentCliError(
            f"aucun suivi en cours pour la réservation {booking} (suivi terminé la veille "
            "de l'enlèvement, ou référence inconnue)"
        )
    return running[0].workflow_id


def parse_items(texts: list[str]) -> list[ItemCount]:
    items = []
    for text in texts:
        match = _ITEM.match(text)
        if match is None:
            raise AgentCliError(f"objet invalide {text!r} : écrivez nom=nombre, ex. canapé=1")
        items.append(ItemCount(item=match["name"], count=int(match["count"])))
    return items


async def change(
    client: Client, settings: Settings, booking: str, inp: BookingChangeInput
) -> BookingChangeResult:
    workflow_id = await resolve_booking(client, settings, booking)
    return await send_update(
        client, workflow_id, names.CHANGE_BOOKING_UPDATE, inp, BookingChangeResult
    )


# --------------------------------------------------------------------------- commands


@booking_app.command("find")
def find_command(
    ctx: typer.Context,
    reference: Annotated[str, typer.Option("--reference", help="la référence, ex. AC3D4F")] = "",
    number: Annotated[
        str, typer.Option("--numero", help="le numéro de l'appelant, ex. 06 12 34 56 78")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="une ligne JSON par résultat")] = False,
) -> None:
    """Retrouver les réservations d'un appelant par référence ou par numéro (recherche sur des
    empreintes chiffrées : ni le numéro ni la référence ne vont en clair à Temporal)."""
    if bool(reference) == bool(number):
        fail("donnez --reference ou --numero (l'un des deux)")
    settings = cli_settings(ctx)

    async def work(client: Client) -> list[FoundBooking]:
        return await find_bookings(client, lookup_keys(settings, reference, number))

    found = run_agent(settings, work)
    if as_json:
        for item in found:
            print(json.dumps(item.__dict__, ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} réservation(s)")
    for col in ("workflow id", "suivi", "référence", "réservation", "interface"):
        table.add_column(col, overflow="fold")
    ui = settings.temporal.ui_url.rstrip("/")
    for item in found:
        link = f"{ui}/namespaces/{settings.temporal.namespace}/workflows/{item.workflow_id}"
        table.add_row(
            item.workflow_id, item.status, item.reference or "-", item.booking_status or "-", link
        )
    console.print(table)
    if not found:
        console.print("Aucune réservation suivie pour cette recherche.")


@booking_app.command("show")
def show_command(
    ctx: typer.Context, booking: Annotated[str, typer.Argument(help=BOOKING_HELP)]
) -> None:
    """La réservation telle qu'elle est : date, adresse, objets, historique des changements."""
    settings = cli_settings(ctx)

    async def work(client: Client) -> object:
        return await show_case(client, await resolve_booking(client, settings, booking))

    view = run_agent(settings, work)
    console.print(f"[bold]{view.workflow_id}[/] — {view.execution_status}")  # type: ignore[attr-defined]
    details = view.current_details  # type: ignore[attr-defined]
    console.print(Markdown(details) if details else "(pas de détail : suivi ancien)")


def _change(ctx: typer.Context, booking: str, inp: BookingChangeInput) -> None:
    settings = cli_settings(ctx)
    result: BookingChangeResult = _send(ctx, lambda c: change(c, settings, booking, inp))
    console.print(f"[green]accepté[/] : {result.message}", highlight=False)


@booking_app.command("move")
def move_command(
    ctx: typer.Context,
    booking: Annotated[str, typer.Argument(help=BOOKING_HELP)],
    date: Annotated[str, typer.Option("--date", help="le nouveau jour, AAAA-MM-JJ")],
    comment: Annotated[str, typer.Option(help="pourquoi (gardé à l'historique)")] = "",
    agent_id: Annotated[str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help=AGENT_HELP)] = "",
) -> None:
    """Déplacer l'enlèvement à un autre jour de collecte du secteur (places comptées :
    refusé si le jour est complet) ; l'appelant reçoit un SMS."""
    inp = BookingChangeInput(_agent(agent_id), "move", pickup_date=date, comment=comment)
    _change(ctx, booking, inp)


@booking_app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    booking: Annotated[str, typer.Argument(help=BOOKING_HELP)],
    comment: Annotated[str, typer.Option(help="pourquoi (obligatoire, gardé à l'historique)")],
    agent_id: Annotated[str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help=AGENT_HELP)] = "",
) -> None:
    """Annuler l'enlèvement (même après la limite : prévenez l'équipe) ; la place est
    libérée et l'appelant reçoit un SMS."""
    _change(ctx, booking, BookingChangeInput(_agent(agent_id), "cancel", comment=comment))


@booking_app.command("items")
def items_command(
    ctx: typer.Context,
    booking: Annotated[str, typer.Argument(help=BOOKING_HELP)],
    item: Annotated[
        list[str], typer.Option("--objet", help="nom=nombre, à répéter : --objet canapé=1")
    ],
    comment: Annotated[str, typer.Option(help="pourquoi (gardé à l'historique)")] = "",
    agent_id: Annotated[str, typer.Option(envvar="ENCOMBOT_AGENT_ID", help=AGENT_HELP)] = "",
) -> None:
    """Remplacer la liste des objets (catalogue, limite par passage du secteur) ; l'appelant
    reçoit un SMS avec la nouvelle liste."""
    try:
        items = parse_items(item)
    except AgentCliError as exc:
        fail(str(exc))
    inp = BookingChangeInput(_agent(agent_id), "items", items=items, comment=comment)
    _change(ctx, booking, inp)
