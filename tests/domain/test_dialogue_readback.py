"""The live-call dialogue when the address is half right: a street found without the number
heard asks for the number on the keypad; a street the audio chose is kept when the typed
postcode agrees; after a refused read-back the fields not yet said right are read back one by
one (a typed number last), and a "non" after a correction goes on with those never checked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from activities.understand import load_catalogue
from domain.catalogue import Catalogue
from domain.dialogue import Dialogue, Expect, LookupKind, Step
from domain.dialogue.readback import street_to_number, unchecked_after
from domain.keypad import Field
from domain.live_call_models import LiveCallProgress, Outcome, Phase
from domain.models import GeocodeResult, GeocodeStatus, SpokenAddress
from domain.understanding import Territory
from tests.domain.test_dialogue import MATCH, confirm_step, dialogue
from tests.domain.test_dialogue_transfer import said

JULIA = replace(MATCH, housenumber="", street="Rue Julia", score=0.99)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def number_not_found(*streets: object) -> GeocodeResult:
    return GeocodeResult(GeocodeStatus.NUMBER_NOT_FOUND, candidates=list(streets))  # type: ignore[arg-type]


def corrected(d: Dialogue, number: str = "14", said: str = "") -> Step:
    """Drive `d` to the whole read-back of an address whose number the caller said was wrong
    and typed again (or `said`), found: that read-back's step."""
    confirm_step(d)
    d.on_dtmf("2")  # the read-back is wrong
    d.on_dtmf("2")  # the number is wrong
    assert d.phase == Phase.ASK_NUMBER
    d.on_utterance(said) if said else d.on_dtmf(f"{number}#")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=replace(MATCH, housenumber=number)))
    return d.on_slot("2026-12-01")


def test_street_without_its_number_asks_the_number_on_the_keypad(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue Julia, treize mille cinq Marseille")
    step = d.on_address(number_not_found(JULIA))
    assert d.phase == Phase.ASK_NUMBER and step.expect == Expect.DIGITS
    assert [p.template for p in step.say] == ["number_not_found"]
    assert step.say[0].context == {"street": "Rue Julia"} and not step.say[0].static
    assert said(step.say[0]).startswith("Je trouve la voie : Rue Julia, mais pas votre numéro.")
    step = d.on_dtmf("11#")
    assert step.lookup is not None and step.lookup.kind == LookupKind.ADDRESS
    assert step.lookup.address is not None
    asked = step.lookup.address
    assert (asked.housenumber, asked.street, asked.postcode) == ("11", "Rue Julia", "13005")
    found = replace(MATCH, housenumber="11", street="Rue Julia")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=found))
    d.on_utterance("un matelas")
    step = d.on_slot("2026-12-01")
    # Read back before anything is booked: the street was the gazetteer's.
    assert d.phase == Phase.CONFIRM and "Rue Julia" in step.say[0].context["address_label"]
    step = d.on_dtmf("1")
    assert step.hang_up and d.progress.outcome == Outcome.CONFIRMED
    assert d.progress.match == found


