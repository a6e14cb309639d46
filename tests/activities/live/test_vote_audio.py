"""Which audio the address vote of a call may use (activities/live/vote_audio.py)."""

from __future__ import annotations

from activities.live.vote_audio import VoteAudio
from domain.dialogue import Expect, Lookup, LookupKind
from domain.models import SpokenAddress


def lookup(postcode: str = "", city: str = "") -> Lookup:
    return Lookup(
        LookupKind.ADDRESS, address=SpokenAddress(street="rue julia", postcode=postcode, city=city)
    )


def test_an_address_answer_is_voted_on_once_for_the_whole_territory() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Expect.ADDRESS)
    assert audio.for_address(lookup()) == b"address"
    audio.voted(lookup())
    assert audio.for_address(lookup()) == b""


def test_a_typed_postcode_gets_a_vote_of_its_own_then_no_more() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Expect.ADDRESS)
    audio.voted(lookup())
    # The candidates of that postcode are others: the same words vote among them.
    assert audio.for_address(lookup("13005")) == b"address"
    audio.voted(lookup("13005"))
    assert audio.for_address(lookup("13005")) == b""
    # A lookup of the whole territory after a place was voted on is no new place either.
    assert audio.for_address(lookup()) == b""
    # Another postcode typed is.
    assert audio.for_address(lookup("13006")) == b"address"


def test_a_commune_named_is_a_place_too() -> None:
    audio = VoteAudio()
    audio.heard(b"address", Expect.ADDRESS)
    audio.voted(lookup(city="Aubagne"))
    assert audio.for_address(lookup(city="Aubagne")) == b""
    assert audio.for_address(lookup(city="Cassis")) == b"address"


def test_a_new_answer_starts_over() -> None:
    audio = VoteAudio()
    audio.heard(b"first", Expect.ADDRESS)
    audio.voted(lookup())
    audio.heard(b"number", Expect.DIGITS)  # « onze », said at the number question
    assert audio.for_address(lookup()) == b"number"


def test_only_the_audio_of_an_address_or_a_number_is_voted_on() -> None:
    audio = VoteAudio()
    audio.heard(b"non", Expect.YES_NO)
    assert audio.for_address(lookup()) == b""
    audio.heard(b"un frigo", Expect.SPEECH)
    assert audio.for_address(lookup()) == b""
    # and it is gone for good: an items vote after it gets nothing either.
    assert audio.take() == b""


def test_the_items_vote_takes_its_answer_once_and_spelling_drops_it() -> None:
    audio = VoteAudio()
    audio.heard(b"un frigo", Expect.SPEECH)
    assert audio.take() == b"un frigo"
    assert audio.take() == b""
    audio.heard(b"address", Expect.ADDRESS)
    audio.drop()
    assert audio.for_address(lookup("13005")) == b""
