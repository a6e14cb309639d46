"""Rules of a missed call, pure and deterministic (they run inside MissedCallWorkflow and in the
ingress): what kind of line called, whether a reply is usable, which agent actions a callback
task accepts, and what the agent reads."""

from __future__ import annotations

import unicodedata

from domain.agent import validate_callback_task
from domain.decision import DecisionKind, decide_request
from domain.escaping import markdown_text
from domain.missed_call_models import CALLBACK_REASON, LineType
from domain.models import ResolveInput, Understanding
from domain.phone import is_mobile_fr, to_e164

# What telephony platforms put in the caller id of a withheld number (lowercased, no accents).
WITHHELD_CALLER_IDS = frozenset(
    {
        "",
        "anonymous",
        "anonyme",
        "unknown",
        "inconnu",
        "private",
        "prive",
        "restricted",
        "withheld",
        "unavailable",
        "masque",
        "numero masque",
    }
)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_withheld(caller_id: str) -> bool:
    return _plain(caller_id) in WITHHELD_CALLER_IDS


def caller_e164(caller_id: str) -> str | None:
    """E.164 of a caller id; None when withheld or not a phone number."""
    if is_withheld(caller_id):
        return None
    return to_e164(caller_id)


def line_type(caller_id: str) -> LineType:
    number = caller_e164(caller_id)
    if number is None:
        return LineType.WITHHELD
    return LineType.MOBILE if is_mobile_fr(number) else LineType.LANDLINE


def reply_is_usable(u: Understanding) -> bool:
    """A reply the text channel can act on: a complete booking request (items and an
    address), a question, a cancellation, or only refused items (the SMS says where to take
    them). A greeting, an address without items or items without an address are not: the
    caller may still be typing the rest, and if nothing more comes a person calls back."""
    decision = decide_request(u)
    if decision is None:
        return True
    return decision.kind in (DecisionKind.ANSWER, DecisionKind.CANCEL, DecisionKind.REFUSE)


def validate_callback_resolution(inp: ResolveInput, *, pending: bool) -> str | None:
    """A readable French reason to refuse an agent's Update on a callback task, or None.
    Names the rule, never the caller's data (the Web UI shows it in clear)."""
    if not pending:
        return "Ce dossier n'attend pas de rappel."
    return validate_callback_task(inp, "un rappel d'appel manqué")


def callback_details_markdown(
    *,
    caller_number: str,
    line: str,
    calls: int,
    why: str,
    replies: list[str],
    booking_label: str,
    attempts: int,
) -> str:
    """What an agent reads in the Temporal UI (current details, encrypted like payloads)."""
    kind = "mobile" if line == LineType.MOBILE else "fixe ou non mobile (pas de SMS)"
    lines = [
        "## À rappeler : appel manqué",
        "",
        f"**Numéro** : {caller_number} ({kind})",
        f"**Appels manqués** : {calls}",
        f"**Pourquoi un rappel** : {why}",
        "",
    ]
    if booking_label:
        lines += [f"**Enlèvement déjà prévu** : {booking_label}", ""]
    if replies:
        lines += ["**Réponses SMS de l'appelant**", ""]
        lines += [f"> {markdown_text(r)}" for r in replies]
        lines.append("")
    if attempts:
        lines += [f"**Rappels sans réponse** : {attempts}", ""]
    lines += [
        f"Motif : `{CALLBACK_REASON}`. Après l'appel, envoyez l'Update `resolve` :",
        "",
        "```json",
        '{"agent_id": "agent-42", "action": "close", "comment": "rappelé, RDV pris"}',
        "```",
        "",
        'ou `{"agent_id": "agent-42", "action": "no_answer"}` (le dossier reste en attente).',
    ]
    return "\n".join(lines)
