"""The address region of a transcript: where the caller says the number and the street.

Whisper often garbles the street so badly that no street type survives ("le quatre Impasse
Dupré" → "le cadre en passe du prêt"). What survives is the frame of the sentence: an
address cue ("j'habite", "je suis", "mon adresse, c'est le"), then the number and the street,
then the locality or the end of the sentence. That frame delimits the words the gazetteer
search and the audio re-scoring work on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.numbers import HOUSE_SUFFIXES, Token, find_postcodes, parse_cardinal, tokenize
from domain.understanding.cues import (
    CUE_PATTERNS,
    NOT_A_STREET_AFTER,
    cue_end,
    house_number_at,
    number_at,
)
from domain.understanding.lexicon import INTERJECTIONS, breaks_sentence
from domain.understanding.streets import guess_street_type
from domain.understanding.territory import Territory


@dataclass(frozen=True)
class AddressRegion:
    start: int  # character offsets in the text: the number and the street, as heard
    end: int
    determiner: str  # "au", "le" or "" (what introduced the number)
    first_token: int
    last_token: int  # exclusive
    # The caller took a number back before this one (« au quatorze, non pardon, au quatre »).
    corrected: bool = False
    # Where the address said first starts, the number taken back (-1: none was taken back).
    said_from: int = -1


# Between the cue and the number: "c'est", "est", "t'es" (a transcription of "c'est"), "s'il
# est", "se trouve", "c'est au".
_CONNECTORS = frozenset(
    {"c", "est", "t", "es", "s", "il", "ce", "se", "trouve", "situe", "situee", "donc", "euh"}
)
_DETERMINERS = {"au": "au", "aux": "au", "le": "le", "du": "le"}
# Words that start the locality after the street.
_LOCALITY_STARTS = frozenset({"dans", "arrondissement", "code", "cedex", "quartier"})
_MAX_REGION_TOKENS = 14


def _is_main_city(word: str, territory: Territory) -> bool:
    return territory.sounds_like_main_city(word, min_length=6, min_ratio=70)


def _starts_locality(tokens: list[Token], k: int, territory: Territory) -> bool:
    tok = tokens[k]
    f = tok.folded
    if f in _LOCALITY_STARTS or _is_main_city(f, territory):
        return True
    if f in ("a", "sur") and k + 1 < len(tokens):
        nxt = tokens[k + 1].folded
        if _is_main_city(nxt, territory) or territory.find_commune(tokens, k + 1):
            return True
    if territory.find_commune(tokens, k) and f not in ("la", "le", "les"):
        return True
    # A postcode ("13015", "13 000", "13h15", "13.4", "10 000") or a transcription of one.
    nxt = tokens[k + 1].text if k + 1 < len(tokens) else ""
    return tok.is_digits and (
        len(tok.text) >= 3 or tok.text == territory.department or nxt == "000"
    )


def _names_a_place(tokens: list[Token], k: int, territory: Territory) -> bool:
    f = tokens[k].folded
    if f in ("a", "sur") and k + 1 < len(tokens):
        nxt = tokens[k + 1]
        return (
            _is_main_city(nxt.folded, territory)
            or territory.find_commune(tokens, k + 1) is not None
            # « j'habite à la Capelette, au quarante-huit Jourdan »: a quartier first.
            or territory.find_quartier(tokens, k + 1) is not None
        )
    return _is_main_city(f, territory)


# How many words a place said before the address may have (« à Pointe Rouge, au … »).
_PLACE_WORDS = 4


def _place_then_number(text: str, tokens: list[Token], k: int) -> bool:
    """« j'habite à Pointe Rouuge, au quarante-quatre … »: « à », a few words, a comma, then
    « au » or « le » and a house number; the words are a place, known or misspelled."""
    if tokens[k].text.lower() != "à":
        return False
    for j in range(k + 2, min(len(tokens) - 1, k + 2 + _PLACE_WORDS)):
        gap = text[tokens[j - 1].end : tokens[j].start]
        if breaks_sentence(gap):
            return False
        if "," in gap:
            return tokens[j].folded in ("au", "le") and house_number_at(tokens, j + 1)
    return False


def _hard_stop(text: str, tokens: list[Token], a: int, b: int) -> bool:
    return breaks_sentence(text[tokens[a].end : tokens[b].start])


def _street_start(
    text: str, tokens: list[Token], cue: int, territory: Territory
) -> tuple[int, str] | None:
    """(first token of the number and street, determiner) after the cue ending at `cue`."""
    k = cue
    determiner = ""
    skipped = 0
    if k < len(tokens) and (
        _names_a_place(tokens, k, territory) or _place_then_number(text, tokens, k)
    ):
        # "j'habite à Aubagne, au 3 rue …": the locality first, then the street.
        j = k + 1
        while (
            j < len(tokens)
            and j - k < 6
            and "," not in text[tokens[j - 1].end : tokens[j].start]
            # « j'habite à Aubagne au trois rue … »: « au » and a number end the place too
            # (not « le » nor « du », which names have: Carry-le-Rouet).
            and not (tokens[j].folded in ("au", "aux") and number_at(tokens, j + 1))
        ):
            j += 1
        k = j
    while k < len(tokens) and skipped < 4:
        f = tokens[k].folded
        if f in _CONNECTORS:
            k, skipped = k + 1, skipped + 1
            continue
        if f in _DETERMINERS and determiner in ("", _DETERMINERS[f]):
            # « au… au quatre »: the determiner said again after a hesitation.
            determiner = _DETERMINERS[f]
            k, skipped = k + 1, skipped + 1
            continue
        break
    if k >= len(tokens) or (k > cue and _hard_stop(text, tokens, k - 1, k)):
        return None
    if tokens[k].folded in ("madame", "monsieur", "mademoiselle"):
        return None  # "je suis Madame Martin"
    return k, determiner


def _region_end(text: str, tokens: list[Token], first: int, territory: Territory) -> int:
    """Token index (exclusive) where the locality, a sentence end or a comma (once two words
    are in) stops the region that starts at `first`."""
    k = first
    while k < len(tokens) and k - first < _MAX_REGION_TOKENS:
        if k > first:
            gap = text[tokens[k - 1].end : tokens[k].start]
            if re.search(r"[.!?;:]", gap) or (
                "," in gap and k - first >= 2 and not _name_after_number(tokens, first, k)
            ):
                break
            # « à Salou-de-Provence »: a commune misspelled ends the name as the commune would.
            if (
                _starts_locality(tokens, k, territory)
                or territory.misheard_commune_after(text, tokens, k) is not None
            ):
                break
            if k - first >= 2 and _starts_landmark(tokens, k):
                break
            if (
                tokens[k].text.lower() == "à"
                and territory.quartier_closes(text, tokens, k + 1)
                and not _typed(tokens, first, k, territory)
                and not any(t.folded in ("de", "du", "des", "d") for t in tokens[first:k])
            ):
                # « au dix Henri Auzias à Belle-de-Mai, 13003 »: the quartier. A name may run
                # to a place (« chemin vicinal de la Millière à Saint-Menet »): typed, the
                # search reads it whole and the parser decides (streets.street_name_end); its
                # type lost, it still starts with « de » (« de la Millière à Saint-Menet »).
                break
            if _starts_clause(text, tokens, k):
                break  # « … au trois caravelle à j'aurais besoin … »: the request, its commas lost
            if k - first >= 2 and _postcode_in_words_at(text, tokens, k, territory):
                break
            if k - first >= 2 and _number_taken_back_at(text, tokens, k):
                # « au vingt-trois Victor Hugo non pardon au vingt et un »: the commas lost,
                # the take-back is not the street's name (the number said instead is read
                # by domain.understanding.address.number_after).
                break
            words = [t.folded for t in tokens[k : k + 2]]
            if (words[0] == "numero" or words == ["au", "numero"]) and not _typed(
                tokens, first, k, territory
            ):
                # « au Les Naps au numéro quinze »: the number said after an untyped name (a
                # typed street's region keeps its number for the audio vote).
                break
        k += 1
    return k


def _starts_clause(text: str, tokens: list[Token], k: int) -> bool:
    """« je » or « j' » (no street's name has them): the caller's next clause."""
    if tokens[k].folded == "je":
        return True
    return (
        tokens[k].folded == "j"
        and k + 1 < len(tokens)
        and text[tokens[k].end : tokens[k + 1].start] in ("'", "’")
    )


