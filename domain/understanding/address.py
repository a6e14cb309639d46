"""The address of a message: the best street (typed, untyped, or the words of the address
region when no street type survived the transcription), its house number and its locality."""

from __future__ import annotations

import re
from dataclasses import replace

from domain.models import SpokenAddress
from domain.numbers import (
    HOUSE_SUFFIXES,
    NumberSpan,
    PhoneSpan,
    Token,
    find_postcodes,
    parse_cardinal,
)
from domain.understanding.lexicon import INTERJECTIONS
from domain.understanding.locality import (
    Locality,
    fill_locality,
    locality,
    locality_after,
    sentence_bounds,
)
from domain.understanding.region import (
    BUILDING_PARTS,
    BUILDING_WORDS,
    locate_address,
    numbered_address_after,
)
from domain.understanding.spelled_names import spelled, spelled_after, spelled_later
from domain.understanding.streets import Street, find_streets, street_text, untyped_street
from domain.understanding.territory import Territory


def _best_street(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    blocked: list[tuple[int, int]],
    notes: list[str],
    territory: Territory,
) -> tuple[Street | None, bool]:
    """(the street of the address, whether the caller took another street back for it)."""
    found = find_streets(text, tokens, numbers, blocked, territory)
    # "au 10 rue X, non pardon, au 3 avenue Y": the street taken back is not the address.
    streets = [
        s
        for s, later in zip(found, [*found[1:], None], strict=False)
        if later is None or not _taken_back(tokens[s.name_end - 1 : later.type_token])
    ]
    taken_back = len(streets) < len(found)
    # « Résidence la Rose, bâtiment C, au 29 Frédéric Mistral »: the building's name, then its
    # street (untyped here: the words after the number are searched).
    streets = [
        s
        for s in streets
        if (
            s.number is not None
            or tokens[s.type_token].folded not in BUILDING_WORDS
            or numbered_address_after(text, tokens, s.name_end) is None
        )
        and not _building_part(tokens, s)
    ]
    street = max(streets, key=lambda s: s.score) if streets else None
    if street is None:
        street = untyped_street(text, tokens, numbers, blocked, territory)
        if street is not None:
            notes.append("adresse sans type de voie (rue, avenue...) : à vérifier")
    if street is not None and street.guessed_type:
        notes.append(f"type de voie deviné : « {tokens[street.type_token].text} »")
    return street, taken_back


def _building_part(tokens: list[Token], street: Street) -> bool:
    """« escalier deux », « porte B »: a part of the building named by a number or a letter,
    not a street of that type (audio corpus 4646: « Bâtiment un, escalier deux. Au 25, … »
    booked « 1 Escalier », a street of Marseille's 11th)."""
    name = tokens[street.type_token + 1 : street.name_end]
    return (
        tokens[street.type_token].folded in BUILDING_PARTS
        and len(name) == 1
        and (len(name[0].folded) == 1 or parse_cardinal(name[0].text) is not None)
    )


def _fill_street(
    address: SpokenAddress,
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    street: Street,
    notes: list[str],
    territory: Territory,
    address_numbers: list[NumberSpan],
) -> tuple[tuple[int, int], Locality]:
    """The street and its number into `address`; (its character span, the locality said with
    it)."""
    address.street = spelled(
        street_text(text, tokens, street, territory) + spelled_after(text, tokens, street.name_end),
        street.typed,
    )
    first = street.number.start if street.number else tokens[street.type_token].start
    street_span = (first, tokens[street.name_end - 1].end)
    if street.number is not None:
        address.housenumber = str(street.number.value) + (
            f" {street.suffix}" if street.suffix else ""
        )
    after = number_after(text, tokens, address_numbers, street.name_end, territory)
    if after is not None and street.number is not None and after[0] != address.housenumber:
        # « au quatorze rue de l'Église euh au douze à Allauch » (seed 3131: 14 booked): another
        # number said after the name, with nothing but a hesitation to take the first back, is
        # the one corrected to, and confirmed.
        after = (after[0], True)
    if after is not None and (street.number is None or after[1]):
        # "lieu-dit Les Naps, au numéro 5"; "au 10 rue X, euh non pardon, au 12": the number
        # said after the name, or the one the caller corrected to.
        address.housenumber = after[0]
        if after[1]:
            address.corrected = True
            notes.append("numéro corrigé par l'appelant")
    if not address.housenumber:
        notes.append("numéro de rue non entendu")
    # The locality follows the street in the same sentence, or in the next one
    # ("... Rue Julia. Treize mille cinq Marseille.").
    found = locality_after(text, tokens, street_span[1], numbers, territory)
    # Or precedes it: "J'habite à Aubagne, au 3 rue ...".
    if not any(found):
        start, _ = sentence_bounds(text, street_span[0])
        found = locality(text, tokens, start, street_span[0], numbers, territory)
    return street_span, found


