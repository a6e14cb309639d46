from __future__ import annotations

import pytest

from domain.sms import (
    GSM7,
    UCS2,
    fit,
    fold_accents,
    is_gsm7,
    non_gsm7_chars,
    normalise_typography,
    normalise_whitespace,
    sms_info,
    split_segments,
)

# --------------------------------------------------------------------------- alphabet


@pytest.mark.parametrize("ch", list("éèàùìòÇÉäöüñÄÖÑÜßÆæØøÅå@£$¥§¿¡_'\"\n"))
def test_gsm7_basic_letters(ch: str) -> None:
    assert is_gsm7(ch)
    assert sms_info(ch) == (GSM7, 1, 1)


@pytest.mark.parametrize(
    "ch",
    [
        "ê",
        "â",
        "î",
        "ô",
        "û",
        "ç",  # only the capital Ç is in GSM 03.38
        "ë",
        "ï",
        "ÿ",
        "œ",
        "À",  # à is there, À is not
        "È",
        "Ê",
        "\u2019",  # ’ the word processor apostrophe
        "«",
        "»",
        "\u00a0",  # no-break space
        "…",
        "–",
        "😀",
    ],
)
def test_not_gsm7(ch: str) -> None:
    assert not is_gsm7(ch)
    assert sms_info(ch).encoding == UCS2
    assert non_gsm7_chars(f"a{ch}b{ch}") == [ch]


@pytest.mark.parametrize("ch", list("€[]{}~^|\\\f"))
def test_extension_characters_count_two(ch: str) -> None:
    assert is_gsm7(ch)
    assert sms_info(ch) == (GSM7, 1, 2)
    assert sms_info("a" * 158 + ch) == (GSM7, 1, 160)
    assert sms_info("a" * 159 + ch) == (GSM7, 2, 161)


def test_french_sentence_stays_gsm7_without_circumflex_or_cedilla() -> None:
    text = "Votre enlèvement est confirmé le mardi 8 décembre, réf. AC3D4F. Conseiller : 04 91"
    assert sms_info(text).encoding == GSM7
    assert sms_info("Nous avons bien reçu votre demande").encoding == UCS2
    assert sms_info("Prix : 10 €").length == len("Prix : 10 €") + 1


# --------------------------------------------------------------------------- segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_segments(length: int, segments: int) -> None:
    assert sms_info("a" * length) == (GSM7, segments, length)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_segments(length: int, segments: int) -> None:
    assert sms_info("ê" * length) == (UCS2, segments, length)


def test_ucs2_counts_utf16_code_units() -> None:
    # An emoji is outside the BMP: a surrogate pair, two code units.
    assert sms_info("😀" * 35) == (UCS2, 1, 70)
    assert sms_info("😀" * 36) == (UCS2, 2, 72)


def test_escape_pair_is_never_split_across_parts() -> None:
    # 152 septets + € (2) would straddle the 153 boundary: € moves to part 2.
    text = "a" * 152 + "€" + "a" * 10
    assert sms_info(text) == (GSM7, 2, 164)
    parts = split_segments(text)
    assert [len(p) for p in parts] == [152, 11]
    assert "".join(parts) == text
    # Same length with the € elsewhere fits as usual.
    assert [len(p) for p in split_segments("€" + "a" * 162)] == [152, 11]


def test_extension_padding_can_add_a_segment() -> None:
    # 306 septets is 2 parts by naive division, but the escape pair cannot straddle the first
    # boundary: part 1 holds 152 septets, and the last "a" spills into a third part.
    text = "a" * 152 + "€" + "a" * 152
    assert sms_info(text) == (GSM7, 3, 306)
    assert [len(p) for p in split_segments(text)] == [152, 152, 1]


def test_surrogate_pair_is_never_split() -> None:
    text = "é" * 66 + "ê" + "😀" + "a" * 10
    parts = split_segments(text)
    assert "".join(parts) == text
    assert all("\ud83d" not in p for p in parts)  # no lone surrogate (Python str are code points)
    assert parts[0].endswith("ê")
    assert sms_info(text) == (UCS2, 2, 79)


def test_split_segments_round_trips() -> None:
    for text in ["", "court", "a" * 500, "ê" * 300, "x€" * 120]:
        parts = split_segments(text)
        assert "".join(parts) == text
        assert len(parts) == sms_info(text).segments


# --------------------------------------------------------------------------- normalisation


def test_normalise_whitespace() -> None:
    assert normalise_whitespace("  Bonjour\n\n  madame,\tvotre  RDV \n") == (
        "Bonjour madame, votre RDV"
    )


def test_typography_becomes_gsm7() -> None:
    text = "L\u2019enlèvement\u00a0: «\u202fdemain\u202f» \u2013 c\u0153ur\u2026"
    out = normalise_typography(text)
    assert out == 'L\'enlèvement : " demain " - coeur...'
    assert is_gsm7(out)


def test_decomposed_accents_are_composed() -> None:
    decomposed = "confirme\u0301"  # e + combining acute: not GSM-7 as is
    assert not is_gsm7(decomposed)
    assert normalise_typography(decomposed) == "confirmé"
    assert is_gsm7(normalise_typography(decomposed))


def test_fold_accents() -> None:
    assert fold_accents("août, reçu, fenêtre, À bientôt") == "aout, recu, fenetre, A bientot"
    assert is_gsm7(fold_accents("âêîôûëïÿçÀÂÈÊËÎÏÔÙÛŸ"))


def test_fit_keeps_spelling_when_it_costs_nothing() -> None:
    text, info = fit("Reçu, merci.")
    assert text == "Reçu, merci."
    assert info == (UCS2, 1, 12)


def test_fit_folds_when_it_saves_segments() -> None:
    long = "Enlèvement confirmé le samedi 1er août au 12 boulevard Hodoul, 13009 Marseille. " * 2
    assert sms_info(long).segments == 3  # UCS-2, 162 code units
    text, info = fit(long)
    assert "aout" in text and "août" not in text
    assert info == (GSM7, 1, 160)


def test_fit_applies_typography_first() -> None:
    text, info = fit("L\u2019annulation est enregistrée.")
    assert text == "L'annulation est enregistrée."
    assert info.encoding == GSM7
