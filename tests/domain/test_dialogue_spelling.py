"""The live-call dialogue when the street goes wrong: not found once the postcode is typed, or
said wrong at its read-back, it is spelled letter by letter and looked up among the streets
of that place (domain/spelling.py); the read-back then names the street spelled."""

from __future__ import annotations

from dataclasses import replace

import pytest

from activities.understand import load_catalogue
from domain.catalogue import Catalogue
from domain.dialogue import Dialogue, Expect, LookupKind, Step
from domain.faq_models import FaqResult
from domain.live_call_models import Outcome, Phase
from domain.models import GeocodeResult, GeocodeStatus
from domain.spelling import keypad_code, match_keyed, match_spelled
from domain.understanding import Territory
from tests.domain.test_dialogue import MATCH, confirm_step, dialogue

STREETS_13005 = ["Boulevard Chave", "Rue Chape", "Rue Edmond Rostand", "Place Rostand"]
CHAPE = replace(MATCH, street="Rue Chape")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def street_refused(catalogue: Catalogue, territory: Territory) -> Dialogue:
    """A call at the spelling: the read-back said wrong (2), the number right (1), the street
    wrong (2)."""
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")
    d.on_dtmf("1")
    d.on_dtmf("2")
    return d


def spelled(d: Dialogue, step: Step) -> Step:
    """What the activity does with a SPELLED lookup: the letters matched against the streets
    of the place (here a fixed list for 13005)."""
    assert step.lookup is not None and step.lookup.kind == LookupKind.SPELLED
    assert step.lookup.address is not None and step.lookup.address.postcode == "13005"
    return d.on_spelled(match_spelled(step.lookup.text, STREETS_13005).street)


def test_street_not_found_is_spelled_and_read_back(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("J'habite au 12 boulevard Chaive")
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND))
    d.on_dtmf("13005")
    step = d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND))
    # The postcode is known and the street still not found: spelled, not said again.
    assert d.phase == Phase.SPELL_STREET
    assert [p.template for p in step.say] == ["ask_spelling"] and step.expect == Expect.ADDRESS
    step = d.on_utterance("C comme Célestin, H, A, V comme Victor, E")
    assert step.lookup is not None and step.lookup.text == "chave"
    step = spelled(d, step)
    assert step.lookup is not None and step.lookup.kind == LookupKind.ADDRESS
    heard = step.lookup.address
    assert heard is not None
    assert (heard.housenumber, heard.street, heard.postcode) == ("12", "Boulevard Chave", "13005")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    assert d.phase == Phase.ASK_ITEMS and d.progress.spelled
    d.on_utterance("un canapé")
    step = d.on_slot("2026-12-01")
    assert step.say[0].template == "readback"
    assert step.say[0].context["address_label"] == "12 Boulevard Chave, 13005 Marseille"
    assert d.on_utterance("oui").hang_up and d.progress.outcome == Outcome.CONFIRMED


def test_a_no_to_the_street_is_spelled_and_the_number_stays_confirmed(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")  # the read-back is wrong
    d.on_utterance("oui")  # the number is right
    step = d.on_utterance("non")  # the street is wrong
    assert d.phase == Phase.SPELL_STREET and step.say[0].template == "ask_spelling"
    assert d.progress.confirmed == ["number"] and d.progress.refused == ["street"]
    step = spelled(d, d.on_utterance("C, H, A, P comme Pierre, E"))
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.street == "Rue Chape"
    assert step.lookup.address.housenumber == "12"  # the number the caller said yes to
    step = d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=CHAPE))
    assert step.lookup is not None and step.lookup.kind == LookupKind.SLOT  # items kept
    # The new street is no longer in doubt; the number, unchanged, is still confirmed.
    assert d.progress.confirmed == ["number"] and d.progress.refused == []
    step = d.on_slot("2026-12-01")
    assert step.say[0].context["address_label"] == "12 Rue Chape, 13005 Marseille"
    assert d.on_dtmf("1").hang_up and d.progress.match == CHAPE


