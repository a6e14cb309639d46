"""What the caller said, turn after turn, merged into one understanding."""

from __future__ import annotations

from dataclasses import replace

from domain.decision import Decision, DecisionKind, decide_address
from domain.dialogue.prompts import field_value
from domain.keypad import Field
from domain.models import AddressMatch, GeocodeResult, ItemCount, SpokenAddress, Understanding


def merge_understanding(current: Understanding, u: Understanding, *, address: bool = True) -> None:
    """Add what one turn understood (`u`) to what the call understood so far (`current`)."""
    if address and u.address is not None and not u.address.is_empty():
        current.address = u.address
    if u.items:
        current.items = merge_items(current.items, u.items)
    if u.refused_items:
        current.refused_items = merge_items(current.refused_items, u.refused_items)
        current.refusal_advice = u.refusal_advice or current.refusal_advice
    if u.caller_name and not current.caller_name:
        current.caller_name = u.caller_name
    if u.callback_number:
        current.callback_number = u.callback_number
    current.notes.extend(n for n in u.notes if n not in current.notes)


def merge_items(old: list[ItemCount], new: list[ItemCount]) -> list[ItemCount]:
    """Items said in a later turn add to those said before; an item said again keeps its
    latest count (a correction, not a second one)."""
    merged = {i.item: i.count for i in old}
    for i in new:
        merged[i.item] = i.count
    return [ItemCount(item, count) for item, count in merged.items()]


def spoken_from(match: AddressMatch) -> SpokenAddress:
    """The address as read back, to correct one field of."""
    return SpokenAddress(
        housenumber=match.housenumber,
        street=match.street,
        postcode=match.postcode,
        citycode=match.citycode,
        city=match.city,
    )


def with_street(old: SpokenAddress, heard: SpokenAddress) -> SpokenAddress:
    """The address with the street said (or spelled) on its own, and whatever came with it."""
    return replace(
        old,
        street=heard.street,
        # A typed number cannot be misheard: it stands over a number heard with the street.
        housenumber=old.housenumber or heard.housenumber,
        postcode=heard.postcode or old.postcode,
        citycode=heard.citycode or old.citycode,
        city=heard.city or old.city,
    )


def _decision(geo: GeocodeResult, book_threshold: float, confirm_threshold: float) -> Decision:
    """The voicemail's decision (domain/decision.py), with the thresholds the lookup carries
    (the deployment's) over the dialogue's."""
    return decide_address(
        geo,
        book_threshold=geo.book_threshold or book_threshold,
        confirm_threshold=geo.confirm_threshold or confirm_threshold,
    )


def accepted_match(
    geo: GeocodeResult, book_threshold: float, confirm_threshold: float
) -> AddressMatch | None:
    """The address to read back, by the voicemail's rule (domain/decision.py); None when the
    gazetteer gave none likely enough."""
    decision = _decision(geo, book_threshold, confirm_threshold)
    if decision.kind == DecisionKind.BOOK:
        return decision.match
    if decision.kind == DecisionKind.CONFIRM_BY_SMS and decision.candidates:
        # The most likely address; the read-back asks the caller, as the SMS would.
        return decision.candidates[0]
    return None


def vote_wanted(geo: GeocodeResult, book_threshold: float, confirm_threshold: float) -> bool:
    """Whether the audio should vote among the candidates before `geo` is used: unless the
    words alone give an address the voicemail would book. A voicemail's address always gets
    the vote; on a call, a read-back of the words' weak best guess (« 11 avenue de Hambourg »
    at 0.22 for « onze rue des Saints-Anges ») costs the caller a « non » and the field checks
    when the audio would have named the street."""
    decision = _decision(geo, book_threshold, confirm_threshold)
    return decision.kind != DecisionKind.BOOK


def still_confirmed(confirmed: list[str], old: AddressMatch | None, new: AddressMatch) -> list[str]:
    """Of the fields the caller said yes to, those a newly found address did not change."""
    return [
        f
        for f in confirmed
        if old is not None and field_value(old, Field(f)) == field_value(new, Field(f))
    ]
