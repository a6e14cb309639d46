"""Whether an address the gazetteer and the audio vote found may be booked without a person:
what the caller said about the place must agree with it, the transcript it came from must be
sound, and its house number must be one the caller said.

A wrong booking sends a truck to the wrong door; a case handed to a person or confirmed by SMS
only costs time. So the caller's own words (commune, arrondissement, postcode) outrank what the
gazetteer found, and the audio vote can never raise the confidence of a transcript that is
itself garbled or looping (Whisper repeats itself on noise)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

from rapidfuzz import fuzz

from domain.address_models import PlaceEvidence
from domain.models import AddressMatch, Segment
from domain.numbers import (
    Token,
    find_arrondissement,
    find_numbers,
    find_phone_numbers,
    find_postcodes,
    fold,
    parse_cardinal,
    parse_ordinal,
    tokenize,
)
from domain.street_checks import (
    street_disagrees,
    street_partly_said,
    street_type_contradicts,
    street_within,
)
from domain.understanding.lexicon import SENTENCE_END, breaks_sentence
from domain.understanding.territory import MISHEARD_NAME_RATIO, Commune, Territory

__all__ = [
    "PlaceEvidence",
    "address_conflict",
    "number_guessed",
    "number_said",
    "outside_commune",
    "place_evidence",
    "self_corrected",
    "street_disagrees",
    "street_partly_said",
    "street_type_contradicts",
    "street_within",
    "transcript_quality",
    "with_address",
]

# Départements next to the territory, as callers name them ("dans le Var"): the caller is
# outside whatever street name follows.
_OTHER_DEPARTMENTS = {
    ("var",): "Var",
    ("vaucluse",): "Vaucluse",
    ("gard",): "Gard",
    ("alpes", "de", "haute", "provence"): "Alpes-de-Haute-Provence",
    ("hautes", "alpes"): "Hautes-Alpes",
}

_AU = frozenset({"au", "aux"})
# Words that introduce a place: "à Aubagne", "sur Marseille", "13400 Aubagne", ", Aubagne".
_INTRODUCERS = frozenset({"a", "sur", "en", "habite", "commune", "ville"})


def _introduced(text: str, tokens: Sequence[Token], i: int) -> bool:
    if i == 0:
        return True
    prev = tokens[i - 1]
    between = text[prev.end : tokens[i].start]
    return prev.folded in _INTRODUCERS or prev.is_digits or any(c in between for c in ",.:;(")


def _outside_forms(territory: Territory) -> dict[tuple[str, ...], Commune]:
    return {tuple(t.folded for t in tokenize(c.name)): c for c in territory.outside}


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


def _garbled_postcodes(tokens: Sequence[Token], territory: Territory) -> list[PlaceEvidence]:
    """A postcode of the main city mangled by the transcription next to its name: "treize
    mille quatorze Marseille" written "1414 Marseille", "1305 Marseille". Its last two digits
    still name the arrondissement; it only ever stops a booking that contradicts it."""
    if territory.districts is None:
        return []
    found: list[PlaceEvidence] = []
    for i, tok in enumerate(tokens):
        if not (tok.is_digits and len(tok.text) == 4) or territory.in_territory(tok.text):
            continue
        beside = [tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
        if not any(territory.find_commune([t], 0) == (territory.main_city, 1) for t in beside):
            continue
        number = int(tok.text[-2:])
        if number in territory.districts.postcodes:
            found.append(PlaceEvidence("arrondissement", str(number), tok.start, tok.end))
    return found


# What follows « à » when the transcription lost the place it introduced: the next clause.
_CLAUSE_STARTS = frozenset({"je", "j", "merci"})


def _places_lost(tokens: Sequence[Token]) -> list[PlaceEvidence]:
    """« … rue de la Capitale, à je voudrais … »: a place was said and lost; whatever it was
    (an outside commune?) cannot be checked against the address found (kind "unheard")."""
    return [
        PlaceEvidence("unheard", "", tok.start, tokens[i + 1].end)
        for i, tok in enumerate(tokens[:-1])
        if tok.text.lower() == "à" and tokens[i + 1].folded in _CLAUSE_STARTS
    ]


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


def place_evidence(text: str, territory: Territory) -> list[PlaceEvidence]:
    """Everything the caller said about the place: communes of the territory and outside it
    (introduced as places: "à Aubagne", "13400 Aubagne", ", Arles"), arrondissements of the
    main city (the sentence as span), the territory's postcodes, and places said but lost."""
    tokens = tokenize(text)
    out: list[PlaceEvidence] = []
    outside = _outside_forms(territory)
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
        introduced = introduced or (hit is not None and hit[1] - i > 1 and comma)
        if hit is None and misheard_ok and found is None:
            hit = _misheard_outside(tokens, i, territory, longest)
            misheard = None if hit else _misheard_commune(text, tokens, i, territory)
            if misheard is not None:
                out.append(misheard[0])
                i = misheard[1]
                continue
        if hit is None and i > 1 and [t.folded for t in tokens[i - 2 : i]] == ["dans", "le"]:
            for form, name in _OTHER_DEPARTMENTS.items():
                if tuple(t.folded for t in tokens[i : i + len(form)]) == form:
                    end = i + len(form)
                    out.append(
                        PlaceEvidence("outside", "", tokens[i].start, tokens[end - 1].end, name)
                    )
                    break
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
    out.extend(_places_lost(tokens))
    postcodes = find_postcodes(text, in_address=True, districts=territory.districts)
    for p in postcodes:
        if territory.in_territory(p.postcode) and p.postcode != territory.generic_postcode:
            out.append(PlaceEvidence("postcode", p.postcode, p.start, p.end))
    out.extend(_postcodes_lost(text, tokens, [(p.start, p.end) for p in postcodes], territory))
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
                    t.folded in _BESIDE
                    or t.folded in address_words
                    or t.is_digits
                    or len(t.text) == 1
                    or parse_cardinal(t.text) is not None
                    or parse_ordinal(t.text) is not None
                    for t in tokenize(between)
                )
        out.append(replace(e, with_address=beside))
    return out