def test_the_number_is_asked_once_then_the_postcode(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue Julia, treize mille cinq Marseille")
    d.on_address(number_not_found(JULIA))
    d.on_dtmf("11#")
    step = d.on_address(number_not_found(JULIA))  # the typed number is not there either
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5


def test_a_number_typed_at_the_address_question_is_not_asked_again(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_dtmf("11#")
    d.on_utterance("rue Julia")
    d.on_dtmf("13005")
    d.on_address(number_not_found(JULIA))
    assert d.phase == Phase.SPELL_STREET


def test_a_street_of_another_postcode_than_the_one_said_is_not_offered(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue Julia, treize mille seize Marseille")
    step = d.on_address(number_not_found(JULIA))  # Rue Julia is in 13005
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5


def test_the_street_the_audio_chose_is_kept_when_the_typed_postcode_agrees(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au rejoulier, dix minutes")
    step = d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND, candidates=[JULIA]))
    assert d.phase == Phase.ASK_POSTCODE
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.street == "Rue Julia"
    assert step.lookup.address.postcode == "13005"


@pytest.mark.parametrize(
    ("street", "typed"),
    [(JULIA, "13008"), (replace(JULIA, score=0.6), "13005")],
    ids=["another postcode", "not clear of the others"],
)
def test_the_street_the_audio_chose_is_dropped_otherwise(
    catalogue: Catalogue, territory: Territory, street: object, typed: str
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au rejoulier, dix minutes")
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND, candidates=[street]))  # type: ignore[list-item]
    step = d.on_dtmf(typed)
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.street != "Rue Julia"


def test_a_second_no_after_a_typed_number_checks_the_street_not_the_number(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    step = corrected(d)
    assert d.phase == Phase.CONFIRM and "14" in step.say[0].context["address_label"]
    assert "number" not in d.progress.confirmed  # typed, but never said right
    # Still wrong: not a transfer while a field was never checked, and not the typed number
    # first.
    step = d.on_dtmf("2")
    assert d.phase == Phase.CHECK_STREET and step.say[0].context["street"] == "Boulevard Chave"
    d.on_dtmf("2")
    assert d.phase == Phase.SPELL_STREET


def test_a_corrected_address_is_read_back_whole_once(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    corrected(d)
    step = d.on_utterance("oui")
    assert step.hang_up and d.progress.outcome == Outcome.CONFIRMED


def test_a_third_no_transfers(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    corrected(d)
    d.on_dtmf("2")  # second "non": the street and the commune are checked, both right
    d.on_dtmf("1")
    step = d.on_dtmf("1")
    # Then the typed number (a key pressed wrong?) before the items are blamed.
    assert d.phase == Phase.CHECK_NUMBER and step.say[0].context["housenumber"] == "14"
    step = d.on_dtmf("1")
    assert d.phase == Phase.ASK_ITEMS and [p.template for p in step.say] == ["ask_items"]
    d.on_utterance("deux chaises")
    d.on_slot("2026-12-01")
    step = d.on_dtmf("2")
    assert step.hang_up and d.progress.transfer_reason == "two_failures"


def test_a_third_no_with_fields_never_checked_says_so_to_the_agent(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    corrected(d)
    d.on_dtmf("2")  # second "non": the street is checked
    d.on_dtmf("1")  # right
    step = d.on_utterance("c'est pas grave")  # neither yes nor no: asked again
    assert d.phase == Phase.CHECK_CITY
    d.on_dtmf("2")  # the commune is wrong
    d.on_dtmf("13004")
    d.on_address(
        GeocodeResult(
            GeocodeStatus.MATCHED, match=replace(MATCH, housenumber="14", postcode="13004")
        )
    )
    d.on_slot("2026-12-01")
    step = d.on_dtmf("2")  # third "non"
    assert step.hang_up and d.progress.transfer_reason == "two_failures"
    # The commune and the typed number were never said right: the caller is not told the
    # agent has the address, and nothing the caller did not contest is marked contested.
    assert step.say[-1].template == "transfer" and step.say[-1].context["address_label"] == ""
    assert d.progress.refused == []


def test_a_transfer_during_the_checks_does_not_claim_the_address(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")  # the read-back is wrong
    step = d.on_dtmf("0")  # a person, please, before any field is checked
    assert step.hang_up and d.progress.transfer_reason == "caller_asked"
    assert step.say[-1].context["address_label"] == ""
    assert step.say[-1].context["items_label"] == "1 canapé"


def test_a_transfer_before_any_no_names_the_address(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    step = d.on_dtmf("0")
    assert step.say[-1].context["address_label"] == "12 Boulevard Chave, 13005 Marseille"


def test_a_wrong_typed_number_is_read_back_last_and_typed_again(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    corrected(d, "41")  # a key pressed wrong
    d.on_dtmf("2")
    d.on_dtmf("1")  # street
    d.on_dtmf("1")  # commune
    step = d.on_dtmf("2")  # the typed number, read back last, is wrong
    assert d.phase == Phase.ASK_NUMBER and step.expect == Expect.DIGITS
    assert d.progress.understanding is not None and d.progress.understanding.items


def test_a_weak_street_is_not_named_the_postcode_is_asked(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue julien")
    step = d.on_address(number_not_found(replace(JULIA, score=0.2)))
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5


def test_no_to_the_street_named_brings_the_words_back(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue julien")
    d.on_address(number_not_found(JULIA))
    assert d.phase == Phase.ASK_NUMBER
    u = d.progress.understanding
    assert u is not None and u.address is not None and u.address.street == "Rue Julia"
    assert u.address.postcode == "13005"  # the street's own place: the caller named none
    step = d.on_utterance("non, c'est pas cette rue")
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5
    words = d.progress.understanding.address  # type: ignore[union-attr]
    assert words is not None and words.street.casefold() == "rue julien"
    assert (words.housenumber, words.postcode) == ("10", "")
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.street.casefold() == "rue julien"


def test_a_spoken_number_still_lets_the_keypad_be_asked(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")
    d.on_dtmf("2")  # the number is wrong
    step = d.on_utterance("seize")
    assert step.lookup is not None
    street = replace(MATCH, housenumber="", score=0.95)
    step = d.on_address(number_not_found(street))  # "seize" misheard again, or not there
    assert d.phase == Phase.ASK_NUMBER and step.say[0].template == "number_not_found"


def test_a_number_said_with_a_no_is_taken_the_street_kept(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue Julia, treize mille cinq Marseille")
    d.on_address(number_not_found(JULIA))
    step = d.on_utterance("non, c'est le onze")
    assert step.lookup is not None and step.lookup.address is not None
    assert (step.lookup.address.housenumber, step.lookup.address.street) == ("11", "Rue Julia")


def test_a_typed_number_not_found_either_goes_on_with_the_words(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue julien")
    d.on_address(number_not_found(JULIA))
    d.on_dtmf("11#")
    step = d.on_address(number_not_found(JULIA))  # no 11 in Rue Julia either
    assert d.phase == Phase.ASK_POSTCODE
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    heard = step.lookup.address
    # The caller's street, with the number they typed: not the street the gazetteer named.
    assert (heard.housenumber, heard.street.casefold()) == ("11", "rue julien")


def test_a_spelled_street_is_not_replaced_by_the_audio_s_street(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")
    d.on_dtmf("1")  # number right
    d.on_dtmf("2")  # street wrong: spelled
    assert d.phase == Phase.SPELL_STREET
    step = d.on_utterance("C, H, A, P, E")
    step = d.on_spelled("Rue Chape")
    assert step.lookup is not None and step.lookup.address is not None
    # Not found there, another street far ahead of the others: kept for no postcode.
    step = d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND, candidates=[JULIA]))
    assert d.phase == Phase.ASK_POSTCODE
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.street == "Rue Chape"


@pytest.mark.parametrize(("said", "first"), [("keys", "street"), ("voice", "number")])
def test_only_a_typed_number_is_checked_last(
    catalogue: Catalogue, territory: Territory, said: str, first: str
) -> None:
    d = dialogue(catalogue, territory)
    corrected(d, said="" if said == "keys" else "quatorze")
    d.on_dtmf("2")
    assert d.phase == (Phase.CHECK_STREET if first == "street" else Phase.CHECK_NUMBER)


@pytest.mark.parametrize(
    ("confirmed", "checked", "typed", "housenumber", "expected"),
    [
        ([], None, "", "12", Field.NUMBER),
        ([], None, "12", "12", Field.STREET),  # typed: last
        (["street", "city"], None, "12", "12", Field.NUMBER),  # last, but before the items
        (["street", "city"], Field.CITY, "12", "12", Field.NUMBER),
        (["street", "city", "number"], Field.NUMBER, "12", "12", None),
        ([], Field.NUMBER, "12", "12", Field.STREET),
        (["street"], None, "", "", Field.CITY),  # no number to check
        ([], None, "12", "14", Field.NUMBER),  # typed another number: this one was heard
        (["number", "street", "city"], None, "", "12", None),
    ],
)
def test_unchecked_after(
    confirmed: list[str],
    checked: Field | None,
    typed: str,
    housenumber: str,
    expected: Field | None,
) -> None:
    progress = LiveCallProgress(match=replace(MATCH, housenumber=housenumber), confirmed=confirmed)
    assert unchecked_after(progress, checked, typed) == expected


@pytest.mark.parametrize(
    ("said", "fixed", "named"),
    [
        (SpokenAddress(street="rejoulier"), False, True),
        (SpokenAddress(street="rejoulier", postcode="13005"), False, True),
        (SpokenAddress(street="rejoulier", postcode="13016"), False, False),
        (SpokenAddress(street="rejoulier", citycode="13255", city="Marseille 16e"), False, False),
        (SpokenAddress(street="rejoulier", city="Aubagne"), False, False),
        (SpokenAddress(street="rejoulier", city="Marseille"), False, True),
        (SpokenAddress(street="Rue Chape", postcode="13005"), True, False),  # spelled
        (SpokenAddress(street="rue julia", postcode="13005"), True, True),
    ],
)
def test_street_to_number_respects_what_the_caller_said(
    said: SpokenAddress, fixed: bool, named: bool
) -> None:
    found = street_to_number(number_not_found(JULIA), said, fixed=fixed)
    assert (found == JULIA) is named
    assert street_to_number(number_not_found(replace(JULIA, score=0.4)), said) is None


PRADO = replace(MATCH, housenumber="60", street="Avenue du Prado", postcode="13008", score=0.14)


def weak_match(best: object, *others: object) -> GeocodeResult:
    return GeocodeResult(GeocodeStatus.MATCHED, match=best, candidates=[best, *others])  # type: ignore[list-item]


def test_a_match_too_weak_to_read_back_in_a_likely_street_asks_its_number(
    catalogue: Catalogue, territory: Territory
) -> None:
    """« 60 avenue du Prado » at 0.14 for « 40 »: the number is the doubt, not the street (the
    other streets, scored with the same number, near 0): the street is named and the number
    typed."""
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au casant avenue du Prado, treize mille huit")
    others = [replace(PRADO, housenumber=n, score=0.06) for n in ("50", "40")]
    others.append(replace(PRADO, street="Rue Paradis", score=0.01))
    step = d.on_address(weak_match(PRADO, *others))
    assert d.phase == Phase.ASK_NUMBER
    assert step.say[0].context == {"street": "Avenue du Prado"}
    step = d.on_dtmf("40#")
    assert step.lookup is not None and step.lookup.address is not None
    assert (step.lookup.address.housenumber, step.lookup.address.street) == (
        "40",
        "Avenue du Prado",
    )


@pytest.mark.parametrize(
    "geo",
    [
        # The street itself is a guess among others (the resolver's AMBIGUOUS: under half
        # the streets' probability).
        replace(
            weak_match(PRADO, replace(PRADO, street="Rue Paradis", score=0.12)),
            status=GeocodeStatus.AMBIGUOUS,
        ),
        # The caller's own words contradict it.
        replace(
            weak_match(PRADO, *[replace(PRADO, housenumber="40", score=0.5)]),
            doubt="address_conflict",
        ),
        # « chemin Augustin Roubion » said, « Rue Augustin Roux » found.
        replace(weak_match(PRADO), doubt="street_differs"),
    ],
    ids=["street unlikely", "conflict", "another street said"],
)
def test_no_number_is_asked_in_a_doubtful_street(
    catalogue: Catalogue, territory: Territory, geo: GeocodeResult
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au casant avenue du Prado")
    d.on_address(geo)
    assert d.phase == Phase.ASK_POSTCODE


def test_a_typed_number_is_looked_up_once_in_the_street_the_audio_chose_in_the_typed_place(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_dtmf("11#")
    d.on_utterance("je suis au rejoulier, dix minutes")
    d.on_dtmf("13005")
    # The vote among the streets of 13005 names Rue Julia, no number matched to it.
    step = d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND, candidates=[JULIA]))
    assert step.lookup is not None and step.lookup.address is not None
    assert (step.lookup.address.housenumber, step.lookup.address.street) == ("11", "Rue Julia")
    assert step.lookup.address.postcode == "13005"
    # Not found there either: no second try, the spelling.
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND, candidates=[JULIA]))
    assert d.phase == Phase.SPELL_STREET


def test_a_street_no_number_matched_is_named_only_in_a_typed_place(
    catalogue: Catalogue, territory: Territory
) -> None:
    """The place said in the same words already ranked the streets: no second piece of
    evidence. The street stays for the typed postcode to confirm."""
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au rejoulier, treize mille cinq Marseille")
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND, candidates=[JULIA]))
    assert d.phase == Phase.ASK_POSTCODE
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.typed_place == "13005"
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND, candidates=[JULIA]))
    assert d.phase == Phase.ASK_NUMBER  # typed, the place agrees: the street is named


def test_a_weak_match_names_its_street_only_in_the_callers_place(
    catalogue: Catalogue, territory: Territory
) -> None:
    """No place said: a vote on words that hold no street (« j'habite au dur ») may put any
    street of the territory first; the postcode is asked, not the number in that street."""
    d = dialogue(catalogue, territory)
    d.on_utterance("j'habite au dur")
    d.on_address(weak_match(PRADO, replace(PRADO, housenumber="50", score=0.06)))
    assert d.phase == Phase.ASK_POSTCODE


MONTGRAND = replace(MATCH, housenumber="27", street="Rue Montgrand", postcode="13006")


def street_refused(d: Dialogue) -> Step:
    """Drive `d` to a street refused at its read-back: « … des sands orange, à Marseille »
    (no postcode) found as 27 Rue Montgrand (13006), the number said right, the street not;
    that answer's step."""
    d.on_utterance("mon adresse c'est le vingt-sept rue des sands orange à Marseille")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MONTGRAND))
    d.on_utterance("une chaise")
    d.on_slot("2026-12-01")
    d.on_dtmf("2")  # the read-back is wrong
    d.on_dtmf("1")  # the number is right
    return d.on_dtmf("2")  # the street is wrong


def test_a_street_refused_in_a_place_the_caller_never_gave_asks_the_postcode_first(
    catalogue: Catalogue, territory: Territory
) -> None:
    """« … des sands orange, 10 000 sanks Marseille »: no postcode in the words, the vote
    put the street in another arrondissement. The street refused, the caller types the
    postcode and their own words are looked up again there (the spelling would have
    searched the wrong place's streets)."""
    d = dialogue(catalogue, territory)
    step = street_refused(d)
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.typed_place == "13005"
    assert "sands orange" in step.lookup.address.street  # the caller's own words
    assert (step.lookup.address.housenumber, step.lookup.address.postcode) == ("27", "13005")
    # Not found there either: now the spelling, among that place's streets.
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND))
    assert d.phase == Phase.SPELL_STREET


def test_a_street_refused_is_not_read_back_again(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    street_refused(d)
    d.on_dtmf("13006")  # the caller's postcode is that street's own
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MONTGRAND))
    assert d.phase == Phase.SPELL_STREET


def test_a_postcode_said_at_the_postcode_question_keeps_the_street(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("je suis au dix rue Julia")
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND))
    assert d.phase == Phase.ASK_POSTCODE
    step = d.on_utterance("treize mille cinq")
    assert step.lookup is not None and step.lookup.address is not None
    assert "Julia" in step.lookup.address.street and step.lookup.address.postcode == "13005"


def test_a_street_refused_in_the_postcode_the_caller_said_is_spelled(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)  # « … 12 boulevard Chave, 13005 Marseille »
    d.on_dtmf("2")
    d.on_dtmf("1")
    d.on_dtmf("2")  # the street is wrong, the place is the caller's own
    assert d.phase == Phase.SPELL_STREET
