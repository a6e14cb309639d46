"""The fold calibration of the booking threshold (bench/calibrate_folds.py): the choice is
made on training messages only and the ASR channel is reproducible."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

from domain.models import AddressMatch, GeocodeResult, GeocodeStatus

_PATH = Path(__file__).resolve().parents[2] / "bench" / "calibrate_folds.py"
_spec = importlib.util.spec_from_file_location("calibrate_folds", _PATH)
assert _spec is not None and _spec.loader is not None
cf = importlib.util.module_from_spec(_spec)
sys.modules["calibrate_folds"] = cf  # its dataclasses look their module up
_spec.loader.exec_module(cf)

EXPECTED = {
    "address": {"housenumber": "4", "street": "Rue Paradis"},
    "sector": "13206",
}


def _outcome(vid: str, number: str, score: float, speaker: str = "a"):
    match = AddressMatch(number, "Rue Paradis", "13006", "13206", "Marseille", 0, 0, score, "13206")
    geo = GeocodeResult(GeocodeStatus.MATCHED.value, match=match)
    return cf.Outcome(vid, speaker, "booking", True, "", geo, EXPECTED)


def test_the_threshold_keeps_wrong_bookings_of_the_training_set_under_the_bound() -> None:
    right = [_outcome(f"r{i}", "4", 0.95) for i in range(50)]
    wrong = [_outcome("w", "14", 0.8)]
    threshold = cf.choose_threshold(right + wrong, 0.01)
    assert 0.8 < threshold <= 0.95
    assert cf.rates(right + wrong, threshold)["wrong_automatic"] == 0.0
    assert cf.rates(right + wrong, 0.5)["wrong_automatic"] > 0.0


def test_speaker_folds_never_share_a_voice() -> None:
    outcomes = [_outcome(str(i), "4", 0.9, speaker=f"s{i % 7}") for i in range(40)]
    parts = cf.folds(outcomes, 5, 16, by_speaker=True)
    voices = [{outcomes[j].speaker for j in part} for part in parts]
    assert sum(len(p) for p in parts) == 40
    assert all(not (a & b) for i, a in enumerate(voices) for b in voices[i + 1 :])


def test_the_asr_channel_is_seeded() -> None:
    text = "Bonjour, au 14 rue Paradis dans le quatorzième. Merci."
    one = [cf.garble(text, "gsm", random.Random(3)) for _ in range(2)]
    assert one[0] == one[1]


def test_the_reliability_curve_bins_confidence_against_accuracy() -> None:
    outcomes = [_outcome(f"r{i}", "4", 0.95) for i in range(9)] + [_outcome("w", "14", 0.97)]
    outcomes += [_outcome(f"m{i}", "14", 0.5) for i in range(2)] + [_outcome("k", "4", 0.5)]
    curve = cf.reliability(outcomes)
    assert curve["matched_booking_messages"] == 13
    bins = {b["bin"]: b for b in curve["bins"]}
    assert bins["[0.95, 1.00]"]["messages"] == 10 and bins["[0.95, 1.00]"]["accuracy"] == 0.9
    assert bins["[0.40, 0.60)"]["accuracy"] == round(1 / 3, 3)
    # Over-confident in both bins: the error is their weighted gap.
    expected = (10 * abs(0.956 - 0.9) + 3 * abs(0.5 - 1 / 3)) / 13
    assert abs(curve["ece"] - expected) < 0.01


def test_booking_messages_are_those_with_an_address_to_book() -> None:
    booked = {"intent": "booking", "outcome": "booked", **EXPECTED}
    assert cf.is_booking(booked)
    assert cf.is_booking({**booked, "outcome": "booked_partial_refusal"})
    # Only refused items: refused before any address lookup, nothing to judge.
    assert not cf.is_booking({**booked, "outcome": "refused"})
    assert not cf.is_booking({**booked, "address": None, "outcome": "out_of_territory"})
    assert not cf.is_booking({**booked, "intent": "question"})


def test_a_refused_only_message_booked_is_a_wrong_automatic_booking() -> None:
    o = _outcome("r", "4", 0.99)
    o.booking = False  # a caller who asked only for refused items
    assert cf.rates([o], 0.9)["wrong_automatic"] == 1.0


def test_an_address_asked_by_sms_is_counted_apart() -> None:
    """Neither an escalation nor a confirmation: the caller is texted for the address."""
    asked = cf.Outcome("n", "a", "no_address", False, "ask_address", None, {})
    escalated = cf.Outcome("e", "a", "no_address", False, "escalate", None, {})
    r = cf.rates([asked, escalated, _outcome("r", "4", 0.95)], 0.9)
    assert (r["address_asked"], r["escalation"], r["sms_confirmation"]) == (0.3333, 0.3333, 0.0)
    row = cf.per_kind([asked, escalated], 0.9)["no_address"]
    assert (row["address_asked"], row["escalated"], row["wrong_automatic"]) == (1, 1, 0)


def test_decisions_are_tabled_per_condition_of_the_recording() -> None:
    clean = _outcome("c", "4", 0.95)
    clean.condition = "clean"
    noisy = _outcome("n", "14", 0.95)
    noisy.condition = "gsm"
    rows = cf.per_kind([clean, noisy], 0.9, group="condition")
    assert (rows["clean"]["booked"], rows["clean"]["wrong_automatic"]) == (1, 0)
    assert (rows["gsm"]["booked"], rows["gsm"]["wrong_automatic"]) == (1, 1)
    report = cf.build_report([clean, noisy] * 5, 2, 16, 0.005)
    assert report["per_condition"]["conditions"]["gsm"]["messages"] == 5
    # The wrong booking at 0.95 is in every training part: no threshold books it.
    assert report["by_message"]["mean"]["wrong_automatic"] == 0.0
    assert "per_condition" not in cf.build_report([_outcome("r", "4", 0.9)] * 4, 2, 16, 0.0)
