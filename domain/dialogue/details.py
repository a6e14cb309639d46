"""What an agent reads of a live call: the case details shown in the Temporal UI (Markdown)."""

from __future__ import annotations

from domain.escaping import markdown_text
from domain.labels import date_label, items_label
from domain.live_call_models import LiveCallProgress


def callback_details_markdown(
    progress: LiveCallProgress | None, *, why: str, caller_number: str, attempts: int = 0
) -> str:
    """What an agent reads in the Temporal UI for a live call to call back."""
    lines = [
        "## À traiter : appel non abouti, rappeler",
        "",
        f"**Pourquoi** : {why}",
        "",
        f"Numéro : {caller_number or 'inconnu (voir le numéro donné ci-dessous)'}",
        "",
    ]
    if progress is None:
        lines += ["(rien de ce qu'a dit l'appelant n'a pu être gardé)", ""]
    else:
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
        if progress.match is not None:
            lines += [f"**Adresse retenue** : {progress.match.label()}", ""]
        if progress.proposed_date:
            lines += [f"**Jour proposé** : {date_label(progress.proposed_date)}", ""]
        if progress.faq_entries:
            lines += [f"**Questions répondues** : {', '.join(progress.faq_entries)}", ""]
    if attempts:
        lines += [f"Rappels sans réponse : {attempts}", ""]
    lines += [
        "Rappelez l'appelant, puis envoyez l'Update `resolve` :",
        '`{"agent_id": "agent-42", "action": "close", "comment": "rappelé, RDV pris"}` '
        'ou `{"agent_id": "agent-42", "action": "no_answer"}`.',
    ]
    return "\n".join(lines)
