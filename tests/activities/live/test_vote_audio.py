"""Which audio the address vote of a call may use (activities/live/vote_audio.py)."""

from __future__ import annotations

from activities.live.vote_audio import VoteAudio
from domain.dialogue import Lookup, LookupKind
from domain.live_call_models import Phase
from domain.models import SpokenAddress


def lookup(postcode: str = "", typed: bool = False, number: str = "") -> Lookup:
    address = SpokenAddress(housenumber=number, street="rue julia", postcode=postcode)
    return Lookup(LookupKind.ADDRESS, address=address, typed_place=postcode if typed else "")


def test_an_address_answer_is_voted_on_once() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Phase.ASK_ADDRESS)
    assert audio.for_address(lookup()) == b"address"
    audio.voted(lookup())
    assert audio.for_address(lookup()) == b""
    # A postcode the dialogue took from the gazetteer (a street named, its number typed) is
    # no new place: the audio would outvote the keys.
    assert audio.for_address(lookup("13005", number="12")) == b""


def test_a_typed_postcode_gets_a_vote_of_its_own_then_no_more() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Phase.GREETING)  # spoken over the greeting: the address
    audio.voted(lookup())
    # The candidates of that postcode are others: the same words vote among them.
    assert audio.for_address(lookup("13005", typed=True)) == b"address"
    audio.voted(lookup("13005", typed=True))
    assert audio.for_address(lookup("13005", typed=True)) == b""
    assert audio.for_address(lookup("13005", number="11")) == b""
    # Another postcode typed is another place.
    assert audio.for_address(lookup("13006", typed=True)) == b"address"


def test_a_new_answer_starts_over() -> None:
    audio = VoteAudio()
    audio.heard(b"first", Phase.ASK_ADDRESS)
    audio.voted(lookup())
    audio.heard(b"street", Phase.ASK_STREET)  # the street alone, asked for
    assert audio.for_address(lookup()) == b"street"


def test_only_the_audio_of_an_address_or_a_street_is_voted_on() -> None:
    audio = VoteAudio()
    for phase in (Phase.CONFIRM, Phase.ASK_NUMBER, Phase.ASK_PHONE, Phase.ASK_POSTCODE):
        audio.heard(b"words", phase)  # « non », « onze », a number dictated
        assert audio.for_address(lookup()) == b""
    audio.heard(b"un frigo", Phase.ASK_ITEMS)
    assert audio.for_address(lookup()) == b""
    # and it is gone for good: an items vote after it gets nothing either.
    assert audio.take() == b""


def test_the_items_vote_takes_its_answer_once_and_spelling_drops_it() -> None:
    audio = VoteAudio()
    audio.heard(b"un frigo", Phase.ASK_ITEMS)
    assert audio.take() == b"un frigo"
    assert audio.take() == b""
    audio.heard(b"address", Phase.ASK_ADDRESS)
    audio.drop()
    assert audio.for_address(lookup("13005", typed=True)) == b""
