from __future__ import annotations

from activities.bookings.references import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    new_reference,
    normalise_reference,
)


def test_reference_alphabet_has_no_ambiguous_characters() -> None:
    # Read aloud or typed from an SMS: digits and letters that look or sound alike are out.
    for ambiguous in "0O1IL2Z5S8B":
        assert ambiguous not in REFERENCE_ALPHABET
    assert REFERENCE_ALPHABET.isalnum() and REFERENCE_ALPHABET.upper() == REFERENCE_ALPHABET
    assert len(set(REFERENCE_ALPHABET)) == len(REFERENCE_ALPHABET)
    refs = {new_reference() for _ in range(2000)}
    assert all(len(r) == REFERENCE_LENGTH and set(r) <= set(REFERENCE_ALPHABET) for r in refs)
    assert len(refs) > 1990  # random, not a counter
    assert normalise_reference(" ac3-d4 f ") == "AC3D4F"
