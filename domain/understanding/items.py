"""Items and their counts: each catalogue mention with the quantity said before it ("deux
chaises", "une dizaine de cartons", "le frigo"), negations and places left out, accepted and
refused items apart."""

from __future__ import annotations

from dataclasses import dataclass

from domain.catalogue import ItemMention
from domain.models import ItemCount
from domain.numbers import NUMBER_WORDS, NumberSpan, Token
from domain.understanding.lexicon import (
    ADDITIONS,
    ADJECTIVES,
    APPROX_NOUNS,
    CORRECTIONS,
    DEFINITE,
    DESCRIPTIVE_NOUNS,
    EXCLUDERS,
    EXCLUSIONS,
    INDEFINITE_PLURAL,
    INTERJECTIONS,
    NEGATIONS,
)

# The note of a booking request whose items none were understood (dropped once some are).
NO_ITEMS_NOTE = "aucun objet reconnu"
# A correction is said right after what it corrects: at most this many words between.
MAX_CORRECTION_GAP = 6
# Whisper's loops: a phrase of up to LOOP_MAX_PERIOD words said LOOP_MIN_REPEATS times or more
# in a row is a transcription artefact, not items said again.
LOOP_MAX_PERIOD = 12
LOOP_MIN_REPEATS = 3
# "le matelas, je le garde", "la table on la conserve", "je vais le garder": a keep verb in the
# present (or its infinitive after "vais", "veux"…), not negated. "je le gardais à la cave",
# "je ne le garde pas", "je la garde plus" keep nothing.
_KEEPERS = frozenset({"je", "j", "on", "nous"})
_KEPT_PRONOUNS = frozenset({"le", "la", "les", "l"})
_KEEP_PRESENT = frozenset(
    f"{stem}{end}" for stem in ("gard", "conserv") for end in ("e", "es", "ons", "ez", "ent")
)
_KEEP_INFINITIVE = frozenset({"garder", "conserver"})
_KEEP_MODALS = frozenset(
    {"vais", "va", "allons", "veux", "voulons", "voudrais", "prefere", "preferons", "compte"}
)
_NOT = frozenset({"ne", "n", "pas", "plus", "jamais"})
_PUNCTUATION = ",.;:!?"


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
    text: str = "",
) -> int | None:
    """How many of the mentioned item the caller means; None when the mention adds none."""
    k = mention.first_token
    while k > 0 and tokens[k - 1].folded in ADJECTIVES and mention.first_token - k < 3:
        k -= 1
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


def _punctuated(text: str, tokens: list[Token], j: int, marks: str = _PUNCTUATION) -> bool:
    """Punctuation between token j - 1 and token j (j == len(tokens): after the last one)."""
    if j <= 0:
        return False
    end = tokens[j].start if j < len(tokens) else len(text)
    return any(c in marks for c in text[tokens[j - 1].end : end])