def _name_after_number(tokens: list[Token], first: int, k: int) -> bool:
    """Whether the comma before token k only follows the house number and a name starts
    after it (« le dix-neuf, Les Naps, à Trets », « le vingt-quatre, la grande bastide »): the
    region goes on. Not a take-back nor a landmark (« au douze, non loin de la gare »)."""
    if not all(number_at(tokens, j) or tokens[j].folded in HOUSE_SUFFIXES for j in range(first, k)):
        return False
    nxt = tokens[k]
    return (
        (nxt.folded in ("la", "le", "les", "l") or nxt.text[:1].isupper())
        and nxt.folded not in _TAKE_BACK_WORDS
        and not _starts_landmark(tokens, k)
    )


def _typed(tokens: list[Token], first: int, k: int, territory: Territory) -> bool:
    """A street type among tokens first..k (« avenue du Prado au numéro douze »)."""
    words = [t.folded for t in tokens[first:k]]
    return any(
        w in territory.one_word_types or tuple(words[j : j + 2]) in territory.two_word_types
        for j, w in enumerate(words)
    )


# "au 10 rue Paradis non loin de la place Castellane": what follows is a landmark, another
# street than the caller's.
_LANDMARK_STARTS = (
    ("non", "loin"),
    ("pas", "loin"),
    ("pres", "de"),
    ("pres", "du"),
    ("pres", "des"),
    ("a", "cote"),
    ("en", "face"),
)


