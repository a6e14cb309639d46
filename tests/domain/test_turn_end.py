"""The semantic end-of-turn rule on transcripts of a turn so far (domain/turn_end.py)."""

from __future__ import annotations

import pytest

from domain.turn_end import Verdict, verdict


@pytest.mark.parametrize(
    ("text", "expect", "heard"),
    [
        ("J'habite au", "address", Verdict.INCOMPLETE),
        ("J'habite au 12", "address", Verdict.INCOMPLETE),
        ("au douze", "address", Verdict.INCOMPLETE),
        ("12 rue", "address", Verdict.INCOMPLETE),
        ("le numéro", "address", Verdict.INCOMPLETE),
        ("euh", "address", Verdict.INCOMPLETE),
        ("12 boulevard Chave, 13005 Marseille.", "address", Verdict.COMPLETE),
        ("12 boulevard Chave à Marseille", "address", Verdict.COMPLETE),
        ("12 boulevard Chave", "address", Verdict.UNSURE),
        ("12 boulevard Chave, treize mille", "address", Verdict.UNSURE),
        ("Oui.", "yes_no", Verdict.COMPLETE),
        ("Non, merci", "yes_no", Verdict.COMPLETE),
        ("Oui mais", "yes_no", Verdict.INCOMPLETE),
        ("Un canapé et deux chaises.", "speech", Verdict.COMPLETE),
        ("Un canapé et", "speech", Verdict.INCOMPLETE),
        ("je voudrais faire enlever", "speech", Verdict.INCOMPLETE),
        ("un canapé et deux", "speech", Verdict.UNSURE),
        ("06 12 34", "digits", Verdict.UNSURE),
        ("", "speech", Verdict.UNSURE),
        # Whisper's partial of "j'habite au douze, boul…" on the demo call.
        ("J'habite au dos de bon...", "address", Verdict.INCOMPLETE),
        ("un canapé…", "speech", Verdict.INCOMPLETE),
    ],
)
def test_verdict(text: str, expect: str, heard: Verdict) -> None:
    assert verdict(text, expect) == heard
