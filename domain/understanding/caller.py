"""The caller's name: after a cue ("je m'appelle", "de la part de", "c'est") or before "à
l'appareil", with its civility; never a street type, a number or an everyday word."""

from __future__ import annotations

import re

from domain.numbers import fold
from domain.understanding.lexicon import CIVILITY, NAME_PARTICLES, NOT_A_NAME
from domain.understanding.territory import Territory

_NAME_CUES: tuple[tuple[re.Pattern[str], bool], ...] = (
    # (pattern ending right before the name, lower-case names allowed after it)
    (re.compile(r"\bje m'?\s?appelle\s+", re.IGNORECASE), True),
    (re.compile(r"\bmon nom(?: est| c'est|,? c'est)\s+", re.IGNORECASE), True),
    (re.compile(r"\bde la part de\s+", re.IGNORECASE), False),
    (re.compile(r"\bici,?\s+", re.IGNORECASE), False),
    (re.compile(r"\bc'est,?\s+", re.IGNORECASE), False),
    (re.compile(r"\bmoi c'est\s+", re.IGNORECASE), True),
    (re.compile(r"\bje suis\s+(?=(?:madame|monsieur|mademoiselle)\b)", re.IGNORECASE), True),
)
# "ici monsieur Ferrari j'habite au …": a pronoun elided before a verb ends the name (a
# surname may start with d' or l', never with these).
_ELIDED_PRONOUN = re.compile(r"(?:j|c|m|n|s|t|qu)'")
_NAME_WORD = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)
_UPPER = "A-ZÀ-ÖØ-ÞŒ"
# Civility in any case, then capitalised name words: "madame Amrani à l'appareil".
_APPAREIL_RE = re.compile(
    r"(?:\b((?i:madame|monsieur|mademoiselle|mme|mlle|mr|m))\.?\s+)?"
    rf"([{_UPPER}][\w'’\-]*(?:\s+(?:(?:de|du|des|la|le|d')\s*)*[{_UPPER}][\w'’\-]*){{0,4}})"
    r"\s+(?i:à l'appareil)"
)


def _not_a_name(folded: str, territory: Territory) -> bool:
    return folded in NOT_A_NAME or folded in territory.one_word_types


def _read_name(text: str, pos: int, lower_ok: bool, territory: Territory) -> tuple[str, int] | None:
    """The name starting at `pos`: an optional civility then one to three name words."""
    civility = ""
    m = re.match(r"(madame|monsieur|mademoiselle|mme|mlle|mr|m)\.?\s+", text[pos:], re.I)
    if m:
        civility = CIVILITY[fold(m.group(1))]
        pos += m.end()
        lower_ok = True
    words: list[str] = []
    end = pos
    while len(words) < 4:
        m = _NAME_WORD.match(text, end)
        if not m:
            break
        word = m.group()
        f = fold(word)
        if f in NAME_PARTICLES and words:
            # "Charles de Gaulle": a particle only counts if a name follows it.
            nxt = _NAME_WORD.match(text, m.end() + 1)
            if not nxt or not nxt.group()[:1].isupper():
                break
        elif (
            _not_a_name(f, territory)
            or _ELIDED_PRONOUN.match(f)
            or (not word[:1].isupper() and not lower_ok)
        ):
            break
        words.append(word)
        end = m.end()
        gap = re.match(r"[ \t]+", text[end:])
        if not gap:
            break
        end += gap.end()
    while words and fold(words[-1]) in NAME_PARTICLES:
        words.pop()
    if not words:
        return None
    name = " ".join(
        w if w[:1].isupper() or fold(w) in NAME_PARTICLES else w.capitalize() for w in words
    )
    return (f"{civility} {name}" if civility else name), end


def _name_before_appareil(text: str, territory: Territory) -> tuple[str, tuple[int, int]] | None:
    """ "François Chevalier à l'appareil", "madame Amrani à l'appareil"."""
    found = _APPAREIL_RE.search(text)
    if not found:
        return None
    civility = CIVILITY[fold(found.group(1))] if found.group(1) else ""
    words = found.group(2).split()
    # The capitalised run may start with a greeting: "Bonjour Madame Amrani".
    while words and (_not_a_name(fold(words[0]), territory) or fold(words[0]) in CIVILITY):
        civility = CIVILITY.get(fold(words.pop(0)), civility)
    if not words:
        return None
    name = " ".join(words)
    return (f"{civility} {name}" if civility else name), (found.start(), found.end(2))


def caller_name(text: str, territory: Territory) -> tuple[str, tuple[int, int] | None]:
    """(the caller's name, its character span); ("", None) when none is said."""
    for pattern, lower_ok in _NAME_CUES:
        for m in pattern.finditer(text):
            found = _read_name(text, m.end(), lower_ok, territory)
            if found:
                return found[0], (m.end(), found[1])
    appareil = _name_before_appareil(text, territory)
    if appareil is not None:
        return appareil
    return "", None
