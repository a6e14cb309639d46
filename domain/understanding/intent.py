"""What the caller wants and how sure the understanding is: the intent from cue words and what
was extracted, and a confidence that says how complete the extraction is for that intent."""

from __future__ import annotations

import re

from domain.models import Intent, ItemCount, SpokenAddress
from domain.phone import is_mobile_fr
from domain.understanding.lexicon import FILLERS

# Not « annulissement »: Whisper's « arrondissement » (audio corpus 6868: a booking with a
# question taken for a cancellation). « annihler » is Whisper's « annuler » on a noisy line
# (audio corpus 8181: a cancellation sent to a person as not understood).
_CANCEL_RE = re.compile(r"\bannul(?!iss)\w*|\bannih?i?l\w*|\bdecommand\w*|\bdesist\w*")
_APPOINTMENT_RE = re.compile(r"\brendez[- ]vous\b|\brdv\b|\breservation\b|\bprevu\w*|\bpris\b")
_NO_LONGER_RE = re.compile(r"\b(?:n'?\s?en ai plus besoin|plus besoin|ne (?:plus|pas) venir)\b")
# The reasons a caller gives for cancelling, kept when « annuler » is lost (« je voudrais
# m'adurer le passage prévu, je me suis débarrassé des meubles autrement », audio corpus
# 8181: taken for a pickup request, « débarrass- » being a booking cue). Whisper drops one
# « r » of « débarrassé » or writes « débarrasser »; only after « suis / sommes »: « (je
# voudrais) me débarrasser de » asks for a pickup. A booking says them of some items (« le
# frigo, je m'en suis débarrassé, il reste le canapé »): with a new request beside them they
# cancel nothing.
_DONE_ELSEWHERE_RE = re.compile(
    r"\b(?:plus la peine|"
    r"(?:me|m'\s?en|nous|nous en) (?:suis|sommes) (?:deja |finalement |enfin )?"
    r"deb?ar+as+(?:ee?s?|er)|"
    r"(?:ai|avons|a) trouve (?:une )?autre solution)\b"
)
_PASSAGE_RE = re.compile(r"\ble passage\b")
_PLANNED_RE = re.compile(r"\w*\s+prevue?s?\b")
_NEW_REQUEST_RE = re.compile(
    r"\b(?:(?:prendre|voudrais|souhaite|souhaiterais|aimerais|faut) (?:un )?|besoin d'\s?un )"
    r"rendez[- ]vous\b|\bil (?:me )?reste\b"
)
_RESCHEDULE_RE = re.compile(
    r"\b(?:reporter|decaler|changer (?:la |de )?date|modifier (?:le|mon) rendez[- ]vous|"
    r"deplacer (?:le|mon) rendez[- ]vous)\b"
)
BOOKING_RE = re.compile(
    r"passer prendre|passiez prendre|passez prendre|venir (?:chercher|prendre|recuperer)|"
    r"\bque vous passiez\b|\bpasser chez moi\b|"
    r"rendez[- ]vous|\brdv\b|\benlev\w*|\benlevement|\brecuper\w*|\bdebarrass\w*|"
    r"\bramass\w*|\bcollect\w*|\breserv\w*|\bjeter\b|\bevacuer\b|\bencombrants?\b|"
    r"\bse separer\b|\bprendre en charge\b"
)
_WANT_RE = re.compile(r"\b(?:voudrais|souhaite|souhaiterais|aimerais|besoin)\b")
_QUESTION_RE = re.compile(
    r"\?|\bje (?:voudrais|voulais|souhaiterais|souhaite|aimerais) (?:savoir|connaitre|"
    r"me renseigner|un renseignement|une information|des informations)|"
    r"\best[- ]ce (?:que|qu)|\bou (?:se trouve|se situe|est|sont)\b|\bquel(?:le)?s? (?:sont|est)\b|"
    r"\bhoraires?\b|\bcomment (?:faire|faut|on|je|puis|proceder)\b|\bcombien\b|\bpourquoi\b|"
    r"\bsavoir si\b|\best-il possible\b|\bacceptez[- ]vous\b|\bprenez[- ]vous\b|"
    r"\bramassez[- ]vous\b|\brenseignements?\b|"
    # A question whose question mark Whisper lost (audio corpus 8181: « il existe une
    # application pour prendre rendez-vous » taken for a booking).
    r"\bil existe\b"
)
# « Je peux mettre une bouteille de gaz avec les encombrants ? », its question mark lost
# (audio corpus 6868: three such questions taken for bookings); a question only where no
# pickup is asked (« … enlever un canapé, je peux mettre aussi un matelas » is a booking).
_MAY_I_RE = re.compile(
    r"\b(?:je peux|puis[- ]je|on peut) (?:mettre|deposer|laisser|sortir|jeter)\b|"
    # Audio corpus 8181, question marks lost: « est que vous prenez les sommiers » (« est-ce »
    # garbled) was a booking without an address, « elle ouvre à quelle heure la déchèterie »
    # a request not understood. A kind of thing, not « vous prenez le matelas » (one's own);
    # not « dites-moi à quelle heure vous passez » beside a pickup request (the rule above).
    r"\bvous (?:prenez|ramassez|acceptez|emportez|enlevez|recuperez) "
    r"(?:aussi |egalement |meme )?(?:les|des)\b|"
    r"(?<!importe )\bquelle heure\b"
)
# The booking cues that are no pickup request by themselves.
_NOT_A_PICKUP = frozenset({"encombrant", "encombrants", "jeter"})