def _negated(text: str, tokens: list[Token], k: int, first: int) -> bool:
    """The words before token k (an item, or the adjectives before it) leave it out."""
    for neg in NEGATIONS + EXCLUSIONS:
        n = len(neg)
        if k < n or tuple(t.folded for t in tokens[k - n : k]) != neg:
            continue
        # "je ne sais pas, la table …": a negation does not reach over punctuation inside its
        # own words; before them it may ("un sommier, sans matelas").
        if any(_punctuated(text, tokens, j) for j in range(k - n + 1, first + 1)):
            continue
        # "mais pas la table", ", pas le canapé"; not "je ne garde pas la table non plus"
        p = k - n
        if neg in EXCLUSIONS and not (
            p == 0 or tokens[p - 1].folded in EXCLUDERS or _punctuated(text, tokens, p)
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


def _is_correction(text: str, tokens: list[Token], j: int, *, replaced: bool = False) -> bool:
    """Token j takes back what was said before it, in its context: "pardon", "euh non", "non
    pardon", ", non,", "ou plutôt", "je me suis trompé", ", erreur,". Not "un frigo non
    fonctionnel", "un canapé plutôt lourd", "acheté par erreur", "pardon de vous déranger"."""
    word = tokens[j].folded
    prev = tokens[j - 1].folded if j else ""
    nxt = tokens[j + 1].folded if j + 1 < len(tokens) else ""
    if word == "pardon":
        # "pardon de vous déranger", "pardon pour le bruit": an apology, nothing taken back
        return nxt not in ("de", "d", "pour")
    if word == "non":
        # "trois chaises non quatre chaises", "un bureau non une commode": as Whisper writes
        # it, without the commas
        return (
            nxt in ("pardon", "un", "une")
            or nxt in NUMBER_WORDS
            or (j + 1 < len(tokens) and tokens[j + 1].is_digits)
            or prev in INTERJECTIONS
            or (_punctuated(text, tokens, j) and _punctuated(text, tokens, j + 1))
        )
    if word == "plutot":
        # « une table de nuit plutôt une armoire » (« ou » lost): only where another item
        # follows (`replaced`); « un canapé, plutôt un grand » takes nothing back.
        return prev == "ou" or (replaced and nxt in ("un", "une", "des"))
    if word in ("trompe", "trompee"):
        return prev in ("suis", "me", "m")
    if word == "erreur":
        return _punctuated(text, tokens, j + 1) and (
            _punctuated(text, tokens, j) or prev in INTERJECTIONS
        )
    return False


def _corrects(text: str, tokens: list[Token], gap: range) -> bool:
    """The words between two mentions take the first one back ("…, euh non pardon, …")."""
    return (
        len(gap) <= MAX_CORRECTION_GAP
        and any(
            tokens[j].folded in CORRECTIONS and _is_correction(text, tokens, j, replaced=True)
            for j in gap
        )
        and not any(tokens[j].folded in ADDITIONS for j in gap)
    )


def taken_back_after(text: str, tokens: list[Token], end: int) -> bool:
    """The words after token `end` take back what came before ("…, euh non pardon, une
    commode"), before any word that adds to it or the end of the sentence; "non pas" refuses
    what follows instead."""
    for j in range(end, min(len(tokens), end + MAX_CORRECTION_GAP)):
        if j > end and any(c in ".;!?" for c in text[tokens[j - 1].end : tokens[j].start]):
            return False
        word = tokens[j].folded
        if word in ADDITIONS:
            return False
        if word in CORRECTIONS and _is_correction(text, tokens, j):
            return not (word == "non" and j + 1 < len(tokens) and tokens[j + 1].folded == "pas")
    return False


# What starts the item said instead of one taken back (« …, euh non pardon, une commode »).
_REPLACEMENT_STARTS = frozenset({"un", "une", "des", "le", "la", "les", "l"})


def _replacement_lost(text: str, tokens: list[Token], end: int) -> bool:
    """The words after token `end` take it back and start another item whose name is lost:
    « un tabouret, euh non pardon, un … ». Not a count corrected (« trois chaises, non,
    quatre »), a question (« une table, non ? »), nor the end of the list (« un canapé, non,
    c'est tout », « un frigo, euh non, rien d'autre »)."""
    if not taken_back_after(text, tokens, end):
        return False
    j = end
    while j < len(tokens) and tokens[j].folded in CORRECTIONS | INTERJECTIONS:
        if _punctuated(text, tokens, j + 1, "?"):
            return False
        j += 1
    starts = j < len(tokens) and tokens[j].folded in _REPLACEMENT_STARTS
    return starts and j - end <= MAX_CORRECTION_GAP


def _refuses_next(tokens: list[Token], gap: range) -> bool:
    """ "…, non pas le buffet, …", "une commode plutôt qu'une table": what follows "non pas"
    or "plutôt que" (and its determiner) is refused."""
    words = [tokens[j].folded for j in gap]
    return len(words) <= MAX_CORRECTION_GAP and any(
        (
            words[j : j + 2] == ["non", "pas"]
            or words[j : j + 2] in (["plutot", "que"], ["plutot", "qu"])
        )
        and len(words) - j <= 3
        for j in range(len(words))
    )


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
            or _punctuated(text, tokens, after)
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


def kept_after(tokens: list[Token], end: int, text: str = "") -> bool:
    """The caller says they keep what ends at token `end`: "(mais) le matelas, je le garde",
    "la table, on va la garder"; not "je ne le garde pas", "je la garde plus", "je le
    gardais"."""
    after = [t.folded for t in tokens[end : end + 4]]
    if len(after) < 3 or after[0] not in _KEEPERS:
        return False
    if after[1] in _KEPT_PRONOUNS:
        verb = 2
        kept = after[2] in _KEEP_PRESENT
    elif len(after) == 4 and after[1] in _KEEP_MODALS and after[2] in _KEPT_PRONOUNS:
        verb = 3
        kept = after[3] in _KEEP_INFINITIVE
    else:
        return False  # "je ne le garde pas", "je vais pas le garder"
    j = end + verb + 1
    negated = (
        j < len(tokens) and tokens[j].folded in _NOT and not (text and _punctuated(text, tokens, j))
    )
    return kept and not negated


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
    counted: dict[str, _Counted] = {}
    added: list[tuple[str, int]] = []  # what each mention added (name, count)
    regions = loop_regions(tokens)
    for j, mention in enumerate(mentions):
        name = mention.item.name
        before = mentions[j - 1] if j else None
        gap = _gap(text, tokens, before, mention) if before is not None else range(0)
        refused_next = _refuses_next(tokens, gap)
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
            (_corrects(text, tokens, gap) and not refused_next)
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
        if kept_after(tokens, mention.last_token, text):
            notes.append(f"« {mention.heard} » gardé par l'appelant : ignoré")
            added.append((name, 0))
            continue
        if (
            (after is None or not _gap(text, tokens, mention, after))
            and not _punctuated(text, tokens, mention.last_token, ".!?;")
            and _replacement_lost(text, tokens, mention.last_token)
        ):
            # « un tabouret, euh non pardon, un … »: the item said instead was lost (by the
            # transcription, or the caller trailed off); the one taken back is not what they
            # want collected.
            notes.append(f"« {mention.heard} » corrigé par l'appelant, sans autre objet : ignoré")
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
