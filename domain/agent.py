"""Validation of an agent's `resolve` Update and the Markdown an agent reads in the UI.

Runs inside the workflow's Update validator: pure, deterministic, no I/O. What needs the
gazetteer (does this street exist?) is checked by the Update handler through the geocode
activity; what can be decided from the case and the territory reference is rejected here,
before anything is written to the history."""

from __future__ import annotations

import json
import re
from datetime import datetime

from domain.audio_links import AudioLinkResult
from domain.catalogue import item_key
from domain.claims import agent_id_problem, hhmm
from domain.escaping import markdown_text
from domain.models import (
    AddressMatch,
    EscalationReason,
    ResolveInput,
    TerritoryReference,
    Understanding,
)
from domain.phone import to_e164

ACTIONS = ("correct", "choose", "retry", "close", "no_answer")
# What an agent may do with a callback task (an SMS or a missed call): there is nothing to
# correct, only a call to make.
CALLBACK_ACTIONS = ("close", "no_answer")
ADDRESS_REASONS = {
    EscalationReason.AUDIO_UNUSABLE,
    EscalationReason.NO_ADDRESS,
    EscalationReason.ADDRESS_NOT_FOUND,
    EscalationReason.LOW_CONFIDENCE,
    EscalationReason.OUT_OF_TERRITORY,
    EscalationReason.UNCLEAR_REQUEST,
    EscalationReason.QUESTION,
    EscalationReason.CANCEL_REQUEST,
}
HOUSENUMBER = re.compile(r"^\d{1,4}(\s?(bis|ter|quater|[a-d]))?$", re.IGNORECASE)
POSTCODE = re.compile(r"^\d{5}$")


def canonical_item(name: str, reference: TerritoryReference) -> str | None:
    """The catalogue's name for what an agent typed ("frigos" -> "réfrigérateur")."""
    return reference.item_aliases.get(item_key(name))


def validate_resolution(
    inp: ResolveInput,
    *,
    reason: str,
    candidates: list[AddressMatch],
    has_items: bool,
    has_match: bool,
    reference: TerritoryReference | None,
) -> str | None:
    """Return a readable French reason to reject the correction, or None to accept it."""
    problem = agent_id_problem(inp.agent_id)
    if problem:
        return problem
    if inp.action not in ACTIONS:
        return f"Action inconnue : choisissez parmi {', '.join(ACTIONS)}."
    if inp.action == "no_answer":
        return None
    if inp.action == "close":
        if not inp.comment.strip():
            return "Pour clore le dossier, donnez la raison (comment)."
        return None
    if inp.action == "retry":
        if reason in ADDRESS_REASONS:
            return "Un nouvel essai ne changerait rien : corrigez l'adresse (action correct)."
        return None
    if inp.action == "choose":
        if not candidates:
            return "Aucun candidat à choisir pour ce dossier : utilisez l'action correct."
        if not 1 <= inp.candidate <= len(candidates):
            return f"Candidat {inp.candidate} inexistant : choisissez entre 1 et {len(candidates)}."
        if not candidates[inp.candidate - 1].housenumber and not inp.housenumber.strip():
            return "Ce candidat est une voie sans numéro : précisez le numéro (housenumber)."
        if not candidates[inp.candidate - 1].sector:
            return "Ce candidat est hors de toute zone de collecte."
    address_given = any((inp.street, inp.postcode, inp.city)) or (
        inp.action == "correct" and bool(inp.housenumber)
    )
    if inp.action == "choose" and inp.housenumber and not HOUSENUMBER.match(inp.housenumber):
        return "Numéro de voie invalide (ex. 12, 12 bis)."
    if inp.action == "correct":
        needs_address = reason in ADDRESS_REASONS and not has_match
        if needs_address and not address_given:
            return "Adresse manquante : renseignez housenumber, street et postcode (ou city)."
        if address_given:
            if not inp.street.strip():
                return "Nom de voie manquant (street)."
            if not inp.housenumber.strip():
                return "Numéro de voie manquant (housenumber)."
            if not HOUSENUMBER.match(inp.housenumber.strip()):
                return "Numéro de voie invalide (ex. 12, 12 bis)."
            if not inp.postcode.strip() and not inp.city.strip():
                return "Code postal ou commune manquant (postcode ou city)."
            if inp.postcode and not POSTCODE.match(inp.postcode.strip()):
                return "Code postal invalide (5 chiffres)."
            if (
                reference is not None
                and reference.postcodes
                and inp.postcode
                and inp.postcode.strip() not in reference.postcodes
            ):
                return (
                    "Ce code postal est hors de toute zone de collecte : adresse hors territoire."
                )
        if not has_items and not inp.items and reason != EscalationReason.SMS_FAILED:
            return 'Aucun objet : renseignez items (ex. [{"item": "canapé", "count": 1}]).'
    # The objects by their place in `items`: the Web UI shows a refusal in clear, so it
    # repeats nothing the agent typed (domain/disclosure.py).
    for n, item in enumerate(inp.items, start=1):
        if item.count < 1:
            return f"Quantité invalide pour l'objet n° {n}."
        if reference is not None and reference.item_aliases:
            canonical = canonical_item(item.item, reference)
            if canonical is None:
                return f"Objet n° {n} inconnu du catalogue."
            if canonical in reference.refused_items:
                return f"L'objet n° {n} n'est pas collecté (déchèterie) : retirez-le."
    if inp.callback_number and to_e164(inp.callback_number) is None:
        return "Numéro de rappel invalide (ex. 06 12 34 56 78 ou +33 6 12 34 56 78)."
    return None


