"""Questions about an item ("vous prenez les pneus ?", "une bouteille de gaz ?") answered from
the item catalogue: collected or refused, and where to take it. The FAQ answers first when it
has a confident entry that speaks of the items asked (`faq_speaks_of`); otherwise the catalogue
does, since it knows every item it lists. Measured: retrieval is confidently wrong on items its
entries do not name ("un radiateur avec les encombrants ?" → ordures ménagères, "un salon de
jardin ?" → déchets verts, "un sac de branchages ?" → gravats).

The answer is a French paragraph for the `faq_answer` SMS template (which adds the number to
call): GSM-7 where the catalogue's own words allow it."""

from __future__ import annotations

import re

from domain.catalogue import Catalogue, CatalogueItem, plural_form
from domain.numbers import fold

# The question asks whether an item is taken, or what to do with it. Only then is "is it
# collected" the answer: "combien ça coûte pour un canapé ?" names an item and asks another
# thing.
_ASKS_IF_TAKEN = re.compile(
    r"\b(?:prenez|prendre|prend|ramassez|ramasser|ramasse|acceptez|accepter|accepte|"
    r"collectez|collecter|collecte|enlevez|emportez|recuperez|reprenez)\b|"
    r"\bavec les encombrants\b|\bencombrants?\b.*\?|"
    r"\b(?:que|qu'?est[- ]ce que (?:je|j'?|on)) ?(?:fai[st]|faire) (?:de|d'|avec)|"
    r"\bje fais quoi (?:de|d'|avec)|\bque faire (?:de|d'|avec)|"
    r"\bou (?:jeter|deposer|mettre|porter|amener)\b|\b(?:je|on) (?:jette|depose|met)s?\b"
)
# What an elliptical question ("et une bouteille de gaz ?") holds besides the item.
_ELLIPSIS_WORDS = frozenset(
    {"et", "aussi", "un", "une", "des", "les", "le", "la", "l", "de", "du", "d", "pour", "ou"}
    | {"mon", "ma", "mes", "vieux", "vieille", "vieil", "sinon", "alors", "euh", "encore"}
)


def items_asked(question: str, catalogue: Catalogue) -> list[CatalogueItem]:
    """The catalogue items the question asks about ([] when it asks nothing of the kind)."""
    mentions = catalogue.find_mentions(question)
    if not mentions:
        return []
    folded = fold(question)
    if not _ASKS_IF_TAKEN.search(folded):
        rest = question
        for m in sorted(mentions, key=lambda m: m.start, reverse=True):
            rest = rest[: m.start] + " " + rest[m.end :]
        words = re.findall(r"[^\W\d_]+", fold(rest))
        if any(w not in _ELLIPSIS_WORDS for w in words):
            return []
    seen: list[CatalogueItem] = []
    for m in mentions:
        if m.item not in seen:
            seen.append(m.item)
    return seen


def _plurals(items: list[CatalogueItem]) -> str:
    names = [f"les {plural_form(i.name)}" for i in items]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " et " + names[-1]


def item_answer(question: str, catalogue: Catalogue, *, with_booking: bool = False) -> str:
    """The catalogue's answer to a question about items, "" when the question is not one.

    with_booking: the caller is booking a pickup in the same message (the answer then says how
    to add an accepted item to it, never that it is added: the booking holds what was asked)."""
    asked = items_asked(question, catalogue)
    if not asked:
        return ""
    accepted = [i for i in asked if i.accepted]
    refused = [i for i in asked if not i.accepted]
    sentences: list[str] = []
    if accepted:
        # Said by SMS or by voice (the live call's FAQ too): no channel named.
        collected = f"Oui, nous collectons {_plurals(accepted)} avec les encombrants"
        if with_booking:
            sentences.append(f"{collected}.")
            sentences.append("Pour en ajouter à votre rendez-vous, appelez un conseiller.")
        else:
            sentences.append(f"{collected}, sur rendez-vous.")
    for item in refused:
        lead = "Non" if not accepted and len(refused) == 1 else f"Non pour {_plurals([item])}"
        reason = item.reason or f"{_plurals([item]).capitalize()} ne sont pas collectés."
        where = f" Où les déposer : {item.destination}." if item.destination else ""
        sentences.append(f"{lead} : {reason[0].lower()}{reason[1:]}{where}")
    return " ".join(sentences)


def faq_speaks_of(answer: str, asked: list[CatalogueItem], catalogue: Catalogue) -> bool:
    """The FAQ's answer names every item asked (then it answers the question asked)."""
    named = {m.item.name for m in catalogue.find_mentions(answer)}
    return all(item.name in named for item in asked)
