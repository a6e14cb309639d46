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
    assert to_e164("0596 50 12 34") == "+596596501234"
    assert to_e164("0639 00 12 34") == "+262639001234"


def test_metropolitan_numbers_are_not_taken_for_overseas_ones() -> None:
    # 05 08 is in the south-west of the mainland, not Saint-Pierre-et-Miquelon (+508).
    assert to_e164("05 08 12 34 56") == "+33508123456"


def test_saint_pierre_et_miquelon_numbers_are_accepted() -> None:
    assert to_e164("+508 41 12 34") == "+508411234"
    assert line_kind("+508551234") is LineKind.MOBILE


def test_an_overseas_number_presented_with_plus_33_gets_its_own_code() -> None:
    assert to_e164("+33 6 92 12 34 56") == "+262692123456"


def test_07_00_is_no_mobile() -> None:
    # 07 00 is for machine-to-machine lines (14 digits), not a 10-digit mobile.
    assert to_e164("07 00 12 34 56") == "+33700123456"
    assert not is_mobile_fr("+33700123456")


def test_a_number_in_a_range_the_metadata_does_not_allocate_yet_is_kept() -> None:
    # Operators get new blocks before the metadata knows them: the caller's number is kept,
    # its kind follows the prefix.
    assert to_e164("07 21 13 04 74") == "+33721130474"
    assert is_mobile_fr("+33721130474")


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
        ("+33700000000", LineKind.OTHER),
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
    assert is_mobile_fr("+33781234567")
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
