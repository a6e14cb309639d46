"""The address of a message: the best street (typed, untyped, or the words of the address
region when no street type survived the transcription), its house number and its locality."""

from __future__ import annotations

import re

from domain.models import SpokenAddress
from domain.numbers import HOUSE_SUFFIXES, NumberSpan, PhoneSpan, Token
from domain.understanding.locality import (
    Locality,
    fill_locality,
    locality,
    locality_after,
    sentence_bounds,
)
from domain.understanding.region import locate_address
from domain.understanding.streets import Street, find_streets, street_text, untyped_street
from domain.understanding.territory import Territory


def _best_street(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    blocked: list[tuple[int, int]],
    notes: list[str],
    territory: Territory,
) -> Street | None:
    streets = find_streets(text, tokens, numbers, blocked, territory)
    street = max(streets, key=lambda s: s.score) if streets else None
    if street is None:
        street = untyped_street(text, tokens, numbers, blocked, territory)
        if street is not None:
            notes.append("adresse sans type de voie (rue, avenue...) : à vérifier")
    if street is not None and street.guessed_type:
        notes.append(f"type de voie deviné : « {tokens[street.type_token].text} »")
    return street


def _fill_street(
    address: SpokenAddress,
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    street: Street,
    notes: list[str],
    territory: Territory,
) -> tuple[tuple[int, int], Locality]:
    """The street and its number into `address`; (its character span, the locality said with
    it)."""
    address.street = street_text(text, tokens, street, territory)
    first = street.number.start if street.number else tokens[street.type_token].start
    street_span = (first, tokens[street.name_end - 1].end)
    if street.number is not None:
        address.housenumber = str(street.number.value) + (
            f" {street.suffix}" if street.suffix else ""
        )
    else:
        notes.append("numéro de rue non entendu")
    # The locality follows the street in the same sentence, or in the next one
    # ("... Rue Julia. Treize mille cinq Marseille.").
    found = locality_after(text, tokens, street_span[1], numbers, territory)
    # Or precedes it: "J'habite à Aubagne, au 3 rue ...".
    if not any(found):
        start, _ = sentence_bounds(text, street_span[0])
        found = locality(text, tokens, start, street_span[0], numbers, territory)
    return street_span, found


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
    address_numbers = [n for n in numbers if not any(p.start <= n.start < p.end for p in phones)]
    street = _best_street(text, tokens, address_numbers, blocked, notes, territory)

    address = SpokenAddress()
    street_span: tuple[int, int] | None = None
    if street is not None:
        street_span, found = _fill_street(address, text, tokens, numbers, street, notes, territory)
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
        address.housenumber, address.street, street_span = heard
        notes.append(
            f"rue mal transcrite (« {address.street} ») : recherchée dans la base d'adresses"
        )
        found = locality_after(text, tokens, street_span[1], numbers, territory)
        if not address.housenumber:
            notes.append("numéro de rue non entendu")

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
) -> tuple[str, str, tuple[int, int]] | None:
    """(house number, street words as heard, span) from the address region, when no street
    type survived the transcription: the gazetteer search works on these words."""
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
    return housenumber, words, (region.start, region.end)
