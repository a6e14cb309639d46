"""Keypad answers on a live call, and the field-by-field read-back: pure rules, no I/O.

Typed digits cannot be misheard, so every slot of the address has a keypad path: the house
number (`#` ends it), the postcode (five keys) and yes/no as 1/2 at every confirmation. When the
caller says no to the whole read-back, asking again for everything makes the same mistake
again; the read-back goes field by field instead (number, then street, then commune, from the
first one not yet said right: domain/dialogue/readback.py), and only the field the caller
rejects is asked again.
"""

from __future__ import annotations

import re
from enum import StrEnum

from domain.numbers import find_numbers

YES_KEY = "1"
NO_KEY = "2"
END_KEY = "#"
# No street number in France goes past four digits; a longer keyed number is a slip.
_HOUSENUMBER_RE = re.compile(r"^[1-9]\d{0,3}$")
_POSTCODE_RE = re.compile(r"^\d{5}$")


class Field(StrEnum):
    """A field of the address read back on its own, in the order they are asked."""

    NUMBER = "number"
    STREET = "street"
    CITY = "city"


FIELD_ORDER = (Field.NUMBER, Field.STREET, Field.CITY)


def keyed_housenumber(digits: str) -> str | None:
    """The house number typed on the keypad ("12#" → "12"), None when it is not one."""
    code = digits.rstrip(END_KEY)
    return code if _HOUSENUMBER_RE.match(code) else None


def keyed_postcode(digits: str) -> str | None:
    """Five keys (an ending `#` allowed) make a postcode; anything else is not one."""
    code = digits.rstrip(END_KEY)
    return code if _POSTCODE_RE.match(code) else None


def keyed_yes_no(digits: str) -> bool | None:
    """1 is yes, 2 is no (an ending `#` allowed); any other key says neither."""
    code = digits.rstrip(END_KEY)
    if code == YES_KEY:
        return True
    if code == NO_KEY:
        return False
    return None


def spoken_housenumber(text: str) -> str | None:
    """The one number said alone ("douze", "le 14") as a house number; None when the words
    hold no number, or several (which one is meant is then a guess)."""
    numbers = find_numbers(text)
    if len(numbers) != 1:
        return None
    return keyed_housenumber(str(numbers[0].value))


def next_field(field: Field | None) -> Field | None:
    """The field read back after `field` (None: the first one); None once all are checked."""
    if field is None:
        return FIELD_ORDER[0]
    i = FIELD_ORDER.index(field)
    return FIELD_ORDER[i + 1] if i + 1 < len(FIELD_ORDER) else None