def test_two_close_streets_ask_again_then_transfer(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = street_refused(catalogue, territory)
    # "Rostand": Rue Edmond Rostand or Place Rostand, never a guess.
    step = spelled(d, d.on_utterance("R, O, S, T, A, N, D"))
    assert d.phase == Phase.SPELL_STREET and step.say[0].template == "retry_spelling"
    step = spelled(d, d.on_utterance("R comme Raoul, O, S, T, A, N, D"))
    assert step.hang_up and d.progress.transfer_reason == "two_failures"
    assert d.progress.match == MATCH and d.progress.refused == ["street"]
    # The caller is not told the agent has an address they said was wrong.
    transfer = step.say[-1]
    assert transfer.template == "transfer"
    assert transfer.context["address_label"] == "" and transfer.context["items_label"]


def test_no_letters_is_asked_again_and_a_question_gets_its_answer(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = street_refused(catalogue, territory)
    step = d.on_utterance("Est-ce que vous prenez les gravats ?")
    assert step.lookup is not None and step.lookup.kind == LookupKind.FAQ
    step = d.on_faq(FaqResult(entry_id="gravats", answer="Non.", confident=True))
    assert [p.template for p in step.say] == ["faq_answer", "ask_spelling"]
    step = d.on_utterance("euh je sais pas trop")
    assert step.say[0].template == "retry_spelling" and d.phase == Phase.SPELL_STREET
    step = d.on_dtmf("0")
    assert step.hang_up and d.progress.transfer_reason == "caller_asked"


def typed(d: Dialogue, step: Step) -> Step:
    """What the activity does with a SPELLED lookup of keys: the name typed one key per
    letter matched against the streets of the place."""
    assert step.lookup is not None and step.lookup.kind == LookupKind.SPELLED
    assert step.lookup.keyed and step.lookup.address is not None
    return d.on_spelled(match_keyed(step.lookup.text, STREETS_13005).street)


def test_a_street_typed_on_the_keypad_is_looked_up_and_read_back(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = street_refused(catalogue, territory)
    assert d.phase == Phase.SPELL_STREET
    step = d.on_dtmf("24273#")  # C H A P E, one key a letter
    assert step.lookup is not None and step.lookup.text == "24273"
    assert d.progress.heard[-1] == "[DTMF 24273#]"
    step = typed(d, step)
    assert step.lookup is not None and step.lookup.address is not None
    assert (step.lookup.address.housenumber, step.lookup.address.street) == ("12", "Rue Chape")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=CHAPE))
    step = d.on_slot("2026-12-01")
    assert step.say[0].context["address_label"] == "12 Rue Chape, 13005 Marseille"
    assert d.progress.spelled


def test_keys_of_two_streets_are_typed_again_with_the_type(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = street_refused(catalogue, territory)
    # ROSTAND: Rue Edmond Rostand or Place Rostand, never a guess; the retry asks for the
    # whole name, its type with it.
    step = typed(d, d.on_dtmf(keypad_code("rostand") + "#"))
    assert d.phase == Phase.SPELL_STREET and step.say[0].template == "retry_spelling"
    step = typed(d, d.on_dtmf(keypad_code("placerostand") + "#"))
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.street == "Place Rostand"


def test_keys_that_type_no_name_are_asked_again_then_a_person_takes_over(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = street_refused(catalogue, territory)
    # A key with no letter (1), or too few keys: no lookup, asked again.
    step = d.on_dtmf("2113#")
    assert step.lookup is None and step.say[0].template == "retry_spelling"
    step = d.on_dtmf("242#")
    assert step.hang_up and d.progress.transfer_reason == "two_failures"


def test_step_by_step_a_street_not_heard_is_typed_in_its_postcode(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("Mon adheu, Sullivan et Artinel")
    d.on_utterance("Mon adheu, Sullivan et Artinel")
    d.on_dtmf("12#")
    assert d.phase == Phase.ASK_STREET
    # No street in the words again (too many to be one): not asked a third time, its place
    # then its name typed.
    step = d.on_utterance("Mon adheu, Sullivan et Artinel Sonschal, amateurs de la premier haute")
    assert d.phase == Phase.ASK_POSTCODE and step.keys == 5
    step = d.on_dtmf("13005")
    # No lookup of a number and a postcode alone: the gazetteer would guess the street.
    assert step.lookup is None and [p.template for p in step.say] == ["ask_spelling"]
    step = typed(d, d.on_dtmf(keypad_code("chave") + "#"))
    assert step.lookup is not None and step.lookup.address is not None
    heard = step.lookup.address
    assert (heard.housenumber, heard.street, heard.postcode) == ("12", "Boulevard Chave", "13005")
    assert d.progress.failures == 0
