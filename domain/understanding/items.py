"""Items and their counts: each catalogue mention with the quantity said before it ("deux
chaises", "une dizaine de cartons", "le frigo"), negations and places left out, accepted and
refused items apart; what takes an item back once said is item_takebacks.py's."""

from __future__ import annotations

from dataclasses import dataclass

from domain.catalogue import ItemMention
from domain.models import ItemCount
from domain.numbers import NumberSpan, Token, fold
from domain.understanding.item_takebacks import (
    PUNCTUATION,
    corrects,
    count_said_instead,
    kept_after,
    kept_before,
    punctuated,
    refuses_next,
    replacement_lost,
)
from domain.understanding.lexicon import (
    ADJECTIVES,
    APPROX_NOUNS,
    DEFINITE,
    DESCRIPTIVE_NOUNS,
    EXCLUDERS,
    EXCLUSIONS,
    INDEFINITE_PLURAL,
    KEPT_DETERMINERS,
    NEGATIONS,
)

# The note of a booking request whose items none were understood (dropped once some are).
NO_ITEMS_NOTE = "aucun objet reconnu"
# Whisper's loops: a phrase of up to LOOP_MAX_PERIOD words said LOOP_MIN_REPEATS times or more
# in a row is a transcription artefact, not items said again.
LOOP_MAX_PERIOD = 12
LOOP_MIN_REPEATS = 3


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


def _adjectives_start(tokens: list[Token], mention: ItemMention) -> int:
    """The first token of the mention with the adjectives said before it (« vieux frigo »)."""
    k = mention.first_token
    while k > 0 and tokens[k - 1].folded in ADJECTIVES and mention.first_token - k < 3:
        k -= 1
    return k


# « l'autre fauteuil », « les autres chaises »: another one than the one counted.
_OTHER = frozenset({"autre", "autres"})


def _untake(
    counted: dict[str, _Counted], name: str, tokens: list[Token], k: int, notes: list[str]
) -> None:
    """A definite mention kept (« le canapé, je le garde ») takes back one of the item counted
    before, « les … » all of them."""
    if name not in counted or k == 0 or counted[name].count == 0:
        return
    article = tokens[k - 1].folded
    if article not in KEPT_DETERMINERS:
        return
    counted[name].count = 0 if article == "les" else counted[name].count - 1
    notes.append(f"{name} écarté par l'appelant : retiré")


def _mention_count(
    mention: ItemMention,
    tokens: list[Token],
    numbers_end_at: dict[int, NumberSpan],
    counted: dict[str, _Counted],
    notes: list[str],
    text: str = "",
) -> int | None:
    """How many of the mentioned item the caller means; None when the mention adds none."""
    k = _adjectives_start(tokens, mention)
    prev = [t.folded for t in tokens[max(0, k - 2) : k]]
    name = mention.item.name
    if _negated(text, tokens, k, mention.first_token):
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
    if prev and prev[-1].rstrip("s") in APPROX_NOUNS and mention.plural:
        # « une douzaine poussettes »: the « de » lost.
        count = APPROX_NOUNS[prev[-1].rstrip("s")]
        mult = numbers_end_at.get(k - 1)
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


def _negated(text: str, tokens: list[Token], k: int, first: int) -> bool:
    """The words before token k (an item, or the adjectives before it) leave it out."""
    for neg in NEGATIONS + EXCLUSIONS:
        n = len(neg)
        if k < n or tuple(t.folded for t in tokens[k - n : k]) != neg:
            continue
        # "je ne sais pas, la table …": a negation does not reach over punctuation inside its
        # own words; before them it may ("un sommier, sans matelas").
        if any(punctuated(text, tokens, j) for j in range(k - n + 1, first + 1)):
            continue
        # "mais pas la table", ", pas le canapé"; not "je ne garde pas la table non plus"
        p = k - n
        if neg in EXCLUSIONS and not (
            p == 0 or tokens[p - 1].folded in EXCLUDERS or punctuated(text, tokens, p)
        ):
            continue
        return True
    return False


