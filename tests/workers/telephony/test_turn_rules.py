"""The end-of-turn rule chosen in the settings reaches the live calls' turn-taking
(workers/telephony/live.turn_taking): `smart` with the loaded Smart Turn model, the others
without one."""

from __future__ import annotations

import pytest

from activities.live.smart_turn import bundled_model_path
from domain.dialogue import Expect
from domain.turn_detector import Decision
from workers.settings import TelephonySettings
from workers.telephony.live import turn_taking


@pytest.mark.parametrize("rule", ["fixed", "semantic"])
def test_rules_without_a_model(rule: str) -> None:
    turns = turn_taking(TelephonySettings(turn_rule=rule))
    assert turns.rule == rule and turns.completion_probability is None


def test_smart_rule_gets_the_model_and_its_settings() -> None:
    try:
        bundled_model_path()
    except FileNotFoundError:
        pytest.skip("pipecat-ai (Smart Turn's model) not installed")
    settings = TelephonySettings(
        turn_rule="smart", smart_ask_ms=300, smart_threshold=0.7, address_pause_ms=1100
    )
    turns = turn_taking(settings)
    assert turns.completion_probability is not None
    detector = turns.detector(Expect.ADDRESS)
    assert detector.params.ask_after_ms == 300 and detector.params.threshold == 0.7
    assert detector.params.fixed_pause_ms == 1100
    assert detector.params.incomplete_pause_ms == settings.incomplete_pause_ms
    # The loaded model answers with a probability (here for a second of silence).
    p = turns.completion_probability(b"\x00" * 16000)
    assert p is not None and 0.0 <= p <= 1.0
    assert detector.feed(b"\x00" * 320, False, 0.0, False) == Decision.LISTEN


@pytest.mark.parametrize("at_address", [False, True])
def test_smart_rule_decides_addresses_only_when_asked(at_address: bool) -> None:
    turns = turn_taking(TelephonySettings(turn_rule="semantic", smart_at_address=at_address))
    # Not the smart rule: it decides nothing.
    assert not turns.smart_decides(Expect.SPEECH)
    smart = type(turns)(rule="smart", smart_at_address=turns.smart_at_address)
    assert smart.smart_decides(Expect.SPEECH) and smart.smart_decides(Expect.YES_NO)
    assert smart.smart_decides(Expect.ADDRESS) is at_address
    assert smart.smart_decides(Expect.DIGITS) is at_address


def test_acknowledgements_reach_the_turn_taking() -> None:
    assert turn_taking(TelephonySettings()).ack_ms == 0
    assert turn_taking(TelephonySettings(ack_ms=150)).ack_ms == 150


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError):
        TelephonySettings(turn_rule="psychic")  # type: ignore[arg-type]