def outside_commune(evidence: Sequence[PlaceEvidence]) -> PlaceEvidence | None:
    """The first commune named outside the territory, if any."""
    return next((e for e in evidence if e.kind == "outside"), None)


def address_conflict(
    match: AddressMatch, evidence: Sequence[PlaceEvidence], territory: Territory
) -> str:
    """What the caller said that the address contradicts, in French for the agent ("" when
    nothing does). A commune whose name is part of the street's own name ("rue d'Aubagne")
    is the street, not the caller's commune."""
    main = territory.main_city
    in_main = territory.arrondissement_of_postcode(match.postcode) is not None or (
        match.citycode == main.citycode
    )
    street = fold(match.street)
    for e in evidence:
        if e.kind in ("commune", "misheard"):
            if fold(e.name) in street:
                continue
            said_main = e.value == main.citycode
            if said_main and not in_main:
                return f"l'appelant a dit {main.name}, l'adresse trouvée est à {match.city}"
            if not said_main and (in_main or e.value != match.citycode):
                return f"l'appelant a dit {e.name}, l'adresse trouvée est à {match.city}"
        elif e.kind == "arrondissement":
            number = territory.arrondissement_of_postcode(match.postcode)
            if number is None:
                return (
                    f"l'appelant a dit le {e.value}e arrondissement, l'adresse trouvée est à "
                    f"{match.city}"
                )
            if str(number) != e.value:
                return (
                    f"l'appelant a dit le {e.value}e arrondissement, l'adresse trouvée est "
                    f"dans le {number}e"
                )
        elif e.kind == "postcode" and e.value != match.postcode:
            return f"l'appelant a dit {e.value}, l'adresse trouvée est au {match.postcode}"
    return ""


# "au dix, non pardon, au douze": the caller corrected what they said; which of the two the
# parser kept is not certain enough to book on.
_CORRECTION = re.compile(
    r"\b(?:non,? pardon|pardon,? non|je veux dire|je voulais dire|enfin non|non non|"
    r"je me suis tromp[ée]e?|(?<!si )je me trompe(?! pas)|je rectifie|plut[ôo]t|"
    # « le sept… non, excusez-moi, le cinq »: not « (non) excusez-moi de vous déranger ».
    r"non,? excuse[zr]?[\s-]moi(?!,? (?:de|d'|pour)\b)|excuse[zr]?[\s-]moi,? non)\b",
    re.IGNORECASE,
)


