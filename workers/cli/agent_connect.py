"""How `encombot agent …` and `encombot bookings …` reach Temporal from an agent's machine, and
how they fail: one French line, never a traceback.

- Keys: with codec keys in the settings (or the development key file of this machine), the
  client encrypts and decrypts itself, like a worker; with none, it goes through the codec
  server (`agents.codec_endpoint`, default the codec server's address of the settings), which
  holds the keys — an agent's machine never needs them.
- Errors: Temporal unreachable, codec server unreachable or refusing, unknown case, refused
  Update: each becomes `erreur : …` (exit 2) or `refusé : …` (exit 1).
- Saved views: the Temporal UI's addresses of the queue filtered for an agent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote

import typer
from rich.console import Console

from domain import names
from workers.settings import Settings

if TYPE_CHECKING:
    from temporalio.client import Client

T = TypeVar("T")
console = Console()
CONNECT_TIMEOUT_S = 10.0


class AgentCliError(Exception):
    """A problem to print to the agent in one line (bad input, unknown case, unreachable)."""


def codec_endpoint(settings: Settings) -> str:
    server = settings.codec.server
    return settings.agents.codec_endpoint or f"http://{server.host}:{server.port}"


def uses_codec_server(settings: Settings) -> bool:
    """True when this machine holds no key: no configured key, and no development key file
    (or the development key not allowed)."""
    from workers.codec.payload import dev_key_path

    codec = settings.codec
    if codec.keys:
        return False
    return not (codec.allow_dev_key and dev_key_path(settings).is_file())


async def agent_client(settings: Settings) -> Client:
    from temporalio.client import Client

    from workers.client import connect
    from workers.codec.remote import remote_data_converter

    address = settings.temporal.address
    try:
        if not uses_codec_server(settings):
            return await asyncio.wait_for(
                connect(settings, starting_timeout_s=5), CONNECT_TIMEOUT_S
            )
        converter = remote_data_converter(
            codec_endpoint(settings),
            settings.temporal.namespace,
            settings.codec.server.token.get_secret_value(),
        )
        return await asyncio.wait_for(
            Client.connect(
                address, namespace=settings.temporal.namespace, data_converter=converter
            ),
            CONNECT_TIMEOUT_S,
        )
    except (RuntimeError, OSError, TimeoutError) as exc:
        raise AgentCliError(
            f"Temporal injoignable à {address} ({_first_line(exc)}) : vérifiez "
            "ENCOMBOT_TEMPORAL__ADDRESS et que le serveur tourne."
        ) from None


def run_agent(settings: Settings, work: Callable[[Client], Awaitable[T]]) -> T:
    """Connect, run `work`, and turn every failure into one French line (exit 2)."""
    from temporalio.service import RPCError

    from workers.codec.payload import CodecConfigError
    from workers.codec.remote import CodecServerError

    async def main() -> T:
        return await work(await agent_client(settings))

    try:
        return asyncio.run(main())
    except AgentCliError as exc:
        fail(str(exc))
    except CodecServerError as exc:
        fail(str(exc))
    except CodecConfigError as exc:
        fail(f"clés de chiffrement : {exc}")
    except RPCError as exc:
        fail(f"Temporal : {_first_line(exc)}")
    except TimeoutError:
        fail("délai dépassé : Temporal ne répond pas.")
    raise AssertionError("unreachable")


def fail(message: str, code: int = 2) -> None:
    console.print(f"[red]erreur[/] : {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


# --------------------------------------------------------------------------- saved views


def view_query(agent_id: str = "", *, order_by: bool = False) -> str:
    """The queue's raw query: unclaimed cases (`agent_id` empty) or the agent's own."""
    if agent_id:
        query = f'{names.SA_NEEDS_AGENT} = true AND {names.SA_ASSIGNED_TO} = "{agent_id}"'
    else:
        query = f"{names.SA_NEEDS_AGENT} = true AND {names.SA_ASSIGNED_TO} IS NULL"
    return f"{query} ORDER BY {names.SA_WAITING_SINCE} ASC" if order_by else query


def view_url(settings: Settings, query: str) -> str:
    base = settings.temporal.ui_url.rstrip("/")
    namespace = quote(settings.temporal.namespace, safe="")
    return f"{base}/namespaces/{namespace}/workflows?query={quote(query, safe='')}"


def saved_views(settings: Settings, agent_id: str) -> list[tuple[str, str]]:
    """(title, UI address) of the agents' two views."""
    order = settings.agents.visibility_order_by
    free = "Libres, plus anciens d'abord" if order else "Libres (la commande `agent list` trie)"
    views = [(free, view_url(settings, view_query(order_by=order)))]
    if agent_id:
        views.append((f"Les miens ({agent_id})", view_url(settings, view_query(agent_id))))
    return views
