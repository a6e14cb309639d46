"""Where the caller starts saying the address: a cue (« j'habite », « mon adresse, c'est le »,
« je suis au ») as Whisper writes it, then a house number that is no phone number, floor or
date (used by domain.understanding.region)."""

from __future__ import annotations

from rapidfuzz import fuzz

from domain.numbers import Token, parse_cardinal

__all__ = ["CUE_PATTERNS", "NOT_A_STREET_AFTER", "cue_end", "house_number_at", "number_at"]

CUE_PATTERNS: tuple[tuple[str, ...], ...] = (
    ("j", "habite"),
    ("habite",),
    ("habitons",),
    ("nous", "residons"),
    ("je", "suis"),
    ("je", "reside"),
    ("je", "demeure"),
    ("domicilie",),
    ("domiciliee",),
    ("mon", "adresse"),
    ("l", "adresse"),
    ("notre", "adresse"),
    ("adresse",),
)
# After the number, a floor or a building, not a street: « au 2e étage » (the tokens « 2 »,
# « e »), « au 3 étage », « le 4 bâtiment ».
NOT_A_STREET_AFTER = frozenset(
    {"e", "eme", "er", "ere", "ieme", "etage", "etages", "batiment", "escalier", "porte"}
)
# After a number, a date: « le 15 mai ».
_MONTHS = frozenset(
    {
        "janvier",
        "fevrier",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "aout",
        "septembre",
        "octobre",
        "novembre",
        "decembre",
    }
)


def number_at(tokens: list[Token], j: int) -> bool:
    return j < len(tokens) and (tokens[j].is_digits or parse_cardinal(tokens[j].text) is not None)


def _is_address_word(word: str) -> bool:
    """ "adresse" as Whisper writes it on accented speech: "adhès", "adheus", "adresses"."""
    return word.startswith("ad") and len(word) >= 4 and fuzz.ratio(word, "adresse") >= 60


def _is_habite_word(word: str) -> bool:
    """ "habite" misspelled after « j' » ("habie", "habbite", "abite"); « j'hésite », « j'habille »
    are other verbs (ratio 67, 77)."""
    return len(word) >= 5 and fuzz.ratio(word, "habite") >= 80


def house_number_at(tokens: list[Token], j: int) -> bool:
    """A number at token j that can be a house number: not the « zéro » or « 06 » a phone
    number starts with, nor a floor (« au 3e étage ») or a date (« le 15 mai »)."""
    if not number_at(tokens, j) or tokens[j].folded == "zero":
        return False
    if tokens[j].is_digits and tokens[j].text.startswith("0"):
        return False
    end = j
    while number_at(tokens, end) and end - j < 6:
        end += 1
    after = tokens[end].folded if end < len(tokens) else ""
    return after not in NOT_A_STREET_AFTER and after not in _MONTHS


def cue_end(tokens: list[Token], i: int) -> int | None:
    """The token after the address cue that starts at token i; None when none does."""
    for pattern in CUE_PATTERNS:
        n = len(pattern)
        if tuple(t.folded for t in tokens[i : i + n]) == pattern:
            return i + n
    if (
        tokens[i].folded in ("mon", "l", "notre")
        and i + 1 < len(tokens)
        and _is_address_word(tokens[i + 1].folded)
    ):
        return i + 2
    if tokens[i].folded == "j" and i + 1 < len(tokens) and _is_habite_word(tokens[i + 1].folded):
        return i + 2
    if (
        tokens[i].folded == "mon"
        and [t.folded for t in tokens[i + 1 : i + 4]] in (["c", "est", "le"], ["c", "est", "au"])
        and house_number_at(tokens, i + 4)
    ):
        # « mon… c'est le quinze de la République »: the noun lost, a house number after.
        return i + 1
    if [t.folded for t in tokens[i : i + 3]] == ["c", "est", "au"] and house_number_at(
        tokens, i + 3
    ):
        return i + 2  # « c'est au dix de la Cassiopée »: « au » and a house number
    if [t.folded for t in tokens[i : i + 2]] in (["je", "vis"], ["nous", "vivons"]) and (
        i + 2 < len(tokens) and tokens[i + 2].folded in ("au", "aux", "a")
    ):
        # « je vis au … », « je vis à Aubagne, au … »; not « je vis seule », « je vis dans le
        # quartier depuis vingt ans ».
        return i + 2
    if [t.folded for t in tokens[i : i + 3]] in (["on", "est", "au"], ["nous", "sommes", "au"]):
        # « on est au douze Les Naps »: as « je suis au », when a house number follows (« on
        # est au courant » is no address).
        return i + 2 if house_number_at(tokens, i + 3) else None
    return None
