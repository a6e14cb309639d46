"""Whether the caller's words so far make a finished turn: the semantic end-of-turn rule.

The fixed-pause rule answers after the same pause whatever was said (700 ms, 1.2 s while an
address is given): too long after "oui", too short for "au… douze… boulevard…". The live
call already transcribes the utterance during the pause (speculative transcription); what it
says decides the rest of the pause: a finished answer ends the turn at once, words that call
for more ("au", "rue", "numéro", "euh", a number with no street yet) keep listening longer,
and anything else keeps the fixed pause. Pure: text in, a verdict out.
"""

from __future__ import annotations

import re
from enum import StrEnum

from domain.geotext import fold


class TurnRule(StrEnum):
    FIXED = "fixed"  # the pause alone (TurnTaking.end_pause_ms / address_pause_ms)
    SEMANTIC = "semantic"  # the words heard during the pause shorten or lengthen it
    SMART = "smart"  # Smart Turn scores the audio of the pause (domain/turn_detector.py)


class Verdict(StrEnum):
    COMPLETE = "complete"  # answer now
    INCOMPLETE = "incomplete"  # the caller is in the middle of it: keep listening longer
    UNSURE = "unsure"  # the fixed pause decides


# Last words that announce more (folded): fillers, prepositions, articles, street types.
_OPEN_ENDINGS = frozenset(
    [
        "euh",
        "heu",
        "hum",
        "hmm",
        "ben",
        "bah",
        "alors",
        "donc",
        "et",
        "ou",
        "au",
        "aux",
        "a",
        "de",
        "du",
        "des",
        "d",
        "le",
        "la",
        "les",
        "l",
        "un",
        "une",
        "en",
        "sur",
        "dans",
        "pour",
        "avec",
        "chez",
        "c",
        "est",
        "j",
        "habite",
        "habite",
        "numero",
        "code",
        "postal",
        "rue",
        "avenue",
        "av",
        "boulevard",
        "bd",
        "chemin",
        "impasse",
        "allee",
        "place",
        "route",
        "cours",
        "quai",
        "square",
        "passage",
        "residence",
        "lotissement",
        "lieu",
        "dit",
        "bis",
        "ter",
        "mais",
        "puis",
        "aussi",
        "enlever",
        "ramasser",
        "debarrasser",
        "jeter",
        "voudrais",
        "veux",
        "souhaite",
        "ai",
        "avoir",
        "faire",
    ]
)
_STREET_WORDS = re.compile(
    r"\b(rue|avenue|av|boulevard|bd|chemin|impasse|allee|place|route|cours|quai|square|"
    r"passage|residence|lotissement|lieu dit|traverse|montee|rond point)\b"
)
_NUMBER_WORDS = frozenset(
    [
        "zero",
        "un",
        "une",
        "deux",
        "trois",
        "quatre",
        "cinq",
        "six",
        "sept",
        "huit",
        "neuf",
        "dix",
        "onze",
        "douze",
        "treize",
        "quatorze",
        "quinze",
        "seize",
        "vingt",
        "trente",
        "quarante",
        "cinquante",
        "soixante",
        "cent",
        "cents",
        "mille",
    ]
)
# A postcode said in digits or in words ("treize mille cinq"), or the commune after "à".
_COMMUNE = re.compile(r"\b\d{5}\b|\bmille\b|\b(a|sur)\s+[a-z]{3,}")
_YES_NO = re.compile(
    r"^(oui|ouais|non|ok|okay|d accord|exactement|tout a fait|c est ca|c est bien ca|"
    r"parfait|absolument|pas du tout)( merci)?( oui| non)?$"
)


def verdict(text: str, expect: str) -> Verdict:
    """Whether `text` (the transcript of the turn so far) is a finished answer to a question
    that expects `expect` (a domain.dialogue.Expect value)."""
    folded = " ".join(fold(text).split())
    if not folded:
        return Verdict.UNSURE
    words = folded.split()
    last = words[-1]
    if text.rstrip().endswith(("...", "…")):
        # Whisper's own mark for speech that trails off ("J'habite au dos de bon...").
        return Verdict.INCOMPLETE
    if last in _OPEN_ENDINGS or " ".join(words[-2:]) in _OPEN_ENDINGS:
        return Verdict.INCOMPLETE
    if expect == "yes_no":
        return Verdict.COMPLETE if _YES_NO.match(folded) else Verdict.UNSURE
    if expect == "address":
        street = _STREET_WORDS.search(folded)
        if street is None:
            # "au douze…": a number with no street yet.
            numeric = last.isdigit() or last in _NUMBER_WORDS
            return Verdict.INCOMPLETE if numeric else Verdict.UNSURE
        if last in _NUMBER_WORDS or (last.isdigit() and len(last) < 5):
            return Verdict.UNSURE  # maybe half a postcode ("treize mille…")
        if _COMMUNE.search(folded[street.end() :]):
            return Verdict.COMPLETE
        return Verdict.UNSURE
    if expect == "speech":
        return Verdict.UNSURE if last in _NUMBER_WORDS else Verdict.COMPLETE
    return Verdict.UNSURE  # a number dictated digit by digit: the pause knows best
