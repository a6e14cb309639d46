"""The warm transfer: before the call goes to a person the bot says why and what the agent
already knows (corpus/templates/voice/transfer.j2), and the case details the agent reads hold
what was understood and how sure it is (domain/dialogue/details.py)."""

from __future__ import annotations

import jinja2
import pytest

from activities.understand import load_catalogue
from corpus import TEMPLATES_DIR
from domain.catalogue import Catalogue
from domain.dialogue import (
    Dialogue,
    Expect,
    Prompt,
    callback_details_markdown,
    transfer_prompt,
)
from domain.live_call_models import LiveCallProgress, Outcome, Phase, TransferReason
from domain.models import GeocodeResult, GeocodeStatus
from domain.understanding import Territory
from tests.domain.test_dialogue import MATCH, confirm_step, dialogue

VOICE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "voice"), undefined=jinja2.StrictUndefined
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def said(prompt: Prompt) -> str:
    """The words of a prompt, as the live call renders them (activities/live/work.py)."""
    return " ".join(VOICE.get_template(f"{prompt.template}.j2").render(**prompt.context).split())


def test_transfer_with_nothing_understood_says_why_only(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    step = d.on_dtmf("0")
    [prompt] = step.say
    assert prompt.static  # the same words on every such call: its audio is cached
    assert said(prompt) == (
        "Je vous passe un conseiller. Si personne n'est disponible, nous vous rappellerons. "
        "Au revoir."
    )


def test_transfer_names_the_address_and_items_understood(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("J'habite au 12 boulevard Chave, 13005 Marseille")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    d.on_utterance("un canapé et deux chaises")
    d.on_slot("2026-12-01")
    step = d.on_utterance("Je voudrais parler à un conseiller")
    [prompt] = step.say
    assert not prompt.static  # the caller's address: never in the TTS cache
    assert said(prompt) == (
        "Je vous passe un conseiller. Il a déjà votre adresse, 12 Boulevard Chave, 13005 "
        "Marseille, et vos objets : 1 canapé, 2 chaises. Si personne n'est disponible, nous "
        "vous rappellerons. Au revoir."
    )


def test_two_failures_say_the_bot_did_not_understand(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = dialogue(catalogue, territory)
    d.on_utterance("J'habite au 12 boulevard Chave, 13005 Marseille")
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    d.on_utterance("euh")  # fillers: asked again at once, not heard again
    step = d.on_utterance("je sais pas")
    assert d.progress.transfer_reason == "two_failures"
    text = said(step.say[-1])
    assert text.startswith("Je n'arrive pas à bien vous comprendre : je vous passe un conseiller.")
    assert "Il a déjà votre adresse, 12 Boulevard Chave, 13005 Marseille." in text
    assert "objets" not in text  # none were understood


@pytest.mark.parametrize("reason", list(TransferReason))
def test_every_reason_renders_with_and_without_details(reason: TransferReason) -> None:
    assert "je vous passe un conseiller" in said(transfer_prompt(reason)).lower()
    progress = LiveCallProgress(match=MATCH)
    assert "12 Boulevard Chave" in said(transfer_prompt(reason, progress))


def test_details_say_what_is_known_and_how_sure(catalogue: Catalogue, territory: Territory) -> None:
    d = dialogue(catalogue, territory)
    confirm_step(d)
    d.on_dtmf("2")
    d.on_dtmf("1")  # the number is right
    d.on_dtmf("2")  # the street is wrong
    d.on_dtmf("0")
    text = callback_details_markdown(
        d.progress, why="l'appelant a demandé à parler à une personne", caller_number="+33612"
    )
    assert text.startswith("## Appel transféré par le bot : si personne n'a décroché, rappeler")
    assert "**Pourquoi** : l'appelant a demandé à parler à une personne" in text
    assert "- numéro : 12 — confirmé par l'appelant" in text
    assert "- rue : Boulevard Chave — **contestée par l'appelant**" in text
    assert "- commune : 13005 Marseille — trouvée dans la base adresse" in text
    assert "- objets : 1 canapé" in text
    assert text.index("**Adresse retenue**") < text.index("**Entendu**")
    assert "DTMF 2" in text.split("**Entendu**")[1]  # what was heard, turn by turn, below


def test_details_of_a_hang_up_and_a_spelled_street(
    catalogue: Catalogue, territory: Territory
) -> None:
    progress = LiveCallProgress(
        outcome=Outcome.HANGUP.value, match=MATCH, spelled=True, confirmed=["city"]
    )
    text = callback_details_markdown(progress, why="raccroché", caller_number="")
    assert text.startswith("## À traiter : appel non abouti, rappeler")
    assert "- numéro : 12 — trouvé dans la base adresse" in text
    assert "- rue : Boulevard Chave — épelée par l'appelant, trouvée dans la base adresse" in text
    assert "- commune : 13005 Marseille — confirmée par l'appelant" in text


def test_a_hang_up_during_the_transfer_is_noted(catalogue: Catalogue, territory: Territory) -> None:
    d: Dialogue = dialogue(catalogue, territory)
    d.on_transfer_dropped()
    assert not d.progress.dropped  # no transfer yet: nothing to note
    d.on_dtmf("0")
    d.on_transfer_dropped()
    assert d.progress.dropped and d.progress.outcome == Outcome.TRANSFER


def postcode_step(catalogue: Catalogue, territory: Territory) -> Dialogue:
    """An address not found: the postcode asked on the keypad."""
    d = dialogue(catalogue, territory)
    d.on_utterance("J'habite au 12 boulevard Chave")
    d.on_address(GeocodeResult(GeocodeStatus.NOT_FOUND))
    assert d.phase == Phase.ASK_POSTCODE
    return d


def test_a_postcode_said_outside_the_territory_is_typed_not_looked_up(
    catalogue: Catalogue, territory: Territory
) -> None:
    """« treize mille cinq » heard « 30000 » (the live call set, paused-chave-number): taken for
    the place, the street was spelled among the streets of a town the service has none of."""
    d = postcode_step(catalogue, territory)
    step = d.on_utterance("Les boulevards chavaient 30000 marseilles, et j'ai un canapé.")
    assert step.lookup is None and d.phase == Phase.ASK_POSTCODE
    assert step.expect == Expect.DIGITS and step.keys == 5
    assert said(step.say[0]) == (
        "Je n'ai pas bien compris le code postal. Tapez-le sur votre clavier, en cinq chiffres."
    )
    assert d.progress.understanding is not None
    assert [i.item for i in d.progress.understanding.items] == ["canapé"]  # the rest is kept
    step = d.on_dtmf("13005")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.postcode == "13005"
    assert step.lookup.address.street.lower() == "boulevard chave"  # the street held
    # Said inside the territory, as before: the place joins the street held.
    d = postcode_step(catalogue, territory)
    step = d.on_utterance("treize mille cinq")
    assert step.lookup is not None and step.lookup.address is not None
    assert step.lookup.address.postcode == "13005"


def test_a_postcode_said_outside_twice_is_two_answers_not_understood(
    catalogue: Catalogue, territory: Territory
) -> None:
    """Misheard is not outside: a caller of Marseille is not told the service is not theirs."""
    d = postcode_step(catalogue, territory)
    d.on_utterance("30000")
    d.on_utterance("30000")
    assert d.ended and d.progress.transfer_reason == TransferReason.TWO_FAILURES


def test_a_postcode_typed_outside_the_territory_twice_goes_to_a_person_told_why(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = postcode_step(catalogue, territory)
    step = d.on_dtmf("30000")
    assert step.lookup is None and not d.ended
    assert said(step.say[0]).startswith("Ce code postal n'est pas desservi par notre service.")
    step = d.on_dtmf("30000")
    assert d.ended and d.progress.outcome == Outcome.TRANSFER
    assert d.progress.transfer_reason == TransferReason.OUT_OF_TERRITORY
    assert step.lookup is None  # never looked up: no street of the territory is there
    assert said(step.say[-1]).startswith(
        "Ce code postal n'est pas desservi par notre service : je vous passe un conseiller, "
        "qui vous dira à qui vous adresser."
    )


def test_a_slip_forgiven_is_forgiven_again_after_a_postcode_of_the_territory(
    catalogue: Catalogue, territory: Territory
) -> None:
    d = postcode_step(catalogue, territory)
    d.on_dtmf("31005")  # a slip
    step = d.on_dtmf("13005")
    assert step.lookup is not None
    d.on_address(GeocodeResult(GeocodeStatus.MATCHED, match=MATCH))
    d.on_utterance("un canapé")
    d.on_slot("2026-12-01")
    d.on_dtmf("2")  # the read-back is wrong: number, street right, the commune wrong
    d.on_dtmf("1")
    d.on_dtmf("1")
    step = d.on_dtmf("2")
    assert d.phase == Phase.ASK_POSTCODE
    step = d.on_dtmf("31004")  # another slip: forgiven, not a transfer
    assert not d.ended and step.say[0].template == "outside_postcode"