def _gap(text: str, tokens: list[Token], before: ItemMention, mention: ItemMention) -> range:
    """The tokens between two mentions of one sentence (none across a sentence's end: "un
    frigo, pardon pour le bruit. Un canapé …" corrects nothing)."""
    if any(c in ".!?" for c in text[before.end : mention.start]):
        return range(0)
    return range(before.last_token, mention.first_token)


def _restated(
    text: str,
    tokens: list[Token],
    before: ItemMention,
    mention: ItemMention,
    numbers_end_at: dict[int, NumberSpan],
) -> bool:
    """ "quatre buffets, cinq buffets": the same item counted again right after, nothing but
    its new count between and nothing that tells it apart after it, is the count said instead
    (the « non » lost), not more of it. « trois chaises, quatre chaises de jardin » are seven."""
    span = numbers_end_at.get(mention.first_token)
    first = numbers_end_at.get(before.first_token)
    after = mention.last_token
    return (
        before.item.name == mention.item.name
        # « un lit, un lit pour moi et … »: articles list, counts restate.
        and first is not None
        and not first.is_article
        and span is not None
        and not span.is_article
        and span.first_token == before.last_token
        and not any(c in ".!?;" for c in text[before.end : mention.start])
        and (
            after >= len(tokens)
            or punctuated(text, tokens, after)
            or tokens[after].folded in ("et", "merci")
            or after in {n.first_token for n in numbers_end_at.values()}
        )
    )


def _describes(
    text: str, tokens: list[Token], before: ItemMention, mention: ItemMention, span: NumberSpan
) -> bool:
    """ "une armoire deux portes": a count and a descriptive noun glued to the item before."""
    return (
        span.first_token == before.last_token
        and tokens[mention.first_token].folded in DESCRIPTIVE_NOUNS
        and not any(c in ",.;:!?" for c in text[tokens[before.last_token - 1].end : span.start])
    )


def loop_regions(tokens: list[Token]) -> list[tuple[int, int, int]]:
    """(start, period, end) token ranges where the same words repeat LOOP_MIN_REPEATS times or
    more in a row, longest first at each start."""
    words = [t.folded for t in tokens]
    regions: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        found = None
        for period in range(1, LOOP_MAX_PERIOD + 1):
            reps = 1
            while words[i : i + period] == words[i + reps * period : i + (reps + 1) * period]:
                reps += 1
            if reps >= LOOP_MIN_REPEATS and len(words[i : i + period]) == period:
                found = (i, period, i + reps * period)
                break
        if found is None:
            i += 1
            continue
        regions.append(found)
        i = found[2]
    return regions


def _in_loop(
    mention: ItemMention,
    earlier: list[ItemMention],
    regions: list[tuple[int, int, int]],
) -> bool:
    """A mention inside a loop: past its first turn, or in the first turn when the item was
    named before the loop (Whisper loops on a phrase it has just written)."""
    for start, period, end in regions:
        if start <= mention.first_token < end:
            if mention.first_token >= start + period:
                return True
            return any(m.item.name == mention.item.name and m.last_token <= start for m in earlier)
    return False


