"""Items and their counts: each catalogue mention with the quantity said before it ("deux
chaises", "une dizaine de cartons", "le frigo"), negations and places left out, accepted and
refused items apart."""

from __future__ import annotations

from dataclasses import dataclass

from domain.catalogue import ItemMention
from domain.models import ItemCount
from domain.numbers import NumberSpan, Token
from domain.understanding.lexicon import (
    ADJECTIVES,
    APPROX_NOUNS,
    DEFINITE,
    INDEFINITE_PLURAL,
    NEGATIONS,
)


@dataclass
class _Counted:
    name: str
    count: int
    accepted: bool


def _number_count(
    span: NumberSpan,
    mention: ItemMention,
    numbers_end_at: dict[int, NumberSpan],
    tokens: list[Token],
    notes: list[str],
) -> int:
    """The count said as a number right before the item."""
    name = mention.item.name
    count = span.value
    if not span.spoken and count >= 10 and not mention.plural:
        # "en 21 chaise": digits before a noun left in the singular are a
        # transcription artefact ("enlever une chaise"), not twenty-one chairs.
        count = 1
        notes.append(f"quantité « {span.digits} » douteuse pour {name} : 1 retenu")
    if span.first_token >= 2 and tokens[span.first_token - 1].folded == "ou":
        # "deux ou trois chaises": plan for the larger number.
        low = numbers_end_at.get(span.first_token - 1)
        count = max(count, low.value) if low is not None else count
        notes.append(f"quantité incertaine pour {name} : {count} retenu (le maximum)")
    return count


def _mention_count(
    mention: ItemMention,
    tokens: list[Token],
    numbers_end_at: dict[int, NumberSpan],
    counted: dict[str, _Counted],
    notes: list[str],
) -> int | None:
    """How many of the mentioned item the caller means; None when the mention adds none."""
    k = mention.first_token
    while k > 0 and tokens[k - 1].folded in ADJECTIVES and mention.first_token - k < 3:
        k -= 1
    prev = [t.folded for t in tokens[max(0, k - 2) : k]]
    name = mention.item.name
    if any(tuple(prev[-len(neg) :]) == neg for neg in NEGATIONS):
        notes.append(f"« {mention.heard} » cité à la forme négative : ignoré")
        return None
    if prev and prev[-1] in ("au", "aux"):
        # "je suis au bureau", "au lit": a place, not something to collect.
        return None
    span = numbers_end_at.get(k)
    if span is not None and 1 <= span.value <= 999:
        return _number_count(span, mention, numbers_end_at, tokens, notes)
    if len(prev) == 2 and prev[-1] in ("de", "d") and prev[0].rstrip("s") in APPROX_NOUNS:
        count = APPROX_NOUNS[prev[0].rstrip("s")]
        mult = numbers_end_at.get(k - 2)
        if mult is not None and not mult.is_article:
            count *= mult.value
        notes.append(f"quantité approximative pour {name} : {count}")
        return count
    if prev and prev[-1] in DEFINITE:
        # "le frigo" again: the one already counted
        return None if name in counted else 1
    if (prev and prev[-1] in INDEFINITE_PLURAL) or mention.plural:
        count = 2 if mention.plural else 1
        notes.append(f"quantité non précisée pour {name} : {count} retenu")
        return count
    return 1


def count_items(
    tokens: list[Token],
    numbers: list[NumberSpan],
    mentions: list[ItemMention],
    notes: list[str],
) -> tuple[list[ItemCount], list[ItemCount]]:
    """(accepted items, refused items), each with its count."""
    numbers_end_at = {n.last_token: n for n in numbers}
    counted: dict[str, _Counted] = {}
    for mention in mentions:
        count = _mention_count(mention, tokens, numbers_end_at, counted, notes)
        if count is None:
            continue
        name = mention.item.name
        if mention.fuzzy:
            notes.append(f"« {mention.heard} » compris comme {name}")
        if name in counted:
            counted[name].count += count
        else:
            counted[name] = _Counted(name, count, mention.item.accepted)
    items = [ItemCount(c.name, c.count) for c in counted.values() if c.accepted]
    refused = [ItemCount(c.name, c.count) for c in counted.values() if not c.accepted]
    return items, refused