_TENS = frozenset({20, 30, 40, 50, 60})


def _rejoin_tens(tokens: list[Token], numbers: list[NumberSpan]) -> list[NumberSpan]:
    """« et un » / « et onze » only ever end a number (« trente et un »). Cut from its tens by
    a pause or a hesitation (« au trente, euh, et un »), it is joined back to them; with no
    number before it, the transcription lost the tens and 1 is not the house number; after
    another number (« au neuf et onze »: a building 9–11) both stand, as before. Tens then
    « et » and no number (« au vingt et saint-victor »): the unit lost, no number either."""
    out: list[NumberSpan] = []
    by_start = {n.first_token: n for n in numbers}
    joined: set[int] = set()
    for n in numbers:
        i = n.first_token
        if i in joined:
            continue
        j = n.last_token
        if n.spoken and n.value in _TENS and j < len(tokens) and tokens[j].folded == "et":
            k = j + 1
            while k < len(tokens) and tokens[k].folded in INTERJECTIONS:
                k += 1
            unit = by_start.get(k)
            if unit is None:
                continue  # « au vingt et saint-victor »: the unit lost, 20 is not the number
            if k > j + 1 and unit.value in (1, 11) and (unit.value == 1 or n.value == 60):
                # « au vingt et, euh, un »: the unit after a hesitation.
                joined.add(k)
                value = n.value + unit.value
                n = replace(
                    n, end=unit.end, value=value, digits=str(value), last_token=unit.last_token
                )
                out.append(n)
                continue
        if not (n.spoken and n.value in (1, 11) and i > 0 and tokens[i - 1].folded == "et"):
            out.append(n)
            continue
        j = i - 2
        while j >= 0 and tokens[j].folded in INTERJECTIONS:
            j -= 1
        before = out[-1] if out and out[-1].last_token == j + 1 else None
        if before is None:
            continue  # the tens lost
        if before.value in _TENS and (n.value == 1 or before.value == 60):
            out[-1] = replace(
                before,
                end=n.end,
                value=before.value + n.value,
                digits=str(before.value + n.value),
                last_token=n.last_token,
            )
        else:
            out.append(n)
    return out


def extract_address(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    phones: list[PhoneSpan],
    blocked: list[tuple[int, int]],
    notes: list[str],
    territory: Territory,
) -> tuple[SpokenAddress | None, tuple[int, int] | None, bool]:
    """(address, character span of the street, street had a type)."""
    address_numbers = _rejoin_tens(
        tokens, [n for n in numbers if not any(p.start <= n.start < p.end for p in phones)]
    )
    street, street_taken_back = _best_street(
        text, tokens, address_numbers, blocked, notes, territory
    )

    address = SpokenAddress(corrected=street_taken_back)
    street_span: tuple[int, int] | None = None
    if street is not None:
        street_span, found = _fill_street(
            address, text, tokens, numbers, street, notes, territory, address_numbers
        )
    else:
        postcode, arrondissement, commune, other = locality(
            text, tokens, 0, len(text), numbers, territory, introduced_only=True
        )
        postcode = postcode if re.fullmatch(r"\d{5}", postcode) else ""
        found = (postcode, arrondissement, commune, other)

    heard = None
    if street is None:
        heard = _heard_street(text, tokens, address_numbers, blocked, territory)
    if heard is not None:
        address.housenumber, address.street, street_span, taken_back = heard
        address.corrected = address.corrected or taken_back
        notes.append(
            f"rue mal transcrite (« {address.street} ») : recherchée dans la base d'adresses"
        )
        found = locality_after(text, tokens, street_span[1], numbers, territory)
        next_token = next((i for i, t in enumerate(tokens) if t.start >= street_span[1]), None)
        after = (
            number_after(text, tokens, address_numbers, next_token, territory)
            if next_token is not None
            else None
        )
        if after is not None and (not address.housenumber or after[1]):
            address.housenumber = after[0]
            address.corrected = address.corrected or after[1]
        if not address.housenumber:
            notes.append("numéro de rue non entendu")

    if address.street and street_span is not None:
        # « … traverse des Peurluns. Pourlons, ça s'écrit P O U R L U N S. »
        letters = spelled_later(text, street_span[1])
        if letters:
            respelled = spelled(f"{address.street} {letters}", bool(street and street.typed))
            if respelled != address.street:
                # The letters changed the name: what was heard and what was spelled disagree,
                # so the address is confirmed, never booked blindly.
                address.street, address.corrected = respelled, True
                notes.append("rue corrigée par les lettres épelées")
    fill_locality(address, found, notes, territory)
    if street is None and heard is None and not (address.postcode or address.city):
        return None, None, False
    if street is None and heard is None:
        notes.append("aucune rue reconnue")
    return address, street_span, bool(street and street.typed)


