"""Everything the caller said about where they are, with its span: communes of the territory
and outside it, arrondissements of the main city, postcodes, and places said but lost to the
transcription. domain.trust checks the address found against it before anything is booked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

from rapidfuzz import fuzz

from domain.address_models import PlaceEvidence
from domain.numbers import (
    Token,
    find_arrondissement,
    find_numbers,
    find_phone_numbers,
    find_postcodes,
    number_or_word_of,
    tokenize,
)
from domain.place_departments import departments_named, other_department
from domain.place_lost import glued_phrases, glued_places, name_forms, places_lost, places_unknown
from domain.understanding.lexicon import SENTENCE_END, breaks_sentence
from domain.understanding.territory import MISHEARD_NAME_RATIO, Commune, Territory

__all__ = ["outside_commune", "place_evidence", "with_address"]

_AU = frozenset({"au", "aux"})
# Words that introduce a place: "à Aubagne", "sur Marseille", "13400 Aubagne", ", Aubagne".
_INTRODUCERS = frozenset({"a", "sur", "en", "habite", "commune", "ville"})


def _introduced(text: str, tokens: Sequence[Token], i: int) -> bool:
    if i == 0:
        return True
    prev = tokens[i - 1]
    between = text[prev.end : tokens[i].start]
    return prev.folded in _INTRODUCERS or prev.is_digits or any(c in between for c in ",.:;(")


def _misheard_outside(
    tokens: Sequence[Token], i: int, territory: Territory, longest: int
) -> tuple[Commune, int] | None:
    """An outside commune misspelled by the transcription, from token i ("Taraucon")."""
    if territory.sounds_like_main_city(tokens[i].folded, min_length=5, min_ratio=75):
        return None
    best: tuple[float, Commune, int] | None = None
    for n in range(1, min(longest, len(tokens) - i) + 1):
        said = " ".join(t.folded for t in tokens[i : i + n])
        if len(said) < 6:
            continue
        inside = max(
            fuzz.ratio(said, " ".join(t.folded for t in tokenize(c.name)))
            for c in territory.communes
        )
        for commune in territory.outside:
            name = " ".join(t.folded for t in tokenize(commune.name))
            score = fuzz.ratio(said, name)
            # Closer to an outside name than to any commune of the territory.
            if (
                score >= MISHEARD_NAME_RATIO
                and score > inside
                and (best is None or score > best[0])
            ):
                best = (score, commune, i + n)
    return (best[1], best[2]) if best else None


def _misheard_commune(
    text: str, tokens: Sequence[Token], i: int, territory: Territory
) -> tuple[PlaceEvidence, int] | None:
    """« à Saloon-de-Provence »: a commune of the territory misspelled after « à » or « sur »
    (not the verb « a »), kind "misheard": an address elsewhere contradicts it, and one
    there is confirmed with the caller (the guess may be a hamlet's name, not the commune)."""
    found = territory.misheard_commune_after(text, list(tokens), i - 1) if i else None
    if found is None:
        return None
    commune, end = found
    span = (tokens[i].start, tokens[end - 1].end)
    return PlaceEvidence("misheard", commune.citycode, *span, commune.name), end


def _cut_postcode(tokens: Sequence[Token], i: int, territory: Territory) -> bool:
    """Whether a number of three digits is a postcode of arrondissements 10 to 16 with its
    « 1 » and its « 0 » lost (« 315 » for « treize mille quinze »): « 3 » then « 1 »; not
    « 305 » (« treize zéro quinze » or « treize zéro zéro cinq »?), nor a house number
    (« au 112 », « Marseille, 112 rue Paradis »)."""
    after = tokens[i + 1].folded if i + 1 < len(tokens) else ""
    before = tokens[i - 1].folded if i else ""
    return (
        tokens[i].text.startswith("31")
        and before not in ("au", "numero", "le")
        and after not in territory.one_word_types
    )


def _garbled_postcodes(tokens: Sequence[Token], territory: Territory) -> list[PlaceEvidence]:
    """A postcode of the main city mangled by the transcription next to its name: "treize
    mille quatorze Marseille" written "1414 Marseille", "1305 Marseille", "315 Marseille"
    (audio corpus 6868: « treize mille quinze », booked in the 11th). Its last two digits
    still name the arrondissement; it only ever stops a booking that contradicts it."""
    if territory.districts is None:
        return []
    found: list[PlaceEvidence] = []
    for i, tok in enumerate(tokens):
        if not (tok.is_digits and len(tok.text) in (3, 4)) or territory.in_territory(tok.text):
            continue
        if len(tok.text) == 3 and not _cut_postcode(tokens, i, territory):
            continue
        beside = [tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
        if not any(territory.find_commune([t], 0) == (territory.main_city, 1) for t in beside):
            continue
        number = int(tok.text[-2:])
        if number in territory.districts.postcodes:
            found.append(PlaceEvidence("arrondissement", str(number), tok.start, tok.end))
    return found


def _postcodes_lost(
    text: str, tokens: Sequence[Token], said: Sequence[tuple[int, int]], territory: Territory
) -> list[PlaceEvidence]:
    """« …, treize zéro zéro, je souhaite … »: the department's number then « zéro » begin a
    postcode whose last digits the transcription dropped; whatever arrondissement or commune
    it named cannot be checked against the address found (kind "unheard"). `said`: the spans
    of the postcodes read whole."""
    spans = find_numbers(text, list(tokens))
    phones = find_phone_numbers(text, spans)
    department = int(territory.department) if territory.department.isdigit() else -1
    found: list[PlaceEvidence] = []
    for a, b in pairwise(spans):
        if not (a.value == department and b.value == 0 and b.spoken):
            continue
        if re.fullmatch(r"[\s,]*", text[a.end : b.start]) is None:
            continue
        if any(p.start <= a.start < p.end or p.start <= b.start < p.end for p in phones):
            continue
        if any(s <= a.start < e or s < b.end <= e for s, e in said):
            continue
        found.append(PlaceEvidence("unheard", "", a.start, b.end))
    return found


# How far before the one-word name the street's type may be (« rue Poucel, Rognonas »).
_STREET_TO_NAME_TOKENS = 6
# Words of the request, not of an address (« rue Paradis et je voudrais un canapé, orange »).
_REQUEST_WORDS = frozenset({"je", "j", "et", "pour", "un", "une", "des", "deux", "voudrais"})


def _closes_street(
    text: str, tokens: Sequence[Token], i: int, end: int, territory: Territory
) -> bool:
    """Whether the one-word name at tokens i..end closes a sentence right after a street
    (« j'habite au trente rue Poucel, Rognonas. »): a place, not a word of the request (« un
    canapé, orange »)."""
    if end < len(tokens) and not breaks_sentence(text[tokens[end - 1].end : tokens[end].start]):
        return False
    for j in range(i - 1, max(-1, i - 1 - _STREET_TO_NAME_TOKENS), -1):
        if j + 1 < len(tokens) and breaks_sentence(text[tokens[j].end : tokens[j + 1].start]):
            return False
        if tokens[j].folded in _REQUEST_WORDS:
            return False
        if tokens[j].folded in territory.one_word_types:
            return True
    return False


def place_evidence(text: str, territory: Territory) -> list[PlaceEvidence]:
    """Everything the caller said about the place: communes of the territory and outside it
    (introduced as places: "à Aubagne", "13400 Aubagne", ", Arles"), arrondissements of the
    main city (the sentence as span), the territory's postcodes, and places said but lost."""
    tokens = tokenize(text)
    out: list[PlaceEvidence] = []
    departments: list[tuple[str, str, int, int]] = []
    outside = name_forms(territory.outside)
    longest = max((len(f) for f in outside), default=0)
    i = 0
    while i < len(tokens):
        found = territory.find_commune(tokens, i)
        if found is not None and _introduced(text, tokens, i):
            commune, end = found
            out.append(
                PlaceEvidence(
                    "commune", commune.citycode, tokens[i].start, tokens[end - 1].end, commune.name
                )
            )
            i = end
            continue
        hit = None
        for n in range(min(longest, len(tokens) - i), 0, -1):
            form = tuple(t.folded for t in tokens[i : i + n])
            if form in outside:
                hit = (outside[form], i + n)
                break
        # Stricter for outside names ("Orange", "Arles" are also words and street names): only
        # "à X" / "sur X" / "X" right after a postcode.
        introduced = i > 0 and (tokens[i - 1].folded in ("a", "sur") or tokens[i - 1].is_digits)
        misheard_ok = introduced
        # "aux Baux-de-Provence", "au Pontet": the article of the name contracted with "à";
        # only for the exact name ("au" also introduces house numbers).
        introduced = introduced or (i > 0 and hit is not None and tokens[i - 1].folded in _AU)
        # « …, rue Saint-Saëns, Maussane-les-Alpilles »: a name of several words after a comma.
        comma = i > 0 and "," in text[tokens[i - 1].end : tokens[i].start]
        introduced = introduced or (
            hit is not None
            and comma
            and (hit[1] - i > 1 or _closes_street(text, tokens, i, hit[1], territory))
        )
        if hit is None and misheard_ok and found is None:
            hit = _misheard_outside(tokens, i, territory, longest)
            misheard = None if hit else _misheard_commune(text, tokens, i, territory)
            if misheard is not None:
                out.append(misheard[0])
                i = misheard[1]
                continue
        department = other_department(tokens, i) if hit is None else None
        if department is not None:
            name, code, end = department
            departments.append((name, code, tokens[i].start, tokens[end - 1].end))
        if hit is not None and introduced:
            commune, end = hit
            out.append(
                PlaceEvidence(
                    "outside", commune.citycode, tokens[i].start, tokens[end - 1].end, commune.name
                )
            )
            i = end
            continue
        i += 1
    if territory.districts is not None:
        start = 0
        for m in [*SENTENCE_END.finditer(text), None]:
            end = m.start() + 1 if m is not None else len(text)
            sentence = text[start:end]
            number = find_arrondissement(sentence, territory.districts)
            if number is not None:
                out.append(PlaceEvidence("arrondissement", str(number), start, end))
            start = m.end() if m is not None else len(text)
    out.extend(_garbled_postcodes(tokens, territory))
    out.extend(places_lost(tokens))
    # Not a place a list knows (« à Toulon » is outside, not lost).
    out.extend(
        e
        for e in places_unknown(text, tokens, territory)
        if not any(
            o.start < e.end and e.start < o.end
            for o in out
            if o.kind in ("commune", "outside", "misheard")
        )
    )
    out.extend(glued_places(tokens, territory, outside))
    out.extend(glued_phrases(text, tokens, territory))
    postcodes = find_postcodes(text, in_address=True, districts=territory.districts)
    for p in postcodes:
        if territory.in_territory(p.postcode) and p.postcode != territory.generic_postcode:
            out.append(PlaceEvidence("postcode", p.postcode, p.start, p.end))
    out.extend(_postcodes_lost(text, tokens, [(p.start, p.end) for p in postcodes], territory))
    out.extend(departments_named(departments, out))
    return out


# Words that may stand between an address and the place said with it: « …, à Aubagne »,
# « … 13400 Aubagne », « J'habite à Aubagne, au quatre … », « … sur la commune de Gémenos »,
# « …, bâtiment A, au troisième étage, à Salon », « … rue d'Italie, I T A L I E, à Aix ».
_BESIDE = frozenset(
    [
        "a",
        "au",
        "aux",
        "sur",
        "en",
        "dans",
        "la",
        "le",
        "l",
        "de",
        "d",
        "c",
        "est",
        "donc",
        "ben",
        "voila",
        "code",
        "postal",
        "commune",
        "ville",
        "batiment",
        "bat",
        "escalier",
        "etage",
        "residence",
        "appartement",
        "porte",
        "numero",
        "non",
        "pardon",
        "euh",
        "vingts",
    ]
)
_BESIDE_CHARS = 60


def with_address(
    text: str,
    start: int,
    end: int,
    evidence: Sequence[PlaceEvidence],
    citycode: str = "",
) -> list[PlaceEvidence]:
    """`evidence` with `with_address` set on what is said right before or after the address
    (characters start..end of `text`): nothing between them but the words above, a postcode
    or a floor (digits, number words, ordinals), spelled letters, words of the address said
    again, a comma (a place after the address's sentence is another's: « … Jean Jaurès. À
    Marignane, ma fille … »). Without a located address (an answer with no cue: « au quatre
    Jean Jaurès à Aubagne »), the commune the parser gave the street (`citycode`)."""
    address_words = {t.folded for t in tokenize(text[start:end])} if 0 <= start < end else set()
    out = []
    for e in evidence:
        beside = False
        if not address_words:
            beside = bool(citycode) and e.kind == "commune" and e.value == citycode
        elif e.start >= 0:
            gap = (end, e.start) if e.start >= end else (e.end, start) if e.end <= start else None
            if gap is not None and gap[1] - gap[0] <= _BESIDE_CHARS:
                between = text[gap[0] : gap[1]]
                beside = not breaks_sentence(between) and all(
                    t.folded in address_words or number_or_word_of(t, _BESIDE)
                    for t in tokenize(between)
                )
        out.append(replace(e, with_address=beside))
    return out


def outside_commune(evidence: Sequence[PlaceEvidence]) -> PlaceEvidence | None:
    """The first commune named outside the territory, if any; a département named comes
    after every commune (`place_evidence` adds it last): the commune is the more precise."""
    return next((e for e in evidence if e.kind == "outside"), None)