def _starts_landmark(tokens: list[Token], k: int) -> bool:
    return any(
        tuple(t.folded for t in tokens[k : k + len(pattern)]) == pattern
        for pattern in _LANDMARK_STARTS
    )


# What a caller says to take a number back, and the words around it (« non, excusez-moi »,
# « euh non, je veux dire »).
_TAKE_BACK = frozenset({"non", "pardon", "excusez", "excuse", "plutot", "dire"})
_TAKE_BACK_WORDS = _TAKE_BACK | INTERJECTIONS | {"moi", "je", "veux", "voulais", "dire"}
_LONGEST_NUMBER = 6  # tokens: « deux cent quatre vingt dix neuf »
# Before the number said instead: « au », « le », « c'est le (numéro) », « numéro ».
_BEFORE_NUMBER = frozenset(_DETERMINERS) | _CONNECTORS | {"numero"}
# What makes « un » a number rather than an article: « au un », « le un », « numéro un ».
_INTRODUCE = frozenset(_DETERMINERS) | {"numero"}


def _taken_back(text: str, tokens: list[Token], first: int) -> int | None:
    """Where the address starts again when it opens with a number the caller takes back at
    once (« au quatorze, non pardon, au quatre Jean Jaurès »; « le trois… non, excusez-moi,
    le cinq »): the token after the take-back, where another number is said; else None
    (« au douze, non loin de la gare », « le douze, excusez-moi du dérangement, … », « au
    douze… non, le numéro je sais plus » take nothing back)."""
    number_end = None
    for k in range(first + 1, min(len(tokens), first + _LONGEST_NUMBER) + 1):
        if parse_cardinal(text[tokens[first].start : tokens[k - 1].end]) is not None:
            number_end = k
    if number_end is None and tokens[first].folded in ("non", "pardon", "excusez", "excuse"):
        number_end = first  # « c'est le… non, excusez-moi, le seize »: the first number lost
    if number_end is None:
        return None
    if number_end < len(tokens) and tokens[number_end].folded in HOUSE_SUFFIXES:
        number_end += 1  # « au quatorze bis, non pardon, … »
    k, said = number_end, False
    while k < len(tokens) and tokens[k].folded in _TAKE_BACK_WORDS:
        if _hard_stop(text, tokens, k - 1, k):
            return None
        said = said or tokens[k].folded in _TAKE_BACK
        k += 1
    if not said or (k < len(tokens) and _hard_stop(text, tokens, k - 1, k)):
        return None
    j = k
    while j < len(tokens) and j - k < 4 and tokens[j].folded in _BEFORE_NUMBER:
        j += 1
    if j >= len(tokens) or not (tokens[j].is_digits or parse_cardinal(tokens[j].text) is not None):
        return None
    if tokens[j].folded in ("un", "une") and (j == k or tokens[j - 1].folded not in _INTRODUCE):
        return None  # « non, c'est une erreur »: an article, no number
    return j if any(t.folded == "numero" for t in tokens[k:j]) else k


