"""A word the caller spelled after the street's name (« Roubaud, R O U B A U D »): the
letters replace the word they spell, and the word said again beside it goes (used by
domain.understanding.address)."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from domain.numbers import Token, fold
from domain.understanding.lexicon import breaks_sentence

__all__ = ["spelled", "spelled_after", "spelled_later"]

# A spelled word stands for the word of the name it resembles this much (rapidfuzz ratio):
# « Gueodon » for G U E I D O N.
_SPELLED_RATIO = 70
_REPEATED_RATIO = 65
_PARTICLES = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "aux", "au", "a", "et"})
_MIN_SPELLED = 3
_HYPHENATED_RATIO = 75


def spelled(street: str, typed: bool = True) -> str:
    """The street with the letters the caller spelled after it in place of the word they
    spell: « boulevard Gueodon Gueiidon G U E I D O N » → « boulevard Gueidon » (the
    transcript lost the commas that end the name; the word is often said twice). `typed`:
    the first word is the street's type, never the word spelled; without a type (lost by the
    transcription: « au six Ollympe Oiympe O L Y M P E ») the name starts at the first."""
    words = street.split(" ")
    k = len(words)
    while k > 0 and len(words[k - 1]) == 1 and words[k - 1].isalpha():
        k -= 1
    letters = "".join(words[k:]).lower()
    first = 1 if typed else 0
    if len(letters) < _MIN_SPELLED or k < first + 1:
        return street
    head = words[:k]
    ratios = {i: fuzz.ratio(fold(head[i]), letters) for i in range(first, k)}
    best = max(ratios, key=lambda i: ratios[i])
    if ratios[best] < _SPELLED_RATIO:
        # « rue saint-antonie, A N T O I N E »: the letters spell the end of a hyphenated name.
        for i in range(k - 1, first - 1, -1):
            parts = head[i].split("-")
            if len(parts) > 1 and fuzz.ratio(fold(parts[-1]), letters) >= _HYPHENATED_RATIO:
                fixed = "-".join([*parts[:-1], letters.capitalize()])
                return " ".join([*head[:i], fixed, *head[i + 1 :]])
    if ratios[best] < _SPELLED_RATIO or len(letters) < len(fold(head[best])) - 1:
        # No word it spells, or a spelling cut short: the words only, the letters dropped.
        return " ".join(head)
    parts = head[best - 1].split("-") if best > first else []
    if len(parts) > 1 and fuzz.ratio(fold(parts[-1]), letters) >= _HYPHENATED_RATIO:
        # « rue saint-antoine antoine A N T O I N E »: the end of the hyphenated word before,
        # said again to be spelled: the name is « Saint-Antoine », spelled as the letters
        # (with « Antoine » kept, « Rue du Puits Saint-Antoine » was booked).
        spelled = "-".join([*parts[:-1], letters.capitalize()])
        return " ".join([*head[: best - 1], spelled, *head[best + 1 :]])
    # The word said again right beside it goes ("Roubaud, roubo, R O U ..."); never another
    # word of the name (« Romain Rolland », « des Dames », « Petit Puits »: « Rue du Puits »
    # is another street).
    return " ".join(
        letters.capitalize() if i == best else w
        for i, w in enumerate(head)
        if i == best or not _said_again(head[i], i, best, ratios.get(i, 0.0), letters, first)
    )


# Words the caller may say between the name and its spelling: the word spelled, said again.
_SAID_AGAIN_MAX = 2


def spelled_after(text: str, tokens: list[Token], end: int) -> str:
    """The letters spelled after the street's name and its comma (« impasse Caprieieuse,
    Capricieuse, C A P R I C I E U S E, … »: the word said again before them skipped), as
    words to add to the name for `spelled`; "" when none follow in the same sentence."""
    j = end
    while j < len(tokens) and j - end < _SAID_AGAIN_MAX and len(tokens[j].text) > 1:
        j += 1
    k = j
    while (
        k < len(tokens)
        and re.fullmatch(r"[A-Za-z]", tokens[k].text)  # not « à »
        and not (k > j and breaks_sentence(text[tokens[k - 1].end : tokens[k].start]))
        and text[tokens[k].end : tokens[k].end + 1] not in ("'", "’")  # « C'est »
    ):
        k += 1
    if k - j < _MIN_SPELLED:
        return ""
    if any(breaks_sentence(text[tokens[i - 1].end : tokens[i].start]) for i in range(end, k)):
        return ""
    letters = "".join(t.text for t in tokens[j:k]).lower()
    said = tokens[end:j]
    if any(fuzz.ratio(t.folded, letters) < _REPEATED_RATIO for t in said):
        return ""  # another word before the letters: they spell something else
    return " " + " ".join(t.text for t in tokens[j:k])


def _said_again(word: str, i: int, best: int, ratio: float, letters: str, first: int) -> bool:
    """Whether word i of the name is the spelled word said again (misheard) beside it."""
    folded = fold(word)
    return (
        abs(i - best) == 1
        and i >= first
        and ratio >= _REPEATED_RATIO
        and folded not in _PARTICLES
        and folded[:1] == letters[:1]
    )


# « Pourlons, ça s'écrit P O U R L U N S », « Gare, ça s'épelle G A R E »: the letters of a word
# said again in a sentence of its own, this far after the street at most; the word said before
# « (ça) s'écrit » is the one spelled.
_SPELLED_LATER = re.compile(
    r"(\w+)\W+(?:ça\s+|ca\s+|cela\s+)?s['’]\s?(?:écrit|ecrit|épelle|epelle)\s*:?\s*"
    r"((?:\b[A-Za-z]\b(?!['’])[ ,]*){3,})",
    re.IGNORECASE,
)
_SPELLED_LATER_CHARS = 160
# Whose name is spelled: the caller's (« Madame Favre, ça s'écrit F A V R E »), not the street's.
_CALLER_NAME_CUES = re.compile(r"\b(?:appelle|madame|monsieur|mademoiselle|nom|prénom)\b", re.I)


def spelled_later(text: str, start: int) -> str:
    """The letters spelled after « ça s'écrit » in a sentence after `start` (the street's end),
    as words for `spelled`, when the word said before them is the one they spell and the
    sentence names no caller; "" otherwise."""
    found = _SPELLED_LATER.search(text, start)
    if found is None or found.start() - start > _SPELLED_LATER_CHARS:
        return ""
    letters = re.findall(r"[A-Za-z]", found.group(2))
    if fuzz.ratio(fold(found.group(1)), "".join(letters).lower()) < _REPEATED_RATIO:
        return ""
    sentence = text[: found.start()].rsplit(".", 1)[-1]
    if _CALLER_NAME_CUES.search(sentence):
        return ""
    return " ".join(letters)
