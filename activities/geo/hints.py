"""Hints of the place: the main city's arrondissement postcodes suggested by the words after the
street.

What the transcription makes of the locality said after the street: "treize mille quatre"
→ "13.4" or "13 000 quatre", "Marseille huitième" → "Marseille-Uicien", "dans le onzième" →
"dans l'Ouzien". Each hint is weighted by how sure the reading is; they only boost streets."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from domain import geotext
from domain.numbers import find_arrondissement, find_postcodes, fold
from domain.understanding import Territory

__all__ = ["postcode_hints"]

_ORDINAL_SUFFIX = re.compile(r"(?:i[eè]me|ienne|iene|ien|iem|ième|eme|ème)$")


def _ordinal_phonetic(n: int) -> str:
    return geotext.phonetic(geotext._ordinal_words(n))


def postcode_hints(text: str, territory: Territory) -> list[tuple[str, float]]:
    """Arrondissement postcodes suggested by the words after the street, with a weight (1: read
    cleanly; below: read through a transcription artefact). None for a city in one piece."""
    districts = territory.districts
    if districts is None:
        return []
    postcodes = districts.postcodes
    hints: dict[str, float] = {}

    def add(number: int, weight: float) -> None:
        code = postcodes.get(number)
        if code is not None:
            hints[code] = max(hints.get(code, 0.0), weight)

    first_sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    by_postcode = {code: n for n, code in postcodes.items()}
    for p in find_postcodes(first_sentence, in_address=True, districts=districts):
        if p.postcode in by_postcode:
            add(by_postcode[p.postcode], 1.0)
    arr = find_arrondissement(first_sentence, districts, in_address=True)
    if arr:
        add(arr, 1.0)
    folded = fold(first_sentence)
    # "13.4", "13,7", "13.07": "treize mille quatre" written as a decimal number.
    department = re.escape(districts.department)
    for m in re.finditer(rf"\b{department}[.,]0?(\d{{1,2}})\b", folded):
        add(int(m.group(1)), 0.7)
    # "2014 Marseille": "treize mille quatorze" heard as a year.
    for m in re.finditer(r"\b(?:19|20)(\d\d)\b", folded):
        add(int(m.group(1)), 0.4)
    # Ordinals heard wrongly: a word ending like "-ième" after "Marseille" or "dans le".
    city = districts.city
    place = rf"(?:{re.escape(city)}|{re.escape(city[:4])}\w*|dans l[ae]?|dans)"
    for m in re.finditer(place + r"[\s'-]+(?:et\s+)?([a-z]+)", folded):
        word = m.group(1)
        if not _ORDINAL_SUFFIX.search(word) or len(word) < 4:
            continue
        key = geotext.phonetic(word)
        best = max(sorted(postcodes), key=lambda n: fuzz.ratio(key, _ordinal_phonetic(n)))
        ratio = fuzz.ratio(key, _ordinal_phonetic(best)) / 100
        if ratio >= 0.5:
            add(best, 0.5 * ratio)
    return sorted(hints.items(), key=lambda kv: -kv[1])
