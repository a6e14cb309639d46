"""Item slots: words of the request that should name an item but match no catalogue form,
after a quantity ("un", "deux", "d'un", "en" — Whisper's spelling of an accented "un"), in a
sentence that asks for a pickup. The audio then chooses among the catalogue forms that sound
closest (the `refine_items` activity), and `apply_item_scores` adds the form that clearly wins.
"""

from __future__ import annotations

import re
from dataclasses import replace

from domain.address_models import ItemSlot
from domain.catalogue import Catalogue
from domain.models import Intent, ItemCount, Understanding
from domain.numbers import Token, find_numbers, find_phone_numbers, fold, tokenize
from domain.understanding.caller import caller_name
from domain.understanding.intent import BOOKING_RE
from domain.understanding.item_takebacks import kept_after, taken_back_after
from domain.understanding.items import NO_ITEMS_NOTE
from domain.understanding.lexicon import ADJECTIVES
from domain.understanding.locality import sentence_bounds
from domain.understanding.region import locate_address
from domain.understanding.territory import Territory

_REQUEST_RE = re.compile(
    BOOKING_RE.pattern + r"|\b(?:voudrais|souhaite|souhaiterais|besoin|aimerais)\b"
)
_SLOT_QUANTITY_WORDS = {"un": 1, "une": 1, "en": 1, "des": 2, "deux": 2, "trois": 3}
_SLOT_QUANTITY_WORDS.update({"quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9})
_SLOT_QUANTITY_WORDS.update({"dix": 10})
# Words after which a slot stops: the sentence goes on with something else.
# (Articles do not stop it: a transcription glues them to the item, "l'avesselle".)
_SLOT_STOPS = frozenset(
    {"et", "merci", "bonne", "revoir", "vous", "je", "j", "nous", "pour", "avec", "svp"}
    | {"s", "il", "plait", "c", "ce", "qui", "que", "mais", "bonsoir", "bonjour", "avance"}
    | {"beaucoup", "d", "de", "du", "des", "en", "au", "aux", "a"}
)
# Nouns of the request itself, never an item.
_NOT_ITEMS = frozenset(
    {"rendez", "rdv", "besoin", "enlevement", "passage", "moment", "jour", "jours", "semaine"}
    | {"mois", "message", "numero", "appel", "question", "adresse", "demande", "peu", "coup"}
    | {"creneau", "service", "rappel", "renseignement", "information", "probleme", "instant"}
    | {"endroit", "fois", "an", "ans", "heure", "heures", "minute", "minutes", "mot", "autre"}
    | {"seul", "seule", "tout", "toute", "tous", "rien", "devis", "collecte", "ramassage"}
    | {"ai", "a", "avons", "avez", "ont", "est", "suis", "plus", "fait", "faire", "peux"}
)
MAX_SLOT_WORDS = 3
MAX_SLOT_FORMS = 12


# "en" is Whisper's spelling of an accented "un" only where a list of items goes on: after
# the request verb, "pour", "et" or a comma ("passer prendre en fauteuil"); elsewhere it is
# the pronoun or the preposition ("j'en ai besoin", "une table en bois").
_EN_AFTER = frozenset(
    {"prendre", "enlever", "enleve", "debarrasser", "recuperer", "jeter", "pour", "et"}
)


def _slot_quantity(tok: Token) -> int | None:
    if tok.is_digits:
        value = int(tok.text)
        return value if 1 <= value <= 20 else None
    return _SLOT_QUANTITY_WORDS.get(tok.folded)


def _is_slot_quantity(text: str, tokens: list[Token], i: int) -> int | None:
    count = _slot_quantity(tokens[i])
    if count is None or tokens[i].folded != "en":
        return count
    if i == 0:
        return None
    after_comma = "," in text[tokens[i - 1].end : tokens[i].start]
    return count if after_comma or tokens[i - 1].folded in _EN_AFTER else None


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def _blocked_spans(text: str, tokens: list[Token], territory: Territory) -> list[tuple[int, int]]:
    """Where no slot can be: phone numbers, the caller's name, the address region."""
    numbers = find_numbers(text, tokens)
    phones = find_phone_numbers(text, numbers)
    blocked = [(p.start, p.end) for p in phones]
    _, name_span = caller_name(text, territory)
    if name_span:
        blocked.append(name_span)
    region = locate_address(text, territory, tokens)
    if region is not None:
        # From the number the caller took back, if any (« au 14, non pardon, au 4 … »).
        blocked.append((region.said_from if region.said_from >= 0 else region.start, region.end))
    return blocked


def _slot_words(text: str, tokens: list[Token], i: int) -> tuple[int, int]:
    """(first, end) tokens of the words after the quantity at token i: adjectives skipped, up
    to a stop word, another quantity or punctuation."""
    k = i + 1
    while k < len(tokens) and tokens[k].folded in ADJECTIVES and k - i <= 2:
        k += 1
    return k, _words_end(text, tokens, k)


def _words_end(text: str, tokens: list[Token], first: int) -> int:
    """The end token of the words from `first`: up to a stop word, a quantity or punctuation,
    MAX_SLOT_WORDS at most."""
    k = first
    while (
        k < len(tokens)
        and k - first < MAX_SLOT_WORDS
        and tokens[k].folded not in _SLOT_STOPS
        and _slot_quantity(tokens[k]) is None
        and not (k > first and re.search(r"[,.;:!?]", text[tokens[k - 1].end : tokens[k].start]))
    ):
        k += 1
    return k


def find_item_slots(
    text: str, catalogue: Catalogue, territory: Territory, *, answer: bool = False
) -> list[ItemSlot]:
    """Quantity + unknown words in the request sentences, with the catalogue forms that sound
    closest (`catalogue.closest_forms`). `answer`: the text answers the question « Quels
    objets faut-il enlever ? » of a call, where the words name items even with their
    article lost or glued to them (`_answer_slots`)."""
    clean = text  # offsets stay those of `text`
    tokens = tokenize(clean)
    blocked = _blocked_spans(clean, tokens, territory)
    taken = [(m.start, m.end) for m in catalogue.find_mentions(clean, tokens=tokens)]
    slots: list[ItemSlot] = []
    folded = fold(clean)
    i = 0
    while i < len(tokens) - 1:
        tok = tokens[i]
        count = _is_slot_quantity(clean, tokens, i)
        if count is None:
            i += 1
            continue
        start_s, end_s = sentence_bounds(clean, tok.start)
        if not _REQUEST_RE.search(folded, start_s, end_s):
            i += 1
            continue
        first, k = _slot_words(clean, tokens, i)
        if k == first or tokens[first].folded in _NOT_ITEMS:
            i += 1
            continue
        span = (tok.start, tokens[k - 1].end)
        words = clean[tokens[first].start : tokens[k - 1].end]
        if _overlaps(*span, blocked) or _overlaps(*span, taken) or len(fold(words)) < 3:
            i += 1
            continue
        # What the caller takes back or keeps is no item to find in the audio either.
        if taken_back_after(clean, tokens, k) or kept_after(tokens, k, clean):
            i = k
            continue
        scored = catalogue.closest_forms_scored(words, MAX_SLOT_FORMS)
        if scored:
            forms = [f for f, _ in scored]
            sims = [sim for _, sim in scored]
            slots.append(ItemSlot(span[0], span[1], tok.text, count, forms, sims))
        i = k
    if answer:
        taken += [(sl.start, sl.end) for sl in slots]
        slots += _answer_slots(clean, tokens, blocked + taken, catalogue)
        slots.sort(key=lambda sl: sl.start)
    return slots


# In an answer to the items question, words with no quantity before them are a slot when
# they sound this much like a catalogue form (« affrigo » for « un frigo »: 0.91 with
# « frigo »; « amat la » for « un matelas »: 0.73): the phone's 8 kHz glues or drops the
# article. Below it, a word of the answer is more likely no item at all (« j'attends »:
# 0.46 at best); the audio still has to choose the form by a clear margin.
ANSWER_SLOT_SIMILARITY = 0.7


def _answer_slots(
    text: str, tokens: list[Token], taken: list[tuple[int, int]], catalogue: Catalogue
) -> list[ItemSlot]:
    slots: list[ItemSlot] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (
            tok.folded in _SLOT_STOPS
            or tok.folded in _NOT_ITEMS
            or _slot_quantity(tok) is not None
            or tok.is_digits
            or len(tok.folded) < 4
            # After a quantity, the words are a request's slot or none (outside the request
            # sentences, a measurement found such slots wrong 8 times in 160 answers).
            or (i > 0 and _slot_quantity(tokens[i - 1]) is not None)
        ):
            i += 1
            continue
        k = _words_end(text, tokens, i)
        span = (tok.start, tokens[k - 1].end)
        if (
            _overlaps(*span, taken)
            # « pas affrigo », « affrigo, non pardon », « affrigo, je le garde »: no item.
            or (i > 0 and tokens[i - 1].folded in _NEGATIONS)
            or taken_back_after(text, tokens, k)
            or kept_after(tokens, k, text)
        ):
            i = k
            continue
        scored = catalogue.closest_forms_scored(text[span[0] : span[1]], MAX_SLOT_FORMS)
        if not scored or max(sim for _, sim in scored) < ANSWER_SLOT_SIMILARITY:
            i += 1  # « alors affrigo »: the next word may be the item on its own
            continue
        forms = [f for f, _ in scored]
        sims = [sim for _, sim in scored]
        # No quantity was heard: the slot says « un » before the form it tries.
        slots.append(ItemSlot(span[0], span[1], "un", 1, forms, sims))
        i = k
    return slots


_NEGATIONS = frozenset({"pas", "plus", "jamais", "sans", "ni"})


ITEM_MARGIN_NATS = 2.0  # the best form must beat the runner-up by this much
ITEM_TEXT_WEIGHT_NATS = 10.0  # nats per unit of sound similarity (as for streets)


def apply_item_scores(
    u: Understanding,
    slots: list[ItemSlot],
    scores: list[list[float]],
    catalogue: Catalogue,
    margin: float = ITEM_MARGIN_NATS,
) -> Understanding:
    """The understanding with the items the audio chose for the slots (forms scored by
    log-likelihood ratio against silence; a slot whose best form does not clearly win adds
    nothing)."""
    items = {i.item: i.count for i in u.items}
    refused = {i.item: i.count for i in u.refused_items}
    notes = list(u.notes)
    for slot, slot_scores in zip(slots, scores, strict=False):
        if not slot_scores or len(slot_scores) != len(slot.forms):
            continue
        # As for streets: the audio's evidence plus how the words heard sound like the form.
        sims = slot.similarities if len(slot.similarities) == len(slot.forms) else []
        values = [
            v + (ITEM_TEXT_WEIGHT_NATS * sims[j] if sims else 0.0)
            for j, v in enumerate(slot_scores)
        ]
        order = sorted(range(len(values)), key=lambda j: -values[j])
        gap = values[order[0]] - (values[order[1]] if len(order) > 1 else -1e9)
        if gap < margin:
            continue
        item = catalogue.get(slot.forms[order[0]])
        if item is None:
            continue
        target = items if item.accepted else refused
        target[item.name] = target.get(item.name, 0) + slot.count
        heard = slot.quantity
        notes.append(f"« {heard} … » compris comme {item.name} d'après l'audio")
    out = replace(
        u,
        items=[ItemCount(n, c) for n, c in items.items()],
        refused_items=[ItemCount(n, c) for n, c in refused.items()],
        notes=notes,
    )
    if out.refused_items:
        out.refusal_advice = catalogue.refusal_advice(r.item for r in out.refused_items)
    if out.intent == Intent.BOOKING and out.items:
        out.notes = [n for n in out.notes if n != NO_ITEMS_NOTE]
    return out