def count_items(
    tokens: list[Token],
    numbers: list[NumberSpan],
    mentions: list[ItemMention],
    notes: list[str],
    text: str = "",
) -> tuple[list[ItemCount], list[ItemCount]]:
    """(accepted items, refused items), each with its count."""
    numbers_end_at = {n.last_token: n for n in numbers}
    numbers_start_at = {n.first_token: n for n in numbers}
    heard_before: dict[str, set[str]] = {}  # the words each item was named in so far
    counted: dict[str, _Counted] = {}
    added: list[tuple[str, int]] = []  # what each mention added (name, count)
    regions = loop_regions(tokens)
    for j, mention in enumerate(mentions):
        name = mention.item.name
        before = mentions[j - 1] if j else None
        gap = _gap(text, tokens, before, mention) if before is not None else range(0)
        refused_next = refuses_next(tokens, gap)
        # « une bibliothèque, pas la bibliothèque, le réfrigérateur »: the « non » of « non
        # pas » lost, the same thing named and left out at once takes it back.
        after = mentions[j + 1] if j + 1 < len(mentions) else None
        excluded_again = (
            before is not None
            and before.item.name == name
            and before.item.accepted
            and len(gap) == 2  # « pas » and its article, in the same sentence
            and _negated(text, tokens, mention.first_token, mention.first_token)
            and after is not None
            and after.item.name != name
            and bool(_gap(text, tokens, mention, after))
        )
        if before is not None and (
            (corrects(text, tokens, gap) and not refused_next)
            or _restated(text, tokens, before, mention, numbers_end_at)
            or ((refused_next or excluded_again) and before.item.name == name)
        ):
            _take_back(counted, added[j - 1], notes)
        if refused_next:
            notes.append(f"« {mention.heard} » écarté par l'appelant : ignoré")
            added.append((name, 0))
            continue
        if _in_loop(mention, mentions[:j], regions):
            _note_once(notes, f"boucle de transcription : {name} compté une fois")
            added.append((name, 0))
            continue
        k = _adjectives_start(tokens, mention)
        kept_later = kept_after(tokens, mention.last_token, text)
        kept_first = kept_before(text, tokens, k) and punctuated(
            text, tokens, mention.last_token, PUNCTUATION
        )
        kept = kept_later or kept_first
        if (
            kept
            and mention.item.accepted
            and fold(mention.heard) in heard_before.get(name, set())
            and not any(t.folded in _OTHER for t in tokens[k : mention.first_token])
        ):
            # « un frigo et un canapé. Non, le canapé, je le garde », « …, mais je conserve le
            # canapé. »: the one named before, in the same words, is taken back too; not
            # another one (« l'autre fauteuil, je le garde », « une table basse … la table de
            # jardin »), nor a refused item (the caller is told).
            _untake(counted, name, tokens, k, notes)
        heard_before.setdefault(name, set()).add(fold(mention.heard))
        if kept:
            notes.append(f"« {mention.heard} » gardé par l'appelant : ignoré")
            added.append((name, 0))
            continue
        if (
            (after is None or not _gap(text, tokens, mention, after))
            and not punctuated(text, tokens, mention.last_token, ".!?;")
            and replacement_lost(text, tokens, mention.last_token)
        ):
            # « un tabouret, euh non pardon, un … »: the item said instead was lost (by the
            # transcription, or the caller trailed off); the one taken back is not what they
            # want collected.
            notes.append(f"« {mention.heard} » corrigé par l'appelant, sans autre objet : ignoré")
            added.append((name, 0))
            continue
        if (
            before is not None
            and before.item.name == name
            and before.last_token == mention.first_token
            and not any(c in ",.;:!?" for c in text[before.end : mention.start])
        ):
            # « un canapé convertible », « un fauteuil relax pouf »: a synonym right after the
            # item's own name describes it; it is no second one.
            notes.append(f"« {mention.heard} » décrit {name} : ignoré")
            added.append((name, 0))
            continue
        span = numbers_end_at.get(mention.first_token)
        if (
            before is not None
            and span is not None
            and _describes(text, tokens, before, mention, span)
        ):
            notes.append(f"« {span.digits} {mention.heard} » décrit {before.item.name} : ignoré")
            added.append((name, 0))
            continue
        count = _mention_count(mention, tokens, numbers_end_at, counted, notes, text)
        instead = count_said_instead(text, tokens, mention.last_token, numbers_start_at)
        if count is not None and instead is not None:
            count = instead
            notes.append(f"quantité corrigée par l'appelant pour {name} : {count}")
        added.append((name, count or 0))
        if count is None:
            continue
        if mention.fuzzy:
            notes.append(f"« {mention.heard} » compris comme {name}")
        if name in counted:
            counted[name].count += count
        else:
            counted[name] = _Counted(name, count, mention.item.accepted)
    items = [ItemCount(c.name, c.count) for c in counted.values() if c.accepted and c.count]
    refused = [ItemCount(c.name, c.count) for c in counted.values() if not c.accepted and c.count]
    return items, refused


def _note_once(notes: list[str], note: str) -> None:
    # A loop repeats a phrase ten times: one note says it (and is no doubt of the words, the
    # transcript's own quality already counts the loop).
    if note not in notes:
        notes.append(note)


def _take_back(counted: dict[str, _Counted], added: tuple[str, int], notes: list[str]) -> None:
    name, count = added
    if count and name in counted:
        counted[name].count -= count
        notes.append(f"{name} corrigé par l'appelant : retiré")