def resolve_example(reason: str, candidates: int) -> str:
    """The JSON an agent pastes into the UI's Update form for this kind of case."""
    if candidates:
        body: dict[str, object] = {"agent_id": "agent-42", "action": "choose", "candidate": 1}
    elif reason in ADDRESS_REASONS:
        body = {
            "agent_id": "agent-42",
            "action": "correct",
            "housenumber": "12",
            "street": "Boulevard Chave",
            "postcode": "13005",
            "items": [{"item": "canapé", "count": 1}],
        }
    else:
        body = {"agent_id": "agent-42", "action": "retry"}
    return json.dumps(body, ensure_ascii=False)


REASON_LABELS_FR = {
    EscalationReason.AUDIO_UNUSABLE: "audio inexploitable",
    EscalationReason.NO_ADDRESS: "aucune adresse comprise",
    EscalationReason.ADDRESS_NOT_FOUND: "adresse introuvable",
    EscalationReason.LOW_CONFIDENCE: "adresse incertaine",
    EscalationReason.OUT_OF_TERRITORY: "hors territoire",
    EscalationReason.ADDRESS_CONFLICT: "adresse en contradiction avec ce que l'appelant a dit",
    EscalationReason.NUMBER_NOT_SAID: "numéro de rue jamais entendu",
    EscalationReason.STREET_DIFFERS: "voie trouvée différente de la voie entendue",
    EscalationReason.SELF_CORRECTION: "l'appelant s'est repris sur l'adresse",
    EscalationReason.NUMBER_SUFFIX: "numéro existant aussi en bis / ter",
    EscalationReason.NO_ITEMS: "aucun objet compris",
    EscalationReason.TOO_MANY_ITEMS: "trop d'objets",
    EscalationReason.NO_SLOT: "aucun créneau disponible",
    EscalationReason.BOOKING_REJECTED: "réservation refusée",
    EscalationReason.SMS_FAILED: "SMS non délivré",
    EscalationReason.NO_MOBILE_NUMBER: "numéro non mobile : rappeler",
    EscalationReason.QUESTION: "question à traiter",
    EscalationReason.CANCEL_REQUEST: "demande d'annulation",
    EscalationReason.UNCLEAR_REQUEST: "demande non comprise",
    EscalationReason.UNMATCHED_SMS: "SMS sans dossier",
    EscalationReason.SMS_REPLY: "réponse SMS à lire",
    EscalationReason.SMS_UNDELIVERED: "SMS de confirmation non distribué : rappeler",
    EscalationReason.MISSED_CALL_CALLBACK: "appel manqué : rappeler",
    EscalationReason.LIVE_CALL_CALLBACK: "appel non abouti : rappeler",
}


