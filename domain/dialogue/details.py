"""What an agent reads of a live call: the case details shown in the Temporal UI (Markdown).

A call the bot hands over must not make the caller say it all again: the details open with
what the bot already knows and how sure it is (found in the gazetteer, said yes to by the
caller field by field, spelled, or put in doubt by a "non"), then what was heard word for
word."""

from __future__ import annotations

from domain.dialogue.prompts import field_value
from domain.escaping import markdown_text
from domain.keypad import FIELD_ORDER, Field
from domain.labels import date_label, items_label
from domain.live_call_models import LiveCallProgress, Outcome

FIELD_NAMES = {Field.NUMBER: "numéro", Field.STREET: "rue", Field.CITY: "commune"}


def callback_details_markdown(
    progress: LiveCallProgress | None,
    *,
    why: str,
    caller_number: str,
    attempts: int = 0,
    replies: list[str] | None = None,
) -> str:
    """What an agent reads in the Temporal UI for a live call to call back (or, right after
    a transfer, the call the agents' phones ring for)."""
    transferred = progress is not None and progress.outcome == Outcome.TRANSFER
    title = (
        "## Appel transféré par le bot : si personne n'a décroché, rappeler"
        if transferred
        else "## À traiter : appel non abouti, rappeler"
    )
    lines = [
        title,
        "",
        f"**Pourquoi** : {why}",
        "",
        f"Numéro : {caller_number or 'inconnu (voir le numéro donné ci-dessous)'}",
        "",
    ]
    if progress is None:
        lines += ["(rien de ce qu'a dit l'appelant n'a pu être gardé)", ""]
    else:
        lines += _known(progress)
        lines += ["**Entendu**", ""]
        lines += [f"> {markdown_text(said)}" for said in progress.heard] or ["> (rien)"]
        lines.append("")
        u = progress.understanding
        if u is not None:
            address = u.address
            heard = (
                " ".join(
                    x
                    for x in (address.housenumber, address.street, address.postcode, address.city)
                    if x
                )
                if address
                else ""
            )
            lines += [
                "**Compris**",
                "",
                f"- adresse entendue : {markdown_text(heard) or '(aucune)'}",
                f"- objets : {markdown_text(items_label(u.items)) or '(aucun)'}",
            ]
            if u.refused_items:
                lines.append(f"- objets refusés : {markdown_text(items_label(u.refused_items))}")
            lines += [f"- numéro pour le SMS : {markdown_text(u.callback_number) or '(aucun)'}", ""]
        if progress.proposed_date:
            lines += [f"**Jour proposé** : {date_label(progress.proposed_date)}", ""]
        if progress.faq_entries:
            lines += [f"**Questions répondues** : {', '.join(progress.faq_entries)}", ""]
    if replies:
        lines += ["**Réponses SMS de l'appelant**", ""]
        lines += [f"> {markdown_text(r)}" for r in replies if r]
        lines.append("")
    if attempts:
        lines += [f"Rappels sans réponse : {attempts}", ""]
    lines += [
        "Rappelez l'appelant, puis envoyez l'Update `resolve` :",
        '`{"agent_id": "agent-42", "action": "close", "comment": "rappelé, RDV pris"}` '
        'ou `{"agent_id": "agent-42", "action": "no_answer"}`.',
    ]
    return "\n".join(lines)


def _known(progress: LiveCallProgress) -> list[str]:
    """The address the bot retained, field by field with how sure it is."""
    match = progress.match
    if match is None:
        return []
    lines = [f"**Adresse retenue** : {markdown_text(match.label())}", ""]
    for f in FIELD_ORDER:
        value = field_value(match, f).strip()
        if not value:
            continue
        e = "" if f == Field.NUMBER else "e"  # le numéro; la rue, la commune
        if f.value in progress.refused:
            sure = f"**contesté{e} par l'appelant** (« non » à la relecture) : à redemander"
        elif f.value in progress.confirmed:
            sure = f"confirmé{e} par l'appelant"
        elif f == Field.STREET and progress.spelled:
            sure = "épelée par l'appelant, trouvée dans la base adresse"
        else:
            sure = f"trouvé{e} dans la base adresse"
        lines.append(f"- {FIELD_NAMES[f]} : {markdown_text(value)} — {sure}")
    lines.append("")
    return lines
