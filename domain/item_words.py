"""How item words are written and heard: French singular and plural, and the final /e/
sound that a transcription writes every way ("canapée", "sommié", "buffé"), and the words that
count an item before it (`QUANTITY_CUES`). Used by the catalogue's matching (catalogue.py)."""

from __future__ import annotations

from domain.numbers import NUMBER_WORDS

# Quantities, indefinites and possessives only: after "la" or "le", a sound-alike is more
# often an ordinary word ("la commande") than a misheard item.
QUANTITY_CUES = frozenset(
    {"un", "une", "des", "d", "de", "mon", "ma", "mes", "en", "quelques", "plusieurs"}
    | {"vieux", "vieille", "vieil", "gros", "grosse", "grand", "grande", "petit", "petite"}
    | {"ancien", "ancienne"}
    | set(NUMBER_WORDS)
)


def singular(word: str) -> str:
    """Folded French singular of a folded word; good enough for nouns of furniture and
    appliances ("bureaux" → "bureau", "chevaux" → "cheval", "frigos" → "frigo")."""
    if len(word) > 4 and word.endswith("eaux"):
        return word[:-1]
    if len(word) > 4 and word.endswith("aux"):
        return word[:-3] + "al"
    # "matelas", "tapis", "bus" are already singular.
    if len(word) > 3 and word[-1] in "sx" and not word.endswith(("ss", "is", "as")):
        return word[:-1]
    return word


def plural_in_s(word: str) -> str:
    """`singular` keeps words in -as and -is ("matelas", "tapis"); their plural in -s
    ("sofas", "canapés-lits") still names the word without it."""
    return word[:-1] if len(word) > 3 and word.endswith(("as", "is")) else word


# The sound /e/ at the end of a word, as written (é, er, et, ez) and as a transcription may
# write it instead (folded: "canapée", "sommié", "buffé", "télées"), longest first.
E_WRITTEN = ("é", "er", "et", "ez")
_E_ENDINGS = ("ees", "ers", "ets", "ais", "ee", "er", "et", "ez", "ai", "es", "e")
_E_MIN_STEM = 3


def e_stem(folded: str) -> str:
    """The folded word without its final /e/ sound ("" when it has none, or the rest is too
    short to tell words apart)."""
    for end in _E_ENDINGS:
        if folded.endswith(end) and len(folded) - len(end) >= _E_MIN_STEM:
            return folded[: -len(end)]
    return ""


def same_word(heard: str, form: str) -> tuple[bool, bool]:
    """(matches, heard as a plural) for one folded word of the text against one of a form."""
    if heard == form:
        return True, False
    if heard in (form + "s", form + "x") or (form.endswith("al") and heard == form[:-2] + "aux"):
        return True, True
    # A form written in the plural ("gravats") also matches the singular.
    if form in (heard + "s", heard + "x"):
        return True, False
    return False, False
