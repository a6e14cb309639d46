"""The live-call dialogue state machine, without audio: text and keys in, steps out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from activities.understand import load_catalogue
from domain.catalogue import Catalogue
from domain.dialogue import Dialogue, Expect, LookupKind, wants_person, yes_or_no
from domain.faq_models import FaqResult
from domain.live_call_models import Outcome, Phase
from domain.models import (
    AddressMatch,
    GeocodeResult,
    GeocodeStatus,
    Intent,
    ItemCount,
    Understanding,
)
from domain.understanding import Territory

MATCH = AddressMatch(
    "12", "Boulevard Chave", "13005", "13205", "Marseille", 5.40, 43.29, score=1.0, sector="13205"
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def dialogue(catalogue: Catalogue, territory: Territory, caller: str = "+33612345678") -> Dialogue:
    d = Dialogue(
        catalogue, caller, service_name="Encombrants", agent_phone="0 800", territory=territory
    )
    first = d.start()
    assert [p.template for p in first.say] == ["greeting", "ask_address"]
    assert first.expect == Expect.ADDRESS
    return d


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Je veux parler à quelqu'un", True),
        ("Un conseiller, s'il vous plaît", True),
        ("Je voudrais parler à une personne", True),
        ("J'ai une armoire et un canapé", False),
    ],
)
def test_wants_person(text: str, person: bool) -> None:
    assert wants_person(text) is person


@pytest.mark.parametrize(
    ("text", "answer"),
    [("Oui.", True), ("Oui, c'est bien ça", True), ("Non.", False), ("Peut-être", None)],
)
def test_yes_or_no(text: str, answer: bool | None) -> None:
    assert yes_or_no(text) is answer


def test_booking_by_voice(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    step = d.on_utterance("J'habite au 12 boulevard Chave, 13005 Marseille")
    assert step.lookup is not None and step.lookup.kind == LookupKind.ADDRESS
    step = d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    assert [p.template for p in step.say] == ["ask_items"] and d.phase == Phase.ASK_ITEMS
    step = d.on_utterance("un canapé et deux chaises")
    assert step.lookup is not None and step.lookup.kind == LookupKind.SLOT
    assert step.lookup.sector == "13205"
    step = d.on_slot("2026-12-01")
    assert step.say[0].template == "readback" and step.expect == Expect.YES_NO
    assert step.say[0].context["date_label"] == "mardi 1er décembre"
    step = d.on_utterance("Oui.")
    assert step.hang_up and d.progress.outcome == Outcome.CONFIRMED
    assert d.progress.proposed_date == "2026-12-01"


def test_items_the_words_do_not_name_are_asked_of_the_audio(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    items_step(d)
    step = d.on_utterance("Je souhaite un rendez-vous pour un effrayé hâteur, c'est Martin")
    assert step.lookup is not None and step.lookup.kind == LookupKind.ITEMS
    assert step.lookup.text == "Je souhaite un rendez-vous pour un effrayé hâteur, c'est Martin"
    assert not step.say and d.phase == Phase.ASK_ITEMS
    with pytest.raises(ValueError, match="no faq lookup pending"):
        d.on_faq(FaqResult(answer="", entry_id="", confident=False))
    heard = Understanding(intent=Intent.BOOKING.value, items=[ItemCount("réfrigérateur", 1)])
    step = d.on_items(heard)
    assert step.lookup is not None and step.lookup.kind == LookupKind.SLOT
    assert d.progress.understanding is not None
    assert d.progress.understanding.items == [ItemCount("réfrigérateur", 1)]
    step = d.on_slot("2026-12-01")
    assert "1 réfrigérateur" in step.say[0].context["items_label"]  # read back: "non" corrects it


def test_items_the_audio_does_not_name_either_are_asked_again_then_a_person(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    items_step(d)
    nothing = Understanding(intent=Intent.BOOKING.value)
    for template in ("retry_items", "transfer"):
        step = d.on_utterance("Je voudrais faire un vingt-chans.")
        assert step.lookup is not None and step.lookup.kind == LookupKind.ITEMS
        step = d.on_items(nothing)
        assert template in [p.template for p in step.say]
    assert d.progress.outcome == Outcome.TRANSFER


def test_items_the_words_name_need_no_audio(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    items_step(d)
    step = d.on_utterance("une bouteille de gaz")  # refused: said so, no second hearing
    assert step.lookup is None and step.say[0].template == "refused_items"


def test_words_that_name_nothing_are_heard_again(
    catalogue: Catalogue, territory: Territory
) -> None:
    # demo02's « j'ai un frigo et un matelas » as greedy decoding hears it on the phone: no
    # noun phrase, yet the audio, heard again with a wider beam, may name them.
    d = dialogue(catalogue, territory)
    items_step(d)
    step = d.on_utterance("J'ai affrigo, et amat la j'étais.")
    assert step.lookup is not None and step.lookup.kind == LookupKind.ITEMS
    step = d.on_items(Understanding(intent=Intent.BOOKING.value))
    assert step.say[0].template == "retry_items"


def test_no_caller_id_asks_a_mobile_by_keys(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory, caller="")
    d.on_utterance("au 12 boulevard Chave à Marseille, un canapé")
    step = d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    assert d.phase == Phase.ASK_PHONE and step.expect == Expect.DIGITS and step.keys == 10
    step = d.on_dtmf("0412345678")  # a landline: no SMS
    assert step.say[0].template == "retry_phone"
    step = d.on_dtmf("0612345678")
    assert step.lookup is not None and step.lookup.kind == LookupKind.SLOT
    assert d.sms_number == "+33612345678"


def test_question_then_back_to_the_same_question(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    step = d.on_utterance("Est-ce que vous ramassez les gravats ?")
    assert step.lookup is not None and step.lookup.kind == LookupKind.FAQ
    step = d.on_faq(FaqResult(entry_id="gravats", answer="Non.", confident=True))
    assert [p.template for p in step.say] == ["faq_answer", "ask_address"]
    assert d.phase == Phase.ASK_ADDRESS and d.progress.faq_entries == ["gravats"]
    d.on_hangup()
    assert d.progress.outcome == Outcome.ANSWERED


def test_questions_the_faq_cannot_answer_count_as_failures(
    catalogue: Catalogue, territory: Territory
) -> None:
    """An address heard as a question (« … t'as-tu fait ce que vous avez fait ? ») used to be
    answered « je n'ai pas de réponse » and asked again until the call's time ran out."""
    d = dialogue(catalogue, territory)
    unknown = FaqResult(answer="", entry_id="", confident=False)
    step = d.on_utterance("J'habite au César, t'as-tu fait ce que vous avez fait ?")
    assert step.lookup is not None and step.lookup.kind == LookupKind.FAQ
    step = d.on_faq(unknown)
    assert [p.template for p in step.say] == ["faq_unknown", "ask_address"]
    d.on_utterance("J'habite au César, t'as-tu fait ce que vous avez fait ?")
    step = d.on_faq(unknown)
    assert step.hang_up and d.progress.transfer_reason == "two_failures"


def test_the_same_question_answered_twice_counts_as_a_failure(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    gravats = FaqResult(entry_id="gravats", answer="Non.", confident=True)
    pneus = FaqResult(entry_id="pneus", answer="Non plus.", confident=True)
    for result in (gravats, pneus):  # two questions answered: the call goes on
        d.on_utterance("Est-ce que vous ramassez les gravats ?")
        step = d.on_faq(result)
        assert [p.template for p in step.say] == ["faq_answer", "ask_address"]
    d.on_utterance("Est-ce que vous ramassez les gravats ?")
    step = d.on_faq(gravats)
    assert [p.template for p in step.say] == ["faq_answer", "ask_address"]
    d.on_utterance("Est-ce que vous ramassez les gravats ?")
    step = d.on_faq(gravats)
    assert step.hang_up and d.progress.transfer_reason == "two_failures"
    assert d.progress.faq_entries == ["gravats", "pneus"]


def test_item_questions_answered_from_the_catalogue_are_each_answered(
    catalogue: Catalogue, territory: Territory
) -> None:
    """The catalogue answers every item under one entry: three item questions are three
    answers, not one asked again (a review's case)."""
    d = dialogue(catalogue, territory)
    for item in ("frigos", "matelas", "pneus"):
        d.on_utterance(f"Vous prenez les {item} ?")
        step = d.on_faq(
            FaqResult(
                entry_id="catalogue",
                answer=f"Les {item} : oui.",
                confident=True,
                source="catalogue",
            )
        )
        assert [p.template for p in step.say] == ["faq_answer", "ask_address"], item
    assert d.progress.faq_entries == ["catalogue"]


def test_a_question_unanswered_does_not_add_to_the_questions_own_failures(
    catalogue: Catalogue, territory: Territory
) -> None:
    """One answer not understood, then one question the FAQ cannot answer: the caller is asked
    again, not transferred (a review's case); a second unanswered question transfers."""
    d = dialogue(catalogue, territory)
    step = d.on_utterance("Euh, attendez.")
    assert d.progress.failures == 1 and not step.hang_up
    unknown = FaqResult(answer="", entry_id="", confident=False)
    d.on_utterance("Est-ce que le camion passe le matin ?")
    step = d.on_faq(unknown)
    assert not step.hang_up and d.phase == Phase.ASK_ADDRESS
    d.on_utterance("Et à quelle heure ?")
    step = d.on_faq(unknown)
    assert step.hang_up and d.progress.transfer_reason == "two_failures"


def test_key_zero_and_two_failures_transfer(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    step = d.on_dtmf("0")
    assert step.hang_up and d.progress.transfer_reason == "caller_asked"
    d = dialogue(catalogue, territory)
    assert d.on_utterance("euh bonjour").say[0].template == "retry_address"
    # Twice no address: once a call, the address one field at a time, the keypad first.
    step = d.on_utterance("je sais pas")
    assert [p.template for p in step.say] == ["step_by_step", "ask_number"]
    assert d.phase == Phase.ASK_NUMBER and step.expect == Expect.DIGITS
    assert d.on_utterance("je sais pas").say[0].template == "retry_number"
    step = d.on_dtmf("*#")
    assert step.hang_up and d.progress.outcome == Outcome.TRANSFER
    assert d.progress.transfer_reason == "two_failures"


def test_step_by_step_the_number_typed_the_street_said_the_postcode_typed(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("Mon adheu, Sullivan et Artinel")
    d.on_utterance("Mon adheu, Sullivan et Artinel")
    assert d.phase == Phase.ASK_NUMBER
    assert [p.template for p in d.on_dtmf("12#").say] == ["ask_street"]
    step = d.on_utterance("boulevard Chave")
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    said = step.lookup.address
    assert (said.housenumber, said.street, said.postcode) == ("12", "Boulevard Chave", "13005")


def test_an_address_half_understood_is_not_asked_step_by_step(
    catalogue: Catalogue, territory: Territory
) -> None:
    # The failures of a call that gave part of its address go on as before: the postcode,
    # the spelling, then a person; the step-by-step questions are for words with no address.
    d = dialogue(catalogue, territory)
    d.on_dtmf("12#")
    assert d.phase == Phase.ASK_STREET
    d.on_utterance("euh")
    assert d.on_utterance("euh").hang_up and d.progress.transfer_reason == "two_failures"


def test_address_not_found_asks_the_postcode(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("au 12 boulevard Chave")
    step = d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND))
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.postcode == "13005"


def test_hang_up_mid_dialogue_keeps_what_was_heard(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("J'habite au 12 boulevard Chave")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    d.on_hangup()
    assert d.progress.outcome == Outcome.HANGUP and d.progress.match == MATCH
    assert d.progress.heard == ["J'habite au 12 boulevard Chave"]


def items_step(d: Dialogue) -> None:
    """Drive a dialogue to the items question, its address found."""
    d.on_utterance("J'habite au 12 boulevard Chave, 13005 Marseille")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    assert d.phase == Phase.ASK_ITEMS


def confirm_step(d: Dialogue) -> None:
    """Drive a dialogue with the caller's mobile known to the read-back."""
    items_step(d)
    d.on_utterance("un canapé")
    step = d.on_slot("2026-12-01")
    assert d.phase == Phase.CONFIRM and step.expect == Expect.YES_NO


def test_keypad_only_number_postcode_and_yes(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    step = d.on_dtmf("12#")  # the house number typed at the address question
    assert d.phase == Phase.ASK_STREET and [p.template for p in step.say] == ["ask_street"]
    step = d.on_utterance("boulevard Chave")
    # A street alone is in many communes: the postcode, typed, before any lookup.
    assert d.phase == Phase.ASK_POSTCODE and step.expect == Expect.DIGITS and step.keys == 5
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    heard = step.lookup.address
    assert (heard.housenumber, heard.street, heard.postcode) == ("12", "Boulevard Chave", "13005")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    d.on_utterance("un canapé")
    d.on_slot("2026-12-01")
    step = d.on_dtmf("1")
    assert step.hang_up and d.progress.outcome == Outcome.CONFIRMED


def test_a_bad_keyed_number_is_asked_again(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    step = d.on_dtmf("0123#")
    assert step.say[0].template == "retry_address" and d.phase == Phase.ASK_ADDRESS


def test_no_to_the_readback_checks_field_by_field(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    step = d.on_dtmf("2")
    assert d.phase == Phase.CHECK_NUMBER and step.expect == Expect.YES_NO
    assert step.say[0].template == "check_number" and step.say[0].context["housenumber"] == "12"
    step = d.on_utterance("oui")
    assert d.phase == Phase.CHECK_STREET
    assert step.say[0].context["street"] == "Boulevard Chave"
    step = d.on_dtmf("1")
    assert d.phase == Phase.CHECK_CITY and step.say[0].context["postcode"] == "13005"
    step = d.on_dtmf("2")  # the commune is wrong: only the postcode is asked again
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5
    step = d.on_dtmf("13004")
    assert step.lookup is not None and step.lookup.address is not None
    heard = step.lookup.address
    assert (heard.housenumber, heard.street, heard.postcode) == ("12", "Boulevard Chave", "13004")
    fixed = replace(MATCH, postcode="13004")
    step = d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=fixed))
    assert step.lookup is not None and step.lookup.kind == LookupKind.SLOT  # items are kept
    step = d.on_slot("2026-12-01")
    assert "13004" in step.say[0].context["address_label"]
    step = d.on_utterance("oui")
    assert step.hang_up and d.progress.outcome == Outcome.CONFIRMED
    assert d.progress.match == fixed


def test_wrong_number_is_typed_again(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_utterance("non")
    step = d.on_utterance("non, c'est pas ça")
    assert d.phase == Phase.ASK_NUMBER and step.expect == Expect.DIGITS and step.keys == 0
    step = d.on_utterance("quatorze")  # said rather than typed: also fine
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.housenumber == "14"
    assert step.lookup.address.street == "Boulevard Chave"


def test_all_fields_right_asks_the_items_again_then_second_no_transfers(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")
    d.on_dtmf("1")
    d.on_dtmf("1")
    step = d.on_dtmf("1")
    assert d.phase == Phase.ASK_ITEMS and [p.template for p in step.say] == ["ask_items"]
    assert d.progress.understanding is not None and d.progress.understanding.items == []
    d.on_utterance("deux chaises")
    d.on_slot("2026-12-01")
    step = d.on_dtmf("2")
    assert step.hang_up and d.progress.transfer_reason == "two_failures"


def test_field_check_repeats_on_silence_and_answers_a_question(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")
    step = d.on_silence()
    assert [p.template for p in step.say] == ["check_number"]
    step = d.on_utterance("Est-ce que vous ramassez les gravats ?")
    assert step.lookup is not None and step.lookup.kind == LookupKind.FAQ
    step = d.on_faq(FaqResult(entry_id="gravats", answer="Non.", confident=True))
    assert [p.template for p in step.say] == ["faq_answer", "check_number"]
    assert step.expect == Expect.YES_NO


@pytest.mark.parametrize(
    ("said", "street"),
    [("boulevard chave.", "boulevard chave"), ("euh, c'est boulevard chave", "boulevard chave")],
)
def test_street_alone_is_its_name(
    catalogue: Catalogue, territory: Territory, said: str, street: str
) -> None:
    d = dialogue(catalogue, territory)
    d.on_dtmf("12#")
    d.on_utterance(said)
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.street.lower() == street.lower()
    assert step.lookup.address.housenumber == "12"


def test_typed_number_stands_over_the_one_heard_with_the_street(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_dtmf("14#")
    step = d.on_utterance("au 12 boulevard Chave, 13005 Marseille")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.housenumber == "14"


@pytest.mark.parametrize("said", ["euh", "Oui.", "Attendez.", "Je sais pas."])
def test_a_filler_at_the_items_question_is_asked_again_at_once(
    catalogue: Catalogue, territory: Territory, said: str
) -> None:
    d = dialogue(catalogue, territory)
    items_step(d)
    step = d.on_utterance(said)
    assert step.lookup is None and step.say[0].template == "retry_items"


@pytest.mark.parametrize(
    ("geo", "vote"),
    [
        # The words alone would book it: no seconds of CPU for the audio's opinion.
        (GeocodeResult(GeocodeStatus.MATCHED, match=MATCH), False),
        # A best guess the read-back would offer, not book: the audio votes first.
        (GeocodeResult(GeocodeStatus.MATCHED, match=replace(MATCH, score=0.22)), True),
        (GeocodeResult(GeocodeStatus.AMBIGUOUS, candidates=[replace(MATCH, score=0.4)]), True),
        (GeocodeResult(GeocodeStatus.NUMBER_NOT_FOUND, candidates=[MATCH]), True),
        (GeocodeResult(GeocodeStatus.NOT_FOUND), True),
        # A sure match the caller's own words contradict is no address to book either.
        (GeocodeResult(GeocodeStatus.MATCHED, match=MATCH, doubt="address_conflict"), True),
    ],
)
def test_the_audio_votes_unless_the_words_alone_would_book(
    catalogue: Catalogue, territory: Territory, geo: GeocodeResult, vote: bool
) -> None:
    assert dialogue(catalogue, territory).vote_wanted(geo) is vote


def test_a_question_answered_at_the_address_may_be_asked_again_at_the_items(
    catalogue: Catalogue, territory: Territory
) -> None:
    """Repeats count on the question the bot asked: a caller who asks again, at the items
    question, what was answered at the address is answered, not counted (a review's case)."""
    gravats = FaqResult(entry_id="gravats", answer="Non.", confident=True)
    d = dialogue(catalogue, territory)
    d.on_utterance("Est-ce que vous ramassez les gravats ?")
    d.on_faq(gravats)
    items_step(d)
    d.on_utterance("Est-ce que vous ramassez les gravats ?")
    step = d.on_faq(gravats)
    assert not step.hang_up and [p.template for p in step.say] == ["faq_answer", "ask_items"]
    # Asked again twice more on this question: the second repeat there hands it over.
    d.on_utterance("Est-ce que vous ramassez les gravats ?")
    step = d.on_faq(gravats)
    assert not step.hang_up
    d.on_utterance("Est-ce que vous ramassez les gravats ?")
    step = d.on_faq(gravats)
    assert step.hang_up and d.progress.transfer_reason == "two_failures"


# « que vous preniez une armoire et quatre pneus » through a GSM line (the call set's
# paused-rome): « vous prenez les … » makes it a question, the FAQ has nothing for it.
GARBLED_ITEMS = "Je voudrais qu'au bout de l'un de mes morts, je vous prénez les morts."
UNKNOWN = FaqResult(answer="", entry_id="", confident=False)


def test_an_items_answer_taken_for_a_question_is_heard_again_when_the_faq_has_nothing(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    items_step(d)
    step = d.on_utterance(GARBLED_ITEMS)
    assert step.lookup is not None and step.lookup.kind == LookupKind.FAQ
    step = d.on_faq(UNKNOWN)
    assert step.lookup is not None and step.lookup.kind == LookupKind.ITEMS
    assert step.lookup.text == GARBLED_ITEMS
    step = d.on_items(
        Understanding(intent=Intent.BOOKING.value, items=[ItemCount(item="armoire", count=1)])
    )
    # The caller's mobile is known: the day is looked up for the read-back.
    assert step.lookup is not None and step.lookup.kind == LookupKind.SLOT
    assert d.progress.failures == 0
    assert [i.item for i in d.progress.understanding.items] == ["armoire"]  # type: ignore[union-attr]


def test_an_items_answer_taken_for_a_question_and_heard_as_nothing_is_the_faqs_miss(
    catalogue: Catalogue, territory: Territory
) -> None:
    """Heard again, it names nothing: « je n'ai pas de réponse », the items asked again, and
    the second such miss on the question hands the call over, as for any unanswered one."""
    d = dialogue(catalogue, territory)
    items_step(d)
    nothing = Understanding(intent=Intent.BOOKING.value)
    d.on_utterance(GARBLED_ITEMS)
    d.on_faq(UNKNOWN)
    step = d.on_items(nothing)
    assert not step.hang_up and [p.template for p in step.say] == ["faq_unknown", "ask_items"]
    assert d.progress.failures == 0
    d.on_utterance(GARBLED_ITEMS)
    d.on_faq(UNKNOWN)
    step = d.on_items(nothing)
    assert step.hang_up and d.progress.transfer_reason == "two_failures"


def test_a_question_unanswered_elsewhere_is_not_heard_as_items(
    catalogue: Catalogue, territory: Territory
) -> None:
    """Only the items question's answers are heard again: at the address, the FAQ's miss."""
    d = dialogue(catalogue, territory)
    d.on_utterance(GARBLED_ITEMS)
    step = d.on_faq(UNKNOWN)
    assert step.lookup is None and [p.template for p in step.say] == ["faq_unknown", "ask_address"]
