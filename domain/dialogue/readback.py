"""The read-back's fields and the address half found, pure: which field is read back next,
what the caller's keys settle, and which street found without its number is worth asking the
number of, or keeping for the postcode the caller types."""

from __future__ import annotations

from dataclasses import replace

from domain.geotext import fold
from domain.keypad import Field, next_field
from domain.live_call_models import LiveCallProgress, Phase
from domain.models import (
    AddressMatch,
    EscalationReason,
    GeocodeResult,
    GeocodeStatus,
    SpokenAddress,
)

CHECK_PHASES = {
    Field.NUMBER: Phase.CHECK_NUMBER,
    Field.STREET: Phase.CHECK_STREET,
    Field.CITY: Phase.CHECK_CITY,
}
CHECKED_FIELDS = {phase: f for f, phase in CHECK_PHASES.items()}

# A street the lookup put this far ahead of the others (its probability among the candidates)
# is kept for the typed postcode to confirm; below it, the words named no street clearly.
HEARD_STREET_P = 0.9
# A street found without its number is named to the caller, who is asked the number, when it
# has at least half the probability of the candidates ("Avenue d'Haïfa" at 0.67); a weaker
# one would replace the street the caller said with the gazetteer's guess.
NUMBER_STREET_P = 0.5
# The statuses whose candidates are streets only, each with its probability among them.
_STREETS_ONLY = (GeocodeStatus.NOT_FOUND, GeocodeStatus.NUMBER_NOT_FOUND)


def unchecked_after(
    progress: LiveCallProgress, checked: Field | None, typed_number: str = ""
) -> Field | None:
    """The next field after `checked` (None: from the first) the caller has not said is
    right; a match without a house number has none to check, and a number the caller typed
    (`typed_number`, the match's) is checked last: typed, it is the least likely wrong."""
    match = progress.match
    typed = match is not None and bool(typed_number) and match.housenumber == typed_number
    following = next_field(checked)
    while following is not None and (
        following.value in progress.confirmed
        or (following == Field.NUMBER and (typed or (match is not None and not match.housenumber)))
    ):
        following = next_field(following)
    if following is None and typed and Field.NUMBER.value not in progress.confirmed:
        # Everything else is right: the number typed is read back before the items are
        # blamed (a key pressed wrong).
        return Field.NUMBER if checked != Field.NUMBER else None
    return following


def street_to_number(
    geo: GeocodeResult,
    said: SpokenAddress | None,
    *,
    fixed: bool = False,
    place_typed: bool = False,
) -> AddressMatch | None:
    """The street found without the number heard ("dos" for "douze"), or with none heard,
    or with a number too doubtful to read back, whose number to ask on the keypad (or to
    look up with the number typed): the street likely (`likely_street`), never of another
    place than the one the caller gave (postcode, or commune), and, once the street is
    `fixed` (said right, or spelled), only that street. A street no number was matched to
    (NOT_FOUND) only in a postcode the caller typed (`place_typed`): a place heard in the
    same words already ranked the streets, it is no second piece of evidence; the street of
    a weak match only in a place the caller gave."""
    street = likely_street(geo)
    if street is None:
        return None
    if geo.status == GeocodeStatus.NOT_FOUND and not (place_typed and said and said.postcode):
        return None
    if geo.status == GeocodeStatus.MATCHED and not (said and (said.postcode or said.citycode)):
        # A match too weak to read back names its street only in the place the caller
        # gave (a postcode, or a commune's code: « Marseille » alone is most of the
        # territory): else a vote on words that hold no street (« j'habite au dur ») would
        # name one of the whole territory.
        return None
    if said is not None:
        if said.postcode and said.postcode != street.postcode:
            return None
        if not said.postcode and said.citycode and said.citycode != street.citycode:
            return None
        if (
            not said.postcode
            and not said.citycode
            and said.city
            and fold(said.city) != fold(street.city)
        ):
            return None
        if fixed and fold(said.street) != fold(street.street):
            return None
    return street


# What the caller said that a match contradicts: never a street to name.
_CONTRADICTED = (EscalationReason.ADDRESS_CONFLICT, EscalationReason.STREET_DIFFERS)


def likely_street(geo: GeocodeResult) -> AddressMatch | None:
    """The street of a result with no address to read back, when the street itself is
    likely and only its number is in doubt: the number not in the street (at least
    NUMBER_STREET_P among the streets), no number matched to a street the audio put far
    ahead (HEARD_STREET_P: "none of these" was close), or a match too weak to read back
    (« 60 avenue du Prado » at 0.14: the resolver says MATCHED only for a street of at least
    half the streets' probability, AMBIGUOUS below; the number is the doubt). Never a street
    the caller's own words contradict (a conflict goes to the checks or a person)."""
    if geo.doubt in _CONTRADICTED:
        return None
    if geo.status in _STREETS_ONLY:
        top = geo.candidates[0] if geo.candidates else None
        least = NUMBER_STREET_P if geo.status == GeocodeStatus.NUMBER_NOT_FOUND else HEARD_STREET_P
        return top if top is not None and top.street and top.score >= least else None
    if geo.status == GeocodeStatus.MATCHED and geo.match is not None and geo.match.street:
        return geo.match
    return None


def clear_street(geo: GeocodeResult) -> AddressMatch | None:
    """The street a lookup found nothing with put far ahead of the others ("Rue Julia" chosen
    by the audio for "rejoulier", which sounded closer to no street), None when none stood
    clear. A guess all the same: it is only kept for the typed postcode to agree with, and
    the read-back asks the caller before anything is booked."""
    if geo.status not in _STREETS_ONLY or not geo.candidates:
        return None
    top = geo.candidates[0]
    return top if top.street and top.score >= HEARD_STREET_P else None


def in_street(said: SpokenAddress, street: AddressMatch, housenumber: str) -> SpokenAddress:
    """What the caller said, in the gazetteer's `street`: in the caller's place, or in the
    street's own when the caller named none (the same name elsewhere is another street)."""
    place = said.postcode or said.citycode or said.city
    return replace(
        said,
        street=street.street,
        housenumber=housenumber,
        postcode=said.postcode if place else street.postcode,
        citycode=said.citycode if place else street.citycode,
        city=said.city if place else street.city,
    )