def _heard_street(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    blocked: list[tuple[int, int]],
    territory: Territory,
) -> tuple[str, str, tuple[int, int], bool] | None:
    """(house number, street words as heard, span, a number taken back before them) from the
    address region, when no street type survived the transcription: the gazetteer search
    works on these words."""
    region = locate_address(text, territory, tokens)
    if region is None or any(s < region.end and region.start < e for s, e in blocked):
        return None
    k = region.first_token
    housenumber = ""
    starting = [n for n in numbers if n.first_token == k and 1 <= n.value <= 9999]
    # Right after "au" / "le" and before the street, even "un" is the number.
    if starting and starting[0].last_token < region.last_token:
        span = starting[0]
        k = span.last_token
        housenumber = str(span.value)
        if k < region.last_token and tokens[k].folded in HOUSE_SUFFIXES:
            housenumber += f" {tokens[k].folded}"
            k += 1
    if k >= region.last_token:
        return None
    words = text[tokens[k].start : tokens[region.last_token - 1].end]
    return housenumber, words, (region.start, region.end), region.corrected


# Said after a street name, before the number it brings: hesitations, words that take back
# what was said ("non, pardon", "je veux dire") and words that introduce a number ("au",
# "c'est le", "numéro").
_TAKE_BACK = frozenset({"non", "pardon", "plutot"})
_NUMBER_LEADS = frozenset({"au", "le", "c", "est", "numero", "n", "no"})
# Words that may come between such a number and the locality (« au 12 à Trets »).
_AFTER_NUMBER = frozenset({"a", "dans", "sur", "en", "pres"})
_MAX_LEAD_TOKENS = 8


def _take_back_at(tokens: list[Token], j: int) -> int:
    """How many tokens a take-back spans from token j (« non », « pardon », « plutôt », « je
    veux dire », « excusez-moi »); 0 when none starts there. « non loin de » (near) takes
    nothing back."""
    f = tokens[j].folded
    if f in _TAKE_BACK:
        return 0 if f == "non" and j + 1 < len(tokens) and tokens[j + 1].folded == "loin" else 1
    if f in ("excusez", "excuse") and j + 1 < len(tokens) and tokens[j + 1].folded == "moi":
        # Not an apology: « excusez-moi pour le bruit », « excusez-moi de vous déranger ».
        after = tokens[j + 2].folded if j + 2 < len(tokens) else ""
        return 0 if after in ("de", "d", "pour") else 2
    if (
        f == "je"
        and j + 2 < len(tokens)
        and tokens[j + 1].folded in ("veux", "voulais")
        and tokens[j + 2].folded == "dire"
    ):
        return 3
    return 0


def _taken_back(between: list[Token]) -> bool:
    return any(_take_back_at(between, j) for j in range(len(between)))


def _sentence_break(text: str, tokens: list[Token], j: int) -> bool:
    return j > 0 and re.search(r"[.!?;:]", text[tokens[j - 1].end : tokens[j].start]) is not None