def _cancels(folded: str) -> bool:
    """A cancellation: its verb, or a reason to cancel beside an appointment and, for the
    reasons that also describe some items of a booking, no new request."""
    if _CANCEL_RE.search(folded):
        return True
    if _NO_LONGER_RE.search(folded) and _APPOINTMENT_RE.search(folded):
        return True
    reason = _DONE_ELSEWHERE_RE.search(folded)
    # « le passage » names the appointment here only (« un canapé dont je n'ai plus besoin,
    # c'est quand le passage ? » asks for one): « … le passage très vulain, je me suis
    # débarassé des meubles autrement » (audio corpus 8181).
    if (
        reason is None
        or not (_APPOINTMENT_RE.search(folded) or _PASSAGE_RE.search(folded))
        or _NEW_REQUEST_RE.search(folded)
    ):
        return False
    start, end = reason.span()
    # The appointment's own name is no new request: « rendez-vous », « l'enlèvement prévu ».
    return not any(
        not m.group().startswith(("rendez", "rdv", "reserv"))
        and not _PLANNED_RE.match(folded, m.end())
        and m.group() not in _NOT_A_PICKUP
        and not start <= m.start() < end
        for m in BOOKING_RE.finditer(folded)
    )


def _has_content(folded: str) -> bool:
    """More than greetings and fillers: "Allô ? Allô ?" asks nothing."""
    return sum(1 for w in re.findall(r"[^\W\d_]+", folded) if w not in FILLERS) >= 3


def find_intent(
    folded: str,
    has_street: bool,
    has_items: bool,
    notes: list[str],
) -> tuple[Intent, float]:
    """(intent, how sure) from cue words and what was extracted."""
    if _cancels(folded):
        sure = 0.9 if _APPOINTMENT_RE.search(folded) else 0.7
        return Intent.CANCEL, sure
    if _RESCHEDULE_RE.search(folded):
        notes.append("demande de changement de date : à traiter par un agent")
        return Intent.OTHER, 0.6
    booking_cue = BOOKING_RE.search(folded) is not None
    may_i = [m.span() for m in _MAY_I_RE.finditer(folded)]
    # « vous ramassez les pneus » asks; its own verb is no pickup request.
    pickup = any(
        m.group() not in _NOT_A_PICKUP and not any(a <= m.start() < b for a, b in may_i)
        for m in BOOKING_RE.finditer(folded)
    )
    question_cue = (
        _QUESTION_RE.search(folded) is not None or (bool(may_i) and not pickup)
    ) and _has_content(folded)
    if has_street and (has_items or booking_cue):
        # Polite question phrasing around an address and items is still a booking.
        return Intent.BOOKING, 1.0 if has_items else 0.7
    if question_cue:
        return Intent.QUESTION, 0.9 if not (has_items or booking_cue) else 0.7
    if booking_cue or has_items:
        return Intent.BOOKING, 0.8 if has_items and booking_cue else 0.6
    if has_street and _WANT_RE.search(folded):
        # An address and "je voudrais que vous…": the request is a pickup even when the
        # transcription lost the verb and the items ("faire l'alvé intable").
        notes.append("demande comprise comme un enlèvement (adresse donnée, objets non compris)")
        return Intent.BOOKING, 0.5
    return Intent.OTHER, 0.3


def confidence(
    intent: Intent,
    intent_sure: float,
    address: SpokenAddress | None,
    typed: bool,
    items: list[ItemCount],
    refused: list[ItemCount],
    callback: str,
    name: str,
    notes: list[str],
) -> float:
    """How complete the extraction is for what the intent needs, times how sure the intent is.

    A booking needs a street, a number, a locality, items and a number that takes SMS; a
    question needs nothing but the question; a cancellation is better with an address."""
    doubts = sum(
        1
        for n in notes
        if n.startswith(
            ("quantité", "« ", "code postal", "adresse sans", "le code postal", "type de voie")
        )
    )
    if intent is Intent.BOOKING:
        score = 0.0
        if address and address.street:
            score += 0.30 if typed else 0.15
        if address and address.housenumber:
            score += 0.15
        if address and address.postcode and address.citycode:
            score += 0.15
        elif address and address.city:
            score += 0.08
        if items or refused:
            score += 0.25
        if callback and is_mobile_fr(callback):
            score += 0.10
        if name:
            score += 0.05
        score -= 0.05 * doubts
    elif intent is Intent.CANCEL:
        score = 0.6 + (0.2 if address and address.street else 0.0) + (0.1 if callback else 0.0)
        score += 0.1 if name else 0.0
    elif intent is Intent.QUESTION:
        score = 0.9 + (0.1 if name else 0.0)
    else:
        score = 0.3
    return round(max(0.0, min(1.0, score * intent_sure)), 2)