# How far a postcode said in words may run (« treize mille quatre cent quatre-vingt-dix »).
_POSTCODE_CHARS = 60


def _postcode_in_words_at(text: str, tokens: list[Token], k: int, territory: Territory) -> bool:
    """Whether a postcode of the territory said in words starts at token k (« … mozart treize
    mille neuf marseille »: the commas lost, the postcode is not the street's name; digits
    are `_starts_locality`'s)."""
    if tokens[k].is_digits or parse_cardinal(tokens[k].text) is None:
        return False
    window = text[tokens[k].start : tokens[k].start + _POSTCODE_CHARS]
    said = find_postcodes(window)
    return bool(said) and said[0].start == 0 and territory.in_territory(said[0].postcode)


def _number_taken_back_at(
    text: str, tokens: list[Token], k: int, *, introduced: bool = True
) -> bool:
    """Whether a take-back starts at token k and another number follows it in the same
    sentence (« euh non pardon au vingt », « non, excusez-moi, le cinq »; with `introduced`
    False also « euh non douze »). « non, c'est une erreur »: an article, no number."""
    j, said = k, False
    while j < len(tokens) and j - k < _LONGEST_NUMBER and tokens[j].folded in _TAKE_BACK_WORDS:
        said = said or tokens[j].folded in _TAKE_BACK
        j += 1
    if not said:
        return False
    n = j
    while n < len(tokens) and n - j < 4 and tokens[n].folded in _BEFORE_NUMBER:
        n += 1
    if n >= len(tokens) or (introduced and n == j):
        return False  # « non pardon deux chaises »: no « au », « le » or « numéro » before it
    if any(_hard_stop(text, tokens, i - 1, i) for i in range(k + 1, n + 1)):
        return False  # « au douze, non. Le quatre juin … »: not across a sentence's end
    if tokens[n].folded in ("un", "une") and (n == j or tokens[n - 1].folded not in _INTRODUCE):
        return False
    return tokens[n].is_digits or parse_cardinal(tokens[n].text) is not None


# How far after the address a take-back still corrects it (« … rue Paradis à Marseille, euh
# non, au douze »).
_CORRECTION_REACH = 12


def _corrected_around(text: str, tokens: list[Token], first: int, k: int) -> bool:
    """Whether a number is taken back inside the region (« au dix paradis euh non douze », no
    « au » before the new number) or in the same sentence after it (« … à Marseille, euh non,
    au douze »): the address the region names may be the one taken back."""
    for j in range(first + 1, min(len(tokens), k + _CORRECTION_REACH)):
        if j >= k and _hard_stop(text, tokens, j - 1, j):
            return False
        if tokens[j].folded in _TAKE_BACK and _number_taken_back_at(
            text, tokens, j, introduced=j >= k
        ):
            return True
    return False