def number_after(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    k: int,
    territory: Territory,
) -> tuple[str, bool] | None:
    """(house number, said as a correction) said right after the street name that ends
    before token k: « lieu-dit Les Naps, au numéro onze », « rue Paradis, au 12 », « au dix
    traverse X, euh non, pardon, au douze », « rue Paradis, au dix, non, au douze ». A number
    with no word to introduce it (« rue Paradis, 12 ») is not read: it may be anything; nor
    one that something else than the locality follows (« le 12 dans l'après-midi », « le 12 à
    14 heures », « au 13 006 »: a date, a time, a postcode cut in two). None when no such
    number follows in the same sentence, or when the number starts something else (« au 3
    avenue Y », « deux chaises »)."""
    starts = {n.first_token: n for n in numbers}
    corrected = False
    leads: set[str] = set()
    j = k
    while j < len(tokens) and j - k < _MAX_LEAD_TOKENS:
        if _sentence_break(text, tokens, j):
            return None
        if j in starts:
            break
        taken = _take_back_at(tokens, j)
        if taken:
            corrected, j = True, j + taken
            continue
        f = tokens[j].folded
        if f in _NUMBER_LEADS:
            leads.add(f)
        elif f not in INTERJECTIONS:
            return None
        j += 1
    span = starts.get(j)
    introduced = bool(leads & {"au", "le", "numero", "n", "no"})
    if span is None or not (corrected or introduced) or not 1 <= span.value <= 9999:
        return None
    if _sentence_break(text, tokens, j):
        return None
    end = span.last_token
    housenumber = str(span.value)
    if end < len(tokens) and tokens[end].folded in HOUSE_SUFFIXES:
        housenumber += f" {tokens[end].folded}"
        end += 1
    # "au dix, non, au douze": the number taken back is not the address; what was corrected
    # is confirmed, never booked blindly (even when no other number follows).
    after = end
    while after < len(tokens) and tokens[after].folded in INTERJECTIONS:
        after += 1
    if (
        after < len(tokens)
        and not _sentence_break(text, tokens, after)
        and _take_back_at(tokens, after)
    ):
        later = number_after(text, tokens, numbers, after, territory)
        return (later[0] if later is not None else housenumber), True
    # « le » alone is also how a date begins (« le 12, ça m'irait »): a comma does not end
    # such a number, only the sentence or the locality.
    weak = leads <= {"le"} and not corrected
    # After « numéro », or a number the caller corrected to, any place said with « à » ends it.
    named = corrected or bool(leads & {"numero", "n", "no"})
    if end < len(tokens) and not _ends_number(
        text, tokens, end, starts, territory, weak=weak, named=named
    ):
        return None
    return housenumber, corrected


_ORDINAL = re.compile(r"^(?:\d+(?:e|er|eme|ieme)|\w+ieme|premier)$")
_POSTCODE_CHARS = 60
_TIME = re.compile(r"\d{1,2}\s?[hH]\s?\d{0,2}\b")


def _capitalised_at(tokens: list[Token], j: int) -> bool:
    """A proper name at token j, after its article if any (« Rones », « la Cioat »)."""
    if tokens[j].folded in ("la", "le", "les", "l") and j + 1 < len(tokens):
        j += 1
    return tokens[j].text[:1].isupper()


def _ends_number(
    text: str,
    tokens: list[Token],
    i: int,
    starts: dict[int, NumberSpan],
    territory: Territory,
    *,
    weak: bool,
    named: bool = False,
) -> bool:
    """Whether token i can follow a house number said on its own: the end of the sentence, a
    comma (unless `weak`), or the locality (« à Trets », « Marseille », « 13006 », « dans le
    4e »); not a time, a date or the rest of a postcode. After « numéro » or a correction
    (`named`), any place introduced by « à » (« au numéro sept à Rones », « euh pardon au
    quinze à la Cioat »: too short to be read as misspelled; the resolver confirms a place it
    does not know)."""
    between = text[tokens[i - 1].end : tokens[i].start]
    if re.search(r"[.!?;:]", between) or (not weak and "," in between):
        return True
    return _locality_at(text, tokens, i, starts, territory) or (
        tokens[i].folded in _AFTER_NUMBER
        and i + 1 < len(tokens)
        and (
            _locality_at(text, tokens, i + 1, starts, territory)
            # « au vingt à Prtuis »: a commune the transcription misspelled, introduced as one
            # (the address found there is confirmed, never booked: domain.trust's `misheard`).
            or territory.misheard_commune_after(text, tokens, i) is not None
            or (named and tokens[i].text.lower() == "à" and _capitalised_at(tokens, i + 1))
            or (
                tokens[i].folded == "dans"
                and tokens[i + 1].folded == "le"
                and i + 2 < len(tokens)
                and _ORDINAL.match(tokens[i + 2].folded) is not None
            )
        )
    )


def _locality_at(
    text: str, tokens: list[Token], i: int, starts: dict[int, NumberSpan], territory: Territory
) -> bool:
    """A commune of the territory or one of its postcodes named from token i: a postcode may
    be said in groups (« treize zéro treize », « treize cinq cents »)."""
    if i not in starts:
        return territory.find_commune(tokens, i) is not None
    # The longest postcode said in words (« treize mille quatre cent quatre-vingt-dix ») fits.
    window = text[tokens[i].start : tokens[i].start + _POSTCODE_CHARS]
    if _TIME.match(window):
        return False  # « le 12 à 13h05 »: a time, though a transcript's postcode may look so
    said = find_postcodes(window, in_address=True, districts=territory.districts)
    return bool(said) and said[0].start == 0 and territory.in_territory(said[0].postcode)
