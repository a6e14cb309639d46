"""French spoken forms: numbers, ordinals, postcodes, phone numbers, spelled words.

The ground truth keeps digits; the text the voices read has words, as in the development set
("treize zéro zéro huit", "dans le huitième", "zéro six, trente-neuf, ...").
"""

from __future__ import annotations

import unicodedata

_UNITS = [
    "zéro",
    "un",
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
    "dix-sept",
    "dix-huit",
    "dix-neuf",
]
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}
_ORDINALS = {
    1: "premier",
    2: "deuxième",
    3: "troisième",
    4: "quatrième",
    5: "cinquième",
    6: "sixième",
    7: "septième",
    8: "huitième",
    9: "neuvième",
    10: "dixième",
    11: "onzième",
    12: "douzième",
    13: "treizième",
    14: "quatorzième",
    15: "quinzième",
    16: "seizième",
}


def _below_100(n: int) -> str:
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix.., quatre-vingt-dix..
        base = "soixante" if tens == 7 else "quatre-vingt"
        if n == 71:
            return "soixante et onze"
        return f"{base}-{_UNITS[10 + unit]}"
    if tens == 8:
        return "quatre-vingts" if unit == 0 else f"quatre-vingt-{_UNITS[unit]}"
    if unit == 0:
        return _TENS[tens]
    if unit == 1:
        return f"{_TENS[tens]} et un"
    return f"{_TENS[tens]}-{_UNITS[unit]}"


def _below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _below_100(rest)
    head = "cent" if hundreds == 1 else f"{_UNITS[hundreds]} cent"
    if rest == 0:
        return head if hundreds == 1 else head + "s"
    return f"{head} {_below_100(rest)}"


def number_words(n: int) -> str:
    """0 ≤ n < 1,000,000 in words, traditional hyphens: 21 "vingt et un", 80 "quatre-vingts",
    13008 "treize mille huit", 13400 "treize mille quatre cents"."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"{n} out of range")
    thousands, rest = divmod(n, 1000)
    if thousands == 0:
        return _below_1000(rest)
    multiple = _below_1000(thousands)
    if multiple.endswith(("cents", "vingts")):  # "deux cent mille", "quatre-vingt mille"
        multiple = multiple[:-1]
    head = "mille" if thousands == 1 else f"{multiple} mille"
    return head if rest == 0 else f"{head} {_below_1000(rest)}"


def ordinal_words(n: int) -> str:
    """1 "premier", 8 "huitième", ... 16 "seizième" (Marseille's arrondissements)."""
    return _ORDINALS[n]


def housenumber_words(number: int, rep: str = "") -> str:
    """12, "bis" → "douze bis"."""
    return f"{number_words(number)} {rep}".strip()


def postcode_digits(postcode: str) -> str:
    """ "13008" → "treize zéro zéro huit", "13010" → "treize zéro dix", "13400" → "treize
    quatre cents", "84120" → "quatre-vingt-quatre cent vingt": département, then the rest."""
    head, rest = number_words(int(postcode[:2])), postcode[2:]
    if rest[0] != "0":
        return f"{head} {number_words(int(rest))}"
    if rest[1] == "0":
        return f"{head} zéro zéro {number_words(int(rest[2]))}"
    return f"{head} zéro {number_words(int(rest[1:]))}"


def postcode_thousands(postcode: str) -> str:
    """ "13008" → "treize mille huit"."""
    return number_words(int(postcode))


def national(e164: str) -> str:
    """ "+33639980512" → "0639980512"."""
    if not e164.startswith("+33") or len(e164) != 12:
        raise ValueError(f"not a French E.164 number: {e164}")
    return "0" + e164[3:]


def phone_pairs(e164: str) -> str:
    """ "+33639980512" → "zéro six, trente-neuf, quatre-vingt-dix-huit, zéro cinq, douze"."""
    digits = national(e164)
    pairs = [digits[i : i + 2] for i in range(0, 10, 2)]
    words = [f"zéro {_UNITS[int(p[1])]}" if p[0] == "0" else number_words(int(p)) for p in pairs]
    return ", ".join(words)


def phone_digits(e164: str) -> str:
    """Digit by digit, in groups of two: "zéro six, trois neuf, ..."."""
    digits = national(e164)
    pairs = [digits[i : i + 2] for i in range(0, 10, 2)]
    return ", ".join(" ".join(_UNITS[int(d)] for d in p) for p in pairs)


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def spell(word: str) -> str:
    """ "Roubaud" → "R O U B A U D" (letters as capitals, accents dropped as callers do)."""
    letters = [c for c in strip_accents(word).upper() if c.isalpha()]
    return " ".join(letters)
