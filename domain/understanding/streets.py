"""Streets in a transcript: a street type ("rue", "bd", "rond-point", or a near-miss of a long
one), the name after it up to where the sentence goes on, and the house number before it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from domain.numbers import (
    HOUSE_SUFFIXES,
    NumberSpan,
    Token,
    find_ordinals,
    fold,
    parse_cardinal,
)
from domain.understanding.lexicon import (
    ADDRESS_CUES,
    MAX_NAME_TOKENS,
    NAME_STOPS,
    PARTICLES,
    PRONOUNS_AFTER_ET,
    SENTENCE_END,
    STOP_UNLESS_AFTER_PARTICLE,
)
from domain.understanding.territory import Territory


@dataclass
class Street:
    type_token: int
    name_end: int  # token index, exclusive
    display_type: str
    number: NumberSpan | None
    suffix: str
    score: float
    typed: bool = True
    guessed_type: bool = False


@dataclass(frozen=True)
class _Scan:
    """One transcript and what the street rules look up in it."""

    text: str
    tokens: list[Token]
    territory: Territory
    numbers_at: dict[int, NumberSpan]
    numbers_end_at: dict[int, NumberSpan]
    ordinals_at: dict[int, int]
    folded_text: str

    @classmethod
    def of(
        cls, text: str, tokens: list[Token], numbers: list[NumberSpan], territory: Territory
    ) -> _Scan:
        return cls(
            text,
            tokens,
            territory,
            {n.first_token: n for n in numbers},
            {n.last_token: n for n in numbers},
            {o.first_token: o.last_token for o in find_ordinals(text, tokens)},
            fold(text),
        )


# Only long types are guessed from near-misses: short ones ("rue", "quai", "cours") are too
# close to ordinary words.
_GUESSABLE_LENGTH = 6


def guess_street_type(word: str, territory: Territory) -> str | None:
    if len(word) < _GUESSABLE_LENGTH:
        return None
    types = territory.one_word_types
    choices = [k for k in types if len(k) >= _GUESSABLE_LENGTH and k[0] == word[0]]
    best = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=85)
    return types[best[0]] if best else None


def gap(text: str, tokens: list[Token], a: int, b: int) -> str:
    return text[tokens[a].end : tokens[b].start]


def hard_break(gap: str) -> bool:
    """Punctuation that ends a street name. Apostrophes and hyphens belong to names."""
    return re.search(r"[,;:!?()\"«»]|\.(?:\s|$)", gap) is not None


def street_name_end(
    text: str,
    tokens: list[Token],
    start: int,
    numbers_at: dict[int, NumberSpan],
    ordinals_at: dict[int, int],
    territory: Territory,
    *,
    between_places: bool = True,
    numbered: int | None = None,
) -> int:
    """Token index where the street name that starts at `start` stops. Spelled letters do
    not count toward the name's length (« Vallon de la Baudille Baudille B A U D I L L E »,
    its commas lost, lost its last letters). `between_places`: the street's type is one whose
    names may run from a place to another (« Chemin du Vallon à La Rose »), or is unknown;
    otherwise a quartier after « à » is the caller's (`Territory.quartier_closes`).
    `numbered`: the house number said before the type; another small number in words right
    after the type then starts the name (« au trois de l'allée Deux Frères Freschi », its « des »
    lost, booked number 2)."""
    j = start
    letters = 0
    while j < len(tokens) and j - start - letters < MAX_NAME_TOKENS:
        if j > start and hard_break(gap(text, tokens, j - 1, j)):
            break
        f = tokens[j].folded
        prev = tokens[j - 1].folded if j > start else ""
        # A spelled « L » (« G R A N D V A L treize mille neuf ») is no « l' ».
        after_particle = prev in ("de", "du", "des", "d", "l") and not (
            j > start and _spelled_letter(tokens, j - 1)
        )
        if j in numbers_at:
            # "Rue du 4 Septembre", "Route des Quatre Saisons": a number after a particle
            # is part of the name; anywhere else it is the postcode or the next sentence.
            leading = (
                j == start
                and numbered is not None
                and numbers_at[j].value != numbered
                and numbers_at[j].spoken
                and numbers_at[j].value <= _LEADING_NAME_NUMBER
                and _capitalised_name_after(tokens, numbers_at[j].last_token)
            )
            if not leading and (not after_particle or j == start):
                break
            j = numbers_at[j].last_token
            continue
        if j in ordinals_at:
            if not after_particle:
                break
            j = ordinals_at[j]
            continue
        if (
            f in NAME_STOPS
            and not (f in STOP_UNLESS_AFTER_PARTICLE and after_particle)
            and not _spelled_letter(tokens, j)
        ):
            break
        if (f == "a" and not _spelled_letter(tokens, j)) or (
            f == "au" and j + 1 < len(tokens) and j + 1 in numbers_at
        ):
            # "à Marseille", "à Aubagne" end the name; "Chemin du Merlan à La Rose" does not.
            nxt = tokens[j + 1].folded if j + 1 < len(tokens) else ""
            if (
                f == "au"
                or territory.find_commune(tokens, j + 1)
                or nxt not in ("la", "le", "les", "l")
                # « … Mistral à la Ciota »: a commune misspelled, its article its own.
                or territory.misheard_commune_after(text, tokens, j) is not None
                or (not between_places and territory.quartier_closes(text, tokens, j + 1))
            ):
                break
        if (
            f in ("au", "aux")
            and j > start
            and not between_places
            and territory.quartier_closes(text, tokens, j + 1)
        ):
            break  # « impasse Mélèze aux Olives à Marseille »: « à » and the article in one
        if f == "et" and j + 1 < len(tokens):
            nxt_tok = tokens[j + 1]
            if nxt_tok.folded in PRONOUNS_AFTER_ET or j + 1 in numbers_at:
                break
        if territory.find_commune(tokens, j) and not after_particle and j > start:
            break
        letters += _spelled_letter(tokens, j)
        j += 1
    while j > start and tokens[j - 1].folded in PARTICLES and not _spelled_letter(tokens, j - 1):
        j -= 1
    return j


# The types of the streets named from a place to another (« Chemin du Merlan à La Rose »,
# « Traverse du Moulin à Huile »): 14 of the 17 names with « à » of ../shared/geodata's
# Marseille streets are chemins, traverses, a route and a passage (montée and sentier are roads
# of the same kind); the other three (« Rue Va à la Calanque », « Rue de la Pointe à Pitre »)
# name no quartier after it.
_BETWEEN_PLACES = frozenset({"Chemin", "Traverse", "Route", "Passage", "Montée", "Sentier"})


# The largest number a name starts with (« Deux Frères », « Sept Collines », « Vingt »).
_LEADING_NAME_NUMBER = 20


def _capitalised_name_after(tokens: list[Token], k: int) -> bool:
    return k < len(tokens) and tokens[k].text[:1].isupper() and not tokens[k].is_digits


def _spelled_letter(tokens: list[Token], i: int) -> bool:
    """Token i is a letter of a word spelled out ("R O U B A U D"): a single letter with one
    before it, or two after it."""

    def letter(k: int) -> bool:
        # « à » is the preposition after the letters (« P R O S P E R à Marseille »).
        text = tokens[k].text if 0 <= k < len(tokens) else ""
        return len(text) == 1 and text.isalpha() and text != "à"

    return letter(i) and (letter(i - 1) or (letter(i + 1) and letter(i + 2)))


def _number_before(
    text: str, tokens: list[Token], t: int, numbers_end_at: dict[int, NumberSpan]
) -> tuple[NumberSpan | None, str]:
    """The house number (and bis/ter) said just before token t, if any, also when a « de »
    links them: « au 12 de la rue Paradis », « au 18 de l'avenue », « au 3 du boulevard »,
    « au 37 de rue … »."""
    k = t
    if k >= 3 and tokens[k - 2].folded == "de" and tokens[k - 1].folded in ("la", "l"):
        k -= 2
    elif k >= 2 and tokens[k - 1].folded in ("du", "des", "de"):
        k -= 1  # « au 37 de rue du Petit Versailles »: the « la » lost
    if k != t and k not in numbers_end_at and tokens[k - 1].folded not in HOUSE_SUFFIXES:
        k = t
    t = k
    suffix = ""
    if k > 0 and (
        tokens[k - 1].folded in HOUSE_SUFFIXES
        or (
            len(tokens[k - 1].folded) == 1
            and tokens[k - 1].folded in "abcdefgh"
            and k > 1
            and tokens[k - 2].is_digits
        )
    ):
        suffix = tokens[k - 1].folded
        k -= 1
    span = numbers_end_at.get(k)
    if span is None:
        return None, ""
    gap = text[span.end : tokens[t if not suffix else k].start]
    if re.search(r"[.;:!?]", gap):
        return None, ""
    if not 1 <= span.value <= 9999:
        return None, ""
    return span, suffix


def _type_at(scan: _Scan, t: int) -> tuple[str, int, bool] | None:
    """(type as the BAN writes it, first token of the name, type guessed from a near-miss)
    when a street type is said at token t."""
    tokens, types = scan.tokens, scan.territory
    f = tokens[t].folded
    pair = (f, tokens[t + 1].folded) if t + 1 < len(tokens) else None
    if pair in types.two_word_types:
        return types.two_word_types[pair], t + 2, False
    if f in types.one_word_types:
        return types.one_word_types[f], t + 1, False
    guessed = guess_street_type(f, types)
    return (guessed, t + 1, True) if guessed is not None else None


def _is_capitalised(tokens: list[Token], name_start: int, end: int, particles: int = 2) -> bool:
    """The name's first word after its particles (at most `particles`) is a proper name:
    « Paradis », « du Prado », « de la Montre »."""
    k = name_start
    while k < min(end - 1, name_start + particles) and tokens[k].folded in PARTICLES:
        k += 1
    return tokens[k].text[:1].isupper()


def _has_cue(scan: _Scan, t: int) -> bool:
    """An address cue ("j'habite", "mon adresse") earlier in the sentence of token t."""
    start = scan.tokens[t].start
    sentence_start = max(
        (m.end() for m in SENTENCE_END.finditer(scan.folded_text, 0, start)), default=0
    )
    return ADDRESS_CUES.search(scan.folded_text, sentence_start, start) is not None


def _numero_after(scan: _Scan, end: int) -> bool:
    """« lieu-dit les bastidons, au numéro onze »: « numéro » and a number right after the
    name say it is an address, with no cue before it."""
    tokens = scan.tokens
    for j in range(end, min(len(tokens) - 1, end + 3)):
        if re.search(r"[.!?;:]", gap(scan.text, tokens, j - 1, j)):
            return False  # the sentence ended: « … chemin. Numéro … » is another thing
        if tokens[j].folded == "numero":
            return tokens[j + 1].is_digits or parse_cardinal(tokens[j + 1].text) is not None
    return False


def _street_at(scan: _Scan, t: int) -> Street | None:
    tokens = scan.tokens
    found = _type_at(scan, t)
    if found is None:
        return None
    display, name_start, fuzzy = found
    if name_start >= len(tokens):
        return None
    f = tokens[t].folded
    gap_text = gap(scan.text, tokens, name_start - 1, name_start)
    # "Bd. Michelet": the abbreviation's period is not the end of a sentence.
    abbreviated = f in scan.territory.abbreviated_types and gap_text.strip() == "."
    if hard_break(gap_text) and not abbreviated:
        return None
    number, suffix = _number_before(scan.text, tokens, t, scan.numbers_end_at)
    end = street_name_end(
        scan.text,
        tokens,
        name_start,
        scan.numbers_at,
        scan.ordinals_at,
        scan.territory,
        between_places=display in _BETWEEN_PLACES,
        numbered=number.value if number is not None else None,
    )
    if end <= name_start:
        return None
    prev = tokens[t - 1].folded if t > 0 else ""
    # An everyday word as type (« le passage de la Poste ») needs its proper name at once.
    capitalised = _is_capitalised(
        tokens, name_start, end, 1 if f in scan.territory.ambiguous_types else 2
    )
    score = 1.0
    if number is not None:
        score += 3
    if prev in ("au", "le", "a", "la", "habite", "adresse", "sis", "situe") or (
        number is not None
        and number.first_token > 0
        and tokens[number.first_token - 1].folded in ("au", "le", "du", "numero")
    ):
        score += 1
    cue = _has_cue(scan, t)
    if cue:
        score += 1
    if capitalised:
        score += 0.5
    if number is None:
        if f in scan.territory.ambiguous_types and not capitalised:
            return None
        if prev in ("sur", "en", "de", "une", "un", "ma", "mon", "cette"):
            return None
        if not (capitalised or cue or prev in ("au", "a", "le", "du") or _numero_after(scan, end)):
            return None
    if fuzzy:
        # A street type heard slightly wrong ("tavers", "squadre") needs more evidence.
        if number is None and not cue:
            return None
        score -= 1
    return Street(t, end, display, number, suffix, score, guessed_type=fuzzy)


def find_streets(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    blocked: list[tuple[int, int]],
    territory: Territory,
) -> list[Street]:
    scan = _Scan.of(text, tokens, numbers, territory)
    streets: list[Street] = []
    for t, tok in enumerate(tokens):
        if any(s <= tok.start < e for s, e in blocked):
            continue
        street = _street_at(scan, t)
        if street is not None:
            streets.append(street)
    return streets


def untyped_street(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    blocked: list[tuple[int, int]],
    territory: Territory,
) -> Street | None:
    """A street with no type: a house number after an address cue, then a proper name
    ("j'habite au 12 La Canebière")."""
    folded_text = fold(text)
    numbers_at = {n.first_token: n for n in numbers}
    ordinals_at = {o.first_token: o.last_token for o in find_ordinals(text, tokens)}
    for cue in ADDRESS_CUES.finditer(folded_text):
        for n in numbers:
            if n.start < cue.end() or n.start - cue.end() > 20:
                continue
            if any(s <= n.start < e for s, e in blocked) or not 1 <= n.value <= 9999:
                continue
            k = n.last_token
            suffix = ""
            if k < len(tokens) and tokens[k].folded in HOUSE_SUFFIXES:
                suffix, k = tokens[k].folded, k + 1
            if k >= len(tokens) or hard_break(text[n.end : tokens[k].start]):
                continue
            if not tokens[k].text[:1].isupper() and tokens[k].folded not in ("la", "le", "les"):
                continue
            end = street_name_end(text, tokens, k, numbers_at, ordinals_at, territory)
            if end > k:
                return Street(k, end, "", n, suffix, 2.0, typed=False)
    return None


def street_text(text: str, tokens: list[Token], street: Street, territory: Territory) -> str:
    if not street.typed:
        return text[tokens[street.type_token].start : tokens[street.name_end - 1].end]
    skip = 2 if street.display_type in territory.two_word_types.values() else 1
    name = text[tokens[street.type_token + skip].start : tokens[street.name_end - 1].end]
    if name[:1].islower() and tokens[street.type_token + skip].folded not in PARTICLES:
        # Whisper sometimes lower-cases proper names; the gazetteer is case-insensitive, but
        # agents read this.
        name = name[:1].upper() + name[1:]
    return f"{street.display_type} {name}"