# "Rappelez-moi plutôt au 06…": a preference for the callback, not a correction.
# The caller is the one called back: « rappelez-moi », « me joindre », « nous appeler »;
# not « la rue s'appelle plutôt … », which corrects the address.
_CALL_VERB = r"(?:rappel\w*|appel\w*|joindre|contacter|t[ée]l[ée]phoner|[ée]crire)"
_CALLBACK_PREFERENCE = re.compile(
    rf"(?:\b{_CALL_VERB}[\s-]+(?:moi|nous)|\b(?:me|m'|m’|nous)\s*{_CALL_VERB}"
    r"|\brappel\w*)[\s,]+plut[ôo]t\b"
    # ... or whatever the verb became, "plutôt" then a phone number ("plutôt au zéro six").
    r"|\bplut[ôo]t,?\s+(?:au|le|sur)\s+(?:z[ée]ro\b|0\d)",
    re.IGNORECASE,
)


def self_corrected(text: str) -> bool:
    """Whether the caller corrects themselves somewhere in the message (not where they only
    say how they prefer to be called back)."""
    return _CORRECTION.search(_CALLBACK_PREFERENCE.sub(" ", text)) is not None


def _base(housenumber: str) -> str:
    return housenumber.split()[0] if housenumber.strip() else ""


# A number guessed from words that sound like one ("cadre en passe" → 4) counts as heard
# when it is the transcript's clear best reading: alike enough, and not tied with another.
_GUESS_MIN = 0.6
_GUESS_MARGIN = 0.05


def number_said(
    housenumber: str, parsed: str, heard: Sequence[str] = (), scores: Sequence[float] = ()
) -> bool:
    """Whether the transcript carries the house number: read as a number (digits or number
    words: `parsed`), or, with nothing read, the one clear best guess from the words that
    sound like a number (`heard`, best first, with their `scores`). The audio vote may confirm
    the transcript's reading, never choose against it nor between tied guesses: Whisper
    garbles numbers into such words on the telephone, and the vote between close numbers is
    won by a few nats only (vm020 of the development set: « garantie » gave 40, 46 and 48,
    and the vote booked 46 for 48)."""
    base = _base(housenumber)
    if not base:
        return False
    if _base(parsed):
        return base == _base(parsed)
    if not heard or not scores or _base(heard[0]) != base or scores[0] < _GUESS_MIN:
        return False
    return len(scores) == 1 or scores[0] - scores[1] >= _GUESS_MARGIN


def number_guessed(housenumber: str, heard: Sequence[str]) -> bool:
    """Whether the house number is among those guessed from the words heard."""
    base = _base(housenumber)
    return bool(base) and any(_base(h) == base for h in heard)


# Whisper's own thresholds for a failed decoding: a compression ratio above 2.4 means the text
# repeats itself; an average log-probability under -1 means the decoder was guessing.
_COMPRESSION_LIMIT = 2.4
_LOGPROB_LIMIT = -1.0
_MIN_WORDS = 6


def _compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw)))


def _repeated_share(words: list[str], n: int = 3) -> float:
    """Share of the word n-grams that are repeats of an earlier one."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def transcript_quality(text: str, segments: Sequence[Segment] = ()) -> float:
    """How far the transcript itself can be trusted, in [0, 1]: 1 for a sound message, lower
    for one that loops (repeated word trigrams, a compression ratio like Whisper's), is very
    short, or that the decoder was unsure of (average log-probability, no-speech
    probability, when the speech-to-text result gives them). It only ever lowers a
    confidence."""
    words = [t.folded for t in tokenize(text)]
    if not words:
        return 0.0
    quality = 1.0
    repeated = _repeated_share(words)
    if repeated > 0.1:
        quality *= max(0.0, 1.0 - 2.0 * (repeated - 0.1))
    ratio = _compression_ratio(text)
    if len(text) >= 80 and ratio > _COMPRESSION_LIMIT:
        quality *= max(0.0, 1.0 - (ratio - _COMPRESSION_LIMIT))
    if len(words) < _MIN_WORDS:
        quality *= len(words) / _MIN_WORDS
    if segments:
        total = sum(max(0.0, s.end - s.start) for s in segments) or float(len(segments))
        weight = [(max(0.0, s.end - s.start) or 1.0) / total for s in segments]
        logprob = sum(w * s.avg_logprob for w, s in zip(weight, segments, strict=True))
        no_speech = sum(w * s.no_speech_prob for w, s in zip(weight, segments, strict=True))
        if logprob < _LOGPROB_LIMIT:
            quality *= max(0.0, 1.0 + (logprob - _LOGPROB_LIMIT))
        if no_speech > 0.5:
            quality *= max(0.0, 1.0 - 2.0 * (no_speech - 0.5))
    return max(0.0, min(1.0, quality))
