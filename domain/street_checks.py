"""Whether the street found is the street said: the caller's shorthand and the
transcription's slips pass, another name does not (used by domain.trust before booking)."""

from __future__ import annotations

from rapidfuzz import fuzz

from domain.geotext import street_key, type_similarity

# How alike the name said and the name found must sound (rapidfuzz ratio of their phonetic
# keys) for a different street type to pass as the caller's shorthand ("rue Paradis" for
# "Avenue Paradis"): misspellings of the same name stay above it.
_SAME_NAME_RATIO = 90


def street_disagrees(said: str, official: str) -> bool:
    """Whether the street said and the street found disagree twice: a contradicting type
    ("chemin" said, "Rue" found) and a name that does not sound the same ("Augustin Roubion"
    for "Augustin Roux"). Either alone is a caller's shorthand or a transcription's slip; both
    together are another street, most often one the gazetteer does not have."""
    heard, found = street_key(said), street_key(official)
    if not heard.street_type or type_similarity(heard.street_type, found.street_type) > 0:
        return False
    return fuzz.ratio(heard.name_phonetic_bare, found.name_phonetic_bare) < _SAME_NAME_RATIO


# A name said this much longer than the one found (phonetic keys), and unlike it, is another
# name: « rue des Trois Figuiers » (a street the gazetteer lacks) matched « Rue Giay », whose
# sounds the search found inside « figuiers ». Chosen on the development seeds 16, 3101,
# 4404, 5505 and 6606 (text level): of 914 typed streets matched, 53 such pairs, none of them
# right; the shortest names are left out (« avenue Pina » for « Avenue des Pins » is a slip).
_WITHIN_LENGTH = 1.6
_WITHIN_RATIO = 60
_WITHIN_SHORTEST = 6


# Titles a street's official name may leave out (« avenue du Maréchal Foch », « Avenue Foch »).
_TITLES = frozenset(
    [
        "marechal",
        "general",
        "colonel",
        "commandant",
        "capitaine",
        "lieutenant",
        "amiral",
        "docteur",
        "professeur",
        "president",
        "abbe",
        "pere",
        "monseigneur",
        "cardinal",
        "comte",
        "comtesse",
        "madame",
        "maitre",
    ]
)


def street_within(said: str, official: str) -> bool:
    """Whether the street found is much shorter than the name said and unlike it: another
    street, most often one the gazetteer does not have. Not when each word of the name found
    is a word said and the others are titles (« avenue du Maréchal Foch » for « Avenue
    Foch »); « rue des Grands Lilas Blancs » is not « Rue des Lilas »."""
    heard, found = street_key(said), street_key(official)
    said_words, found_words = set(heard.name.split()), set(found.name.split())
    if not heard.street_type or (found_words <= said_words and said_words - found_words <= _TITLES):
        return False
    name, other = heard.name_phonetic_bare, found.name_phonetic_bare
    return (
        len(name) >= _WITHIN_SHORTEST
        and len(name) >= _WITHIN_LENGTH * len(other)
        and fuzz.ratio(name, other) < _WITHIN_RATIO
    )
