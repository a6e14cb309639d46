"""Which audio the address vote of a call may use (activities/live/vote_audio.py)."""

from __future__ import annotations

from activities.live.vote_audio import VoteAudio
from domain.dialogue import Lookup, LookupKind
from domain.live_call_models import Phase
from domain.models import SpokenAddress


def said(postcode: str = "") -> Lookup:
    """A lookup of the address as the caller said it."""
    address = SpokenAddress(street="rue julia", postcode=postcode)
    return Lookup(LookupKind.ADDRESS, address=address, spoken=True)


def typed(postcode: str) -> Lookup:
    """A lookup after the caller typed the postcode."""
    address = SpokenAddress(street="rue julia", postcode=postcode)
    return Lookup(LookupKind.ADDRESS, address=address, typed_place=postcode)


def made_up(number: str, postcode: str = "13005") -> Lookup:
    """A number typed into the street the dialogue named."""
    address = SpokenAddress(housenumber=number, street="Rue Julia", postcode=postcode)
    return Lookup(LookupKind.ADDRESS, address=address)


def test_an_address_said_is_voted_on_once() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Phase.ASK_ADDRESS)
    assert audio.for_address(said()) == b"address"
    audio.voted(said())
    assert audio.for_address(said()) == b""


def test_a_number_typed_into_a_street_the_dialogue_named_is_never_outvoted() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Phase.ASK_ADDRESS)
    assert audio.for_address(made_up("12")) == b""
    audio.voted(said())
    assert audio.for_address(made_up("12")) == b""


def test_a_typed_postcode_gets_a_vote_of_its_own_then_no_more() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Phase.GREETING)  # spoken over the greeting: the address
    audio.voted(said())
    # The candidates of that postcode are others: the same words vote among them.
    assert audio.for_address(typed("13005")) == b"address"
    audio.voted(typed("13005"))
    assert audio.for_address(typed("13005")) == b""
    # Another postcode typed is another place.
    assert audio.for_address(typed("13006")) == b"address"


def test_the_address_audio_outlives_the_answers_after_it() -> None:
    """The read-back refused after the items: the postcode typed then votes on the address
    as said, not on the items, a « non » or a number dictated."""
    audio = VoteAudio()
    audio.heard(b"address", Phase.ASK_ADDRESS)
    audio.voted(said())
    for phase in (Phase.ASK_ITEMS, Phase.ASK_PHONE, Phase.CONFIRM, Phase.ASK_NUMBER):
        audio.heard(b"other words", phase)
    assert audio.for_address(typed("13005")) == b"address"


def test_a_new_address_answer_starts_over() -> None:
    audio = VoteAudio()
    audio.heard(b"first", Phase.ASK_ADDRESS)
    audio.voted(said())
    audio.heard(b"street", Phase.ASK_STREET)  # the street alone, asked for
    assert audio.for_address(said()) == b"street"


def test_the_items_vote_takes_the_last_answer_once_and_spelling_drops_the_address() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Phase.ASK_ADDRESS)
    audio.heard(b"un frigo", Phase.ASK_ITEMS)
    assert audio.take() == b"un frigo"
    assert audio.take() == b""
    audio.drop()
    assert audio.for_address(typed("13005")) == b""
