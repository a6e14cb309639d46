"""What takes an item back once said: a correction (« un bureau, euh non pardon, une commode »,
« trois chaises, non, quatre »), an item refused by name after the list (« non pas le buffet »),
an item the caller keeps (« le matelas, je le garde », « je garde le canapé »). Used by the
count of items (items.py) and the item slots (item_slots.py)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.numbers import NUMBER_WORDS, NumberSpan, Token
from domain.understanding.lexicon import (
    ADDITIONS,
    CORRECTIONS,
    INTERJECTIONS,
    KEPT_DETERMINERS,
)

__all__ = [
    "MAX_CORRECTION_GAP",
    "PUNCTUATION",
    "corrects",
    "count_said_instead",
    "kept_after",
    "kept_before",
    "punctuated",
    "refuses_next",
    "replacement_lost",
    "taken_back_after",
]

# A correction is said right after what it corrects: at most this many words between.
MAX_CORRECTION_GAP = 6
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
PUNCTUATION = ",.;:!?"


def kept_before(text: str, tokens: list[Token], k: int) -> bool:
    """The caller keeps what starts at token k (after its definite article): « je garde le
    canapé », « on conserve la table », « je vais garder le lit »; not « je ne garde pas le
    canapé », « gardez le canapé », « … ce que je garde. Le canapé … »."""
    if k < 3 or tokens[k - 1].folded not in KEPT_DETERMINERS:
        return False
    verb, before = tokens[k - 2].folded, tokens[k - 3].folded
    if verb in _KEEP_PRESENT and before in _KEEPERS:
        keeper = k - 3
    elif (
        verb in _KEEP_INFINITIVE
        and before in _KEEP_MODALS
        and k >= 4
        and tokens[k - 4].folded in _KEEPERS
    ):
        keeper = k - 4
    else:
        return False
    # One clause: no punctuation from the keeper to the item.
    return not any(punctuated(text, tokens, j) for j in range(keeper + 1, k + 1))


def punctuated(text: str, tokens: Sequence[Token], j: int, marks: str = PUNCTUATION) -> bool:
    """Punctuation between token j - 1 and token j (j == len(tokens): after the last one)."""
    if j <= 0:
        return False
    end = tokens[j].start if j < len(tokens) else len(text)
    return any(c in marks for c in text[tokens[j - 1].end : end])


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
            or (punctuated(text, tokens, j) and punctuated(text, tokens, j + 1))
        )
    if word == "plutot":
        # « une table de nuit plutôt une armoire » (« ou » lost): only where another item
        # follows (`replaced`); « un canapé, plutôt un grand » takes nothing back.
        return prev == "ou" or (replaced and nxt in ("un", "une", "des"))
    if word in ("trompe", "trompee"):
        return prev in ("suis", "me", "m")
    if word == "dire":
        # « une table, je veux dire un bureau », another item said at once; not « c'est-à-dire »,
        # « vous dire », « je voulais dire que le frigo ne marche plus ».
        return replaced and prev in ("veux", "voulais") and nxt in ("un", "une", "des")
    if word == "erreur":
        return punctuated(text, tokens, j + 1) and (
            punctuated(text, tokens, j) or prev in INTERJECTIONS
        )
    return False


def corrects(text: str, tokens: list[Token], gap: range) -> bool:
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


def replacement_lost(text: str, tokens: list[Token], end: int) -> bool:
    """The words after token `end` take it back and start another item whose name is lost:
    « un tabouret, euh non pardon, un … ». Not a count corrected (« trois chaises, non,
    quatre »), a question (« une table, non ? »), nor the end of the list (« un canapé, non,
    c'est tout », « un frigo, euh non, rien d'autre »)."""
    if not taken_back_after(text, tokens, end):
        return False
    j = end
    while j < len(tokens) and tokens[j].folded in CORRECTIONS | INTERJECTIONS:
        if punctuated(text, tokens, j + 1, "?"):
            return False
        j += 1
    starts = j < len(tokens) and tokens[j].folded in _REPLACEMENT_STARTS
    return starts and j - end <= MAX_CORRECTION_GAP and not _one_only(tokens, j)


def _one_only(tokens: list[Token], j: int) -> bool:
    """« un seul », « une seule » at token `j`: a count (one, not two), not an article."""
    return (
        tokens[j].folded in ("un", "une")
        and j + 1 < len(tokens)
        and tokens[j + 1].folded in ("seul", "seule")
    )


def count_said_instead(
    text: str, tokens: list[Token], end: int, numbers_start_at: dict[int, NumberSpan]
) -> int | None:
    """« trois chaises, non, quatre », « …, ou plutôt quatre », « …, enfin quatre »: the count
    said instead right after the item ending at token `end`, alone (an item after it is a
    mention of its own); None when none is."""
    j, said = end, False
    while j < len(tokens) and j - end < MAX_CORRECTION_GAP:
        if j > end and punctuated(text, tokens, j, ".;!?"):
            return None
        f = tokens[j].folded
        if (f in CORRECTIONS and _is_correction(text, tokens, j, replaced=True)) or f == "enfin":
            said = True
        elif f not in INTERJECTIONS and f != "ou":
            break
        j += 1
    span = numbers_start_at.get(j)
    if not said or span is None or not 1 <= span.value <= 999:
        return None
    after = span.last_token
    if span.is_article:
        # « deux canapés, non, un seul »: the article is the count only with « seul ».
        if not _one_only(tokens, j):
            return None
        after += 1
    if after < len(tokens) and not (
        punctuated(text, tokens, after) or tokens[after].folded in ("et", "merci")
    ):
        return None
    return span.value


def refuses_next(tokens: list[Token], gap: range) -> bool:
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
        j < len(tokens) and tokens[j].folded in _NOT and not (text and punctuated(text, tokens, j))
    )
    return kept and not negated
