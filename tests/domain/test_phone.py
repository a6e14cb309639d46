"""French phone numbers: E.164 and line kinds (ARCEP numbering plan)."""

from __future__ import annotations

import pytest

from domain.phone import LineKind, is_mobile_fr, line_kind, phone_key, to_e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0612345678", "+33612345678"),
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("06-12-34-56-78", "+33612345678"),
        (" 07 98 76 54 32 ", "+33798765432"),
        ("+33612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("+330612345678", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("33612345678", "+33612345678"),
        ("612345678", "+33612345678"),
        ("04 91 55 11 11", "+33491551111"),
        ("09 70 12 34 56", "+33970123456"),
    ],
)
def test_to_e164_french_numbers(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


def test_overseas_numbers_in_national_form_get_their_country_code() -> None:
    assert to_e164("0692 12 34 56") == "+262692123456"
    assert to_e164("0596 12 34 56") == "+596596123456"
    assert to_e164("0639 12 34 56") == "+262639123456"


def test_a_number_given_with_plus_33_keeps_it() -> None:
    assert to_e164("+33 6 92 12 34 56") == "+33692123456"


def test_foreign_numbers_in_international_form_are_kept() -> None:
    assert to_e164("+32 470 12 34 56") == "+32470123456"
    assert to_e164("0032 470 12 34 56") == "+32470123456"


@pytest.mark.parametrize(
    "raw",
    ["", "12345", "06 12 34 56", "06 12 34 56 78 90", "abc", "0012", "+33 1234", "00 12 34 56 78"],
)
def test_to_e164_rejects_what_is_not_a_phone_number(raw: str) -> None:
    assert to_e164(raw) is None


def test_to_e164_only_knows_the_french_plan() -> None:
    with pytest.raises(ValueError):
        to_e164("0470123456", default_country="BE")


@pytest.mark.parametrize(
    ("e164", "kind"),
    [
        ("+33612345678", LineKind.MOBILE),
        ("+33798765432", LineKind.MOBILE),
        ("+33700000000", LineKind.MOBILE),
        ("+33491551111", LineKind.GEOGRAPHIC),
        ("+33142000000", LineKind.GEOGRAPHIC),
        ("+33970123456", LineKind.NON_GEOGRAPHIC),
        ("+33800123456", LineKind.SPECIAL),
        ("+262692123456", LineKind.MOBILE),
        ("+262262123456", LineKind.GEOGRAPHIC),
        ("+596696123456", LineKind.MOBILE),
        ("+32470123456", LineKind.OTHER),
        ("0612345678", LineKind.OTHER),
        ("+3361234567", LineKind.OTHER),
    ],
)
def test_line_kind(e164: str, kind: LineKind) -> None:
    assert line_kind(e164) is kind


def test_only_mobiles_take_sms() -> None:
    assert is_mobile_fr("+33612345678")
    assert is_mobile_fr("+33712345678")
    assert not is_mobile_fr("+33491551111")
    assert not is_mobile_fr("+33970123456")
    assert not is_mobile_fr("+33899123456")
    assert not is_mobile_fr("")


def test_phone_key_is_a_keyed_hash_of_the_e164_number() -> None:
    secret = b"s" * 32
    key = phone_key("+33612345678", secret)
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    assert "612345678" not in key
    assert phone_key("+33612345678", secret) == key
    assert phone_key(to_e164("06 12 34 56 78") or "", secret) == key
    assert phone_key("+33612345679", secret) != key
    assert phone_key("+33612345678", b"t" * 32) != key
    with pytest.raises(ValueError):
        phone_key("+33612345678", b"")