def locate_address(
    text: str, territory: Territory, tokens: list[Token] | None = None
) -> AddressRegion | None:
    """Where the caller says the number and the street: after the first address cue, up to the
    locality, a sentence end or a comma (once two words are in). None without a cue."""
    tokens = tokenize(text) if tokens is None else tokens
    for i in range(len(tokens)):
        cue = cue_end(tokens, i)
        if cue is None:
            continue
        start = _street_start(text, tokens, cue, territory)
        if start is None:
            continue
        first, determiner = start
        said_from, corrected = tokens[first].start, False
        # « au dix, non, au douze, non, au quatorze »: each number taken back in turn.
        while (again := _taken_back(text, tokens, first)) is not None:
            restart = _street_start(text, tokens, again, territory)
            if restart is None:
                break
            (first, determiner), corrected = restart, True
        k = _region_end(text, tokens, first, territory)
        parts = _parts_follow(tokens, first, k, territory)
        later = (
            numbered_address_after(text, tokens, first + 1)
            if _building_named(tokens, first) or parts
            else None
        )
        if parts and later is not None and not _street_after(tokens, later, territory):
            later = None
        # The parts' own numbers may be garbled past recognition (« j'ai escalé quatre »).
        if later is not None and (parts or not _has_number(tokens, first, later)):
            # « résidence la Rose, bâtiment C, au vingt-neuf Frédéric Mistral »: the
            # building first, then its street and number (the commas may be lost).
            restart = _street_start(text, tokens, later, territory)
            if restart is not None:
                first, determiner = restart
                said_from = tokens[first].start
                k = _region_end(text, tokens, first, territory)
        if k <= first or _started_over(text, tokens, first, k):
            continue
        if _corrected_around(text, tokens, first, k):
            # A take-back after the name (« … Victor Hugo non pardon au vingt et un », the
            # region cut there) or after the place: what the caller corrected may be the
            # street as well as the number, so the address found is confirmed, never booked
            # blindly.
            corrected = True
        return AddressRegion(
            tokens[first].start,
            tokens[k - 1].end,
            determiner,
            first,
            k,
            corrected,
            said_from if corrected else -1,
        )
    return None


# Words that name a building, not a street, when a numbered address follows them.
BUILDING_WORDS = frozenset({"residence", "batiment", "immeuble"})
# How far after the building's name its street may come (« …, bâtiment C, escalier 4, au 29 »).
_BUILDING_TO_STREET_TOKENS = 12
# A number after these names a part of the building (« escalier un », « porte 12 »), not a
# house.
BUILDING_PARTS = frozenset(
    {"batiment", "bat", "escalier", "porte", "etage", "appartement", "appt", "entree"}
)


_ARTICLES = frozenset({"la", "le", "les", "l"})


def _building_named(tokens: list[Token], first: int) -> bool:
    """« résidence les Pins », « la résidence les Pins »: the region names a building."""
    if tokens[first].folded in _ARTICLES and first + 1 < len(tokens):
        first += 1
    return tokens[first].folded in BUILDING_WORDS


def _street_after(tokens: list[Token], au: int, territory: Territory) -> bool:
    """Whether a street's type follows « au » at token `au` and its number (« au quinze rués
    minzola »: a type misheard, or in the plural), not a date, a suffix or the request's words
    (« au 7 bis », « au 12 merci », « le 12 mars »). A name with no type before the building's
    parts may be the street itself (« la Canebière, bâtiment B, au douze »): it stays unless
    another street is said."""
    k = au + 1
    while k < len(tokens) and (
        tokens[k].is_digits
        or parse_cardinal(tokens[k].text) is not None
        or (
            tokens[k].folded == "et"
            and k + 1 < len(tokens)
            and parse_cardinal(tokens[k + 1].text) is not None
        )
    ):
        k += 1
    if k < len(tokens) and tokens[k].folded in HOUSE_SUFFIXES:
        k += 1
    if k >= len(tokens):
        return False
    word = tokens[k].folded
    pair = (word, tokens[k + 1].folded) if k + 1 < len(tokens) else None
    return (
        word in territory.one_word_types
        or pair in territory.two_word_types
        or (word.endswith("s") and word[:-1] in territory.one_word_types)
        or guess_street_type(word, territory) is not None
    )