def case_details_markdown(
    *,
    reason: str,
    detail: str,
    transcript: str,
    understanding: Understanding | None,
    match: AddressMatch | None,
    candidates: list[AddressMatch],
    caller_number: str = "",
    audio: str = "",
) -> str:
    """What an agent reads in the Temporal UI (workflow "current details"). `caller_number`:
    the number the call came from (shown with the callback number the caller gave, whatever
    the reason: an agent may have to call back on any case); `audio`: the Markdown line that
    plays the message (a signed link once the case is claimed), "" for a text message."""
    label = REASON_LABELS_FR.get(EscalationReason(reason), reason)
    lines = [f"## À traiter : {label}", "", f"**Pourquoi** : {markdown_text(detail) or label}", ""]
    callback = understanding.callback_number if understanding is not None else ""
    lines += [f"**Appelant** : {caller_label(caller_number, callback)}", ""]
    if audio:
        lines += [audio, ""]
    lines += [
        "**Message entendu**",
        "",
        f"> {markdown_text(transcript) or '(pas de transcription)'}",
        "",
    ]
    if understanding is not None:
        u = understanding
        address = u.address
        parts = (
            [
                " ".join(p for p in (address.housenumber, address.street) if p),
                " ".join(p for p in (address.postcode, address.city) if p),
            ]
            if address
            else []
        )
        # All of it is the caller's words, as understood.
        heard = markdown_text(", ".join(p for p in parts if p)) or "(aucune)"
        items = markdown_text(", ".join(f"{i.count} × {i.item}" for i in u.items)) or "(aucun)"
        refused = markdown_text(", ".join(f"{i.count} × {i.item}" for i in u.refused_items))
        lines += [
            "**Compris**",
            "",
            f"- intention : {u.intent}",
            f"- adresse entendue : {heard}",
            f"- objets : {items}",
        ]
        if refused:
            lines.append(f"- objets refusés : {refused}")
        lines += [f"- rappel : {markdown_text(u.callback_number) or '(inconnu)'}", ""]
    if match is not None:
        lines += [f"**Adresse retenue** : {match.label()} (secteur {match.sector})", ""]
    if candidates:
        lines += ["**Candidats**", "", "| n° | adresse | secteur | score |", "|---|---|---|---|"]
        for n, cand in enumerate(candidates, start=1):
            lines.append(f"| {n} | {cand.label()} | {cand.sector or '-'} | {cand.score:.2f} |")
        lines.append("")
    lines += [
        "**Pour reprendre** : More Actions → Send an Update → `resolve`, avec par exemple :",
        "",
        "```json",
        resolve_example(reason, len(candidates)),
        "```",
        "",
        "Autres actions : `retry` (nouvel essai de l'étape), `close` avec `comment`, "
        "`no_answer` (rappel sans réponse : le dossier reste en attente).",
    ]
    return "\n".join(lines)


def caller_label(caller_number: str, callback: str = "") -> str:
    """ "+33612345678", "+33491000000 (rappel demandé au +33612345678)", "numéro masqué"."""
    caller = caller_number.strip()
    other = callback.strip()
    if other and other != caller:
        return f"{caller or 'numéro masqué'} (rappel demandé au {other})"
    return caller or "numéro masqué (aucun numéro de rappel)"


def audio_markdown(link: AudioLinkResult | None) -> str:
    """The line of the details that plays the voicemail: the signed link once an agent has
    claimed the case, why there is none, or how to get one."""
    if link is None:
        return (
            "**Message vocal** : prenez le dossier (Update `claim`) pour obtenir le lien d'écoute."
        )
    if not link.available:
        return f"**Message vocal** : {link.reason or 'indisponible'}"
    until = hhmm(datetime.fromisoformat(link.expires_at))
    return f"**Message vocal** : [▶ écouter]({link.url}) (lien valable jusqu'à {until})"


def validate_callback_task(inp: ResolveInput, case: str) -> str | None:
    """A readable French reason to refuse an agent's Update on a callback task (`case`
    names it: "un SMS sans dossier"), or None. Names the rule, never the caller's data (the
    Web UI shows it in clear, see domain/disclosure.py)."""
    problem = agent_id_problem(inp.agent_id)
    if problem:
        return problem
    if inp.action not in CALLBACK_ACTIONS:
        return f"Action impossible pour {case} : close (avec comment) ou no_answer."
    if inp.action == "close" and not inp.comment.strip():
        return "Pour clore le dossier, donnez la raison (comment)."
    return None
