"""`understand()`: a transcript (or an SMS) → an `Understanding`: intent, address as heard,
items and their counts, caller name and callback number, with a confidence that says how
complete the extraction is and `notes` that tell an agent what was guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from domain.catalogue import Catalogue
from domain.models import Intent, ItemCount, SpokenAddress, Understanding
from domain.numbers import (
    NumberSpan,
    PhoneSpan,
    Token,
    find_numbers,
    find_phone_numbers,
    fold,
    tokenize,
)
from domain.phone import is_mobile_fr, to_e164
from domain.understanding.address import extract_address
from domain.understanding.caller import caller_name
from domain.understanding.intent import BOOKING_RE, confidence, find_intent
from domain.understanding.items import NO_ITEMS_NOTE, count_items
from domain.understanding.side_question import side_question_spans
from domain.understanding.territory import Territory


def _clean(text: str) -> str:
    text = text.replace("’", "'").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def _callback(phones: list[PhoneSpan], caller_number: str, notes: list[str]) -> str:
    """The number to call back: one dictated in the message wins over the caller id."""
    callback = ""
    for phone in phones:
        e164 = to_e164(phone.digits)
        if e164:
            callback = e164
            notes.append("numéro de rappel dicté dans le message")
            break
    if not callback:
        if phones:
            notes.append("numéro dicté illisible : numéro de l'appelant retenu")
        callback = (to_e164(caller_number) or "") if caller_number else ""
        if not callback:
            notes.append("aucun numéro de rappel utilisable")
    if callback and not is_mobile_fr(callback):
        notes.append("le numéro de rappel ne peut pas recevoir de SMS")
    return callback


def understand(
    text: str, caller_number: str, catalogue: Catalogue, territory: Territory
) -> Understanding:
    """What the caller wants, from what they said. Never raises on odd input: an empty or
    unintelligible text gives intent "other" with confidence 0."""
    notes: list[str] = []
    clean = _clean(text)
    if not clean:
        return Understanding(
            intent=Intent.OTHER.value,
            callback_number=to_e164(caller_number) or "" if caller_number else "",
            notes=["message vide"],
        )
    folded = fold(clean)
    tokens = tokenize(clean)
    numbers = find_numbers(clean, tokens)
    phones = find_phone_numbers(clean, numbers)
    callback = _callback(phones, caller_number, notes)

    name, name_span = caller_name(clean, territory)
    blocked = [(p.start, p.end) for p in phones]
    if name_span:
        blocked.append(name_span)
    words = _Words(clean, tokens, numbers, phones)

    heard = _extract(words, blocked, folded, catalogue, territory)
    question = ""
    spans = side_question_spans(clean)
    if spans and heard.intent in (Intent.BOOKING, Intent.QUESTION):
        # A pickup and a question in one message: without the question's words, is the rest
        # still a pickup request? Then the question's items are asked about, not given, and
        # its words say nothing of the address.
        rest = clean
        for start, end in spans:
            rest = rest[:start] + " " * (end - start) + rest[end:]
        folded_rest = fold(rest)
        beside = _extract(words, blocked + spans, folded_rest, catalogue, territory)
        # A pickup asked for (its verb) or a place given: an item merely named beside the
        # question ("… les gravats ? J'ai des sacs de ciment.") keeps the message a question.
        asked = BOOKING_RE.search(folded_rest) is not None or bool(
            beside.address and beside.address.street
        )
        if beside.intent is Intent.BOOKING and asked:
            heard = beside
            question = " ".join(clean[start:end] for start, end in spans)
            heard.notes.append("question posée en plus de la demande d'enlèvement")
    notes.extend(heard.notes)
    address, typed, items, refused = heard.address, heard.typed, heard.items, heard.refused
    intent, intent_sure = heard.intent, heard.intent_sure
    if intent is Intent.BOOKING and not (items or refused):
        notes.append(NO_ITEMS_NOTE)
    if refused:
        notes.append("objets refusés : " + ", ".join(r.item for r in refused))

    advice = catalogue.refusal_advice(r.item for r in refused) if refused else ""
    score = confidence(intent, intent_sure, address, typed, items, refused, callback, name, notes)
    return Understanding(
        intent=intent.value,
        address=address,
        items=items,
        refused_items=refused,
        callback_number=callback,
        caller_name=name,
        confidence=score,
        notes=notes,
        refusal_advice=advice,
        question=question,
    )


@dataclass(frozen=True)
class _Words:
    """The message as read once: its text, tokens, numbers and phone numbers."""

    text: str
    tokens: list[Token]
    numbers: list[NumberSpan]
    phones: list[PhoneSpan]


@dataclass
class _Heard:
    """What one reading of the message found (the whole of it, or all but a side question)."""

    address: SpokenAddress | None
    typed: bool
    items: list[ItemCount]
    refused: list[ItemCount]
    intent: Intent
    intent_sure: float
    notes: list[str] = field(default_factory=list)


def _extract(
    words: _Words,
    blocked: list[tuple[int, int]],
    folded: str,
    catalogue: Catalogue,
    territory: Territory,
) -> _Heard:
    """Address, items and intent from the text outside `blocked` (intent: from `folded`)."""
    notes: list[str] = []
    address, street_span, typed = extract_address(
        words.text, words.tokens, words.numbers, words.phones, blocked, notes, territory
    )
    excluded = list(blocked)
    if street_span:
        excluded.append(street_span)
    mentions = catalogue.find_mentions(words.text, exclude=excluded, tokens=words.tokens)
    items, refused = count_items(words.tokens, words.numbers, mentions, notes, words.text)
    has_street = address is not None and bool(address.street)
    intent, intent_sure = find_intent(folded, has_street, bool(items or refused), notes)
    return _Heard(address, typed, items, refused, intent, intent_sure, notes)