def _parts_follow(tokens: list[Token], first: int, k: int, territory: Territory) -> bool:
    """Whether the region is a building's name with « résidence » lost: a name with no type and
    no number, then a part of the building (audio corpus 5757: « j'habite des idenses les
    Olivier. Bâtiment, j'ai escalé quatre. Au quinze rués minzola » booked « 10 Impasse des
    Oliviers », a number guessed from « des idenses »). Its street is said after."""
    return (
        first < k < len(tokens)
        and tokens[k].folded in BUILDING_PARTS
        and not _has_number(tokens, first, k)
        and not any(t.folded in territory.one_word_types for t in tokens[first:k])
        and not any(
            (a.folded, b.folded) in territory.two_word_types
            for a, b in zip(tokens[first : k - 1], tokens[first + 1 : k], strict=True)
        )
    )


def _has_number(tokens: list[Token], first: int, end: int) -> bool:
    return any(
        number_at(tokens, j) and not (j > first and tokens[j - 1].folded in BUILDING_PARTS)
        for j in range(first, end)
    )


def numbered_address_after(text: str, tokens: list[Token], k: int) -> int | None:
    """The token of « au » (or « le ») after token k, in the same sentence (or past
    sentences that start with a part of the building or that « au » itself), that a house
    number and a word follow: where a building's street is said."""
    for j in range(k, min(len(tokens) - 2, k + _BUILDING_TO_STREET_TOKENS)):
        n = tokens[j + 1]
        if (
            j > 0
            and re.search(r"[.!?;:]", text[tokens[j - 1].end : tokens[j].start])
            # « Résidence les Cigales. Bâtiment un, escalier deux. Au 25, … »: Whisper's
            # sentences between the building's parts and its street.
            and tokens[j].folded not in BUILDING_WORDS | BUILDING_PARTS
            and not (tokens[j].folded == "au" and (n.is_digits or parse_cardinal(n.text)))
        ):
            return None
        if (
            tokens[j].folded in ("au", "le")
            and (n.is_digits or (parse_cardinal(n.text) is not None and n.folded != "une"))
            and tokens[j + 2].folded not in NOT_A_STREET_AFTER
        ):
            return j
    return None


# A cue this many words into the region, none of them a number, is the caller starting over
# (« je suis au… haut, mon adresse, c'est le… »); further in, or after a number, it is what
# follows the address (« au quatre impasse Dupré je suis à Marseille »).
_RESTART_WITHIN = 2


def _started_over(text: str, tokens: list[Token], first: int, end: int) -> bool:
    """Whether the caller started the address over after this region: it is a number alone
    (« j'habite au trois. J'habite au douze rue de Rome »: a number is no street), or one of
    the exact cues opens again right after its first words. The address is then at the next
    cue."""
    for j in range(first, min(end, first + _RESTART_WITHIN + 1)):
        before = tokens[first:j]
        if any(t.is_digits or parse_cardinal(t.text) is not None for t in before):
            break
        if j > first and any(
            tuple(t.folded for t in tokens[j : j + len(p)]) == p for p in CUE_PATTERNS
        ):
            return True
    words = [t for t in tokens[first:end] if t.folded not in INTERJECTIONS]
    return not words or parse_cardinal(text[words[0].start : words[-1].end]) is not None
