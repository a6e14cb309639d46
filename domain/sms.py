"""SMS text arithmetic: GSM 03.38 alphabet detection, UCS-2 fallback, segment counting.

Pure functions, no I/O. Operators bill per segment and a UCS-2 message holds less than half of
a GSM-7 one, so the wording of every SMS is checked against these rules before it is sent.

- GSM-7: 160 septets in a single SMS, 153 per part once concatenated (the UDH takes 7).
  Characters of the extension table (€, [, ], {, }, ~, ^, |, \\, form feed) are sent as
  ESC + char and count 2; the pair is never split across two parts.
- UCS-2: 70 UTF-16 code units in a single SMS, 67 per part. Characters outside the BMP
  (emoji) take a surrogate pair, never split either.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import NamedTuple

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet, in code order (0x1B, the escape to the extension table, is left
# out: it is not a character a text can contain). Note what French misses: lowercase ç (only Ç
# is there), every circumflex (â ê î ô û), ë ï ÿ, œ, À and most capital accented letters but É.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Typography that has an exact GSM-7 look-alike: replacing it changes no word, only glyphs.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2019": "'",  # ’ right single quote, the "French apostrophe" of word processors
        "\u2018": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',  # « »
        "\u00bb": '"',
        "\u00a0": " ",  # no-break spaces before : ; ! ? in French typography
        "\u202f": " ",
        "\u2009": " ",
        "\u2013": "-",  # – —
        "\u2014": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2026": "...",
        "\u0153": "oe",  # œ Œ: the ligature is optional in French spelling
        "\u0152": "OE",
    }
)

# Accented letters GSM-7 lacks, mapped to the letter without the accent. Unlike the typography
# above this does change the spelling ("août" -> "aout", "reçu" -> "recu"), so it is only used
# when it saves segments (see `fit`).
_FOLD = str.maketrans(
    {
        "â": "a",
        "ê": "e",
        "î": "i",
        "ô": "o",
        "û": "u",
        "ë": "e",
        "ï": "i",
        "ÿ": "y",
        "ç": "c",
        "á": "a",
        "í": "i",
        "ó": "o",
        "ú": "u",
        "À": "A",
        "Â": "A",
        "È": "E",
        "Ê": "E",
        "Ë": "E",
        "Î": "I",
        "Ï": "I",
        "Ô": "O",
        "Ù": "U",
        "Û": "U",
        "Ÿ": "Y",
    }
)

_SPACES = re.compile(r"\s+")


class SmsInfo(NamedTuple):
    encoding: str  # GSM7 | UCS2
    segments: int
    length: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def non_gsm7_chars(text: str) -> list[str]:
    """The distinct characters that force UCS-2, in order of appearance (for error messages
    and template checks)."""
    seen: dict[str, None] = {}
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION:
            seen.setdefault(ch, None)
    return list(seen)


def _units(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(units: list[int], single: int, part: int) -> list[int]:
    """Index boundaries of each part. A character never straddles two parts, so a part may hold
    one unit less than `part`."""
    if sum(units) <= single:
        return [0, len(units)]
    bounds, used = [0], 0
    for i, n in enumerate(units):
        if used + n > part:
            bounds.append(i)
            used = 0
        used += n
    bounds.append(len(units))
    return bounds


def sms_info(text: str) -> SmsInfo:
    """(encoding, segments, length) of `text` as a phone network would send it."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = _units(text, encoding)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    segments = max(1, len(_pack(units, single, part)) - 1)
    return SmsInfo(encoding, segments, sum(units))


def split_segments(text: str) -> list[str]:
    """The text of each part, as it would be cut for a concatenated SMS."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = _units(text, encoding)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    bounds = _pack(units, single, part)
    return [text[a:b] for a, b in itertools.pairwise(bounds)] or [""]


def normalise_whitespace(text: str) -> str:
    """One space between words: templates are laid out on several lines for readability, and a
    newline costs a character like any other."""
    return _SPACES.sub(" ", text).strip()


def normalise_typography(text: str) -> str:
    """Curly quotes, guillemets, no-break spaces, dashes, ellipsis and œ to their GSM-7
    equivalents; also composes decomposed accents (e + U+0301 -> é) so they are recognised."""
    return unicodedata.normalize("NFC", text).translate(_TYPOGRAPHY)


def fold_accents(text: str) -> str:
    return text.translate(_FOLD)


def fit(text: str) -> tuple[str, SmsInfo]:
    """The text to send and its SMS info: typography normalised, and accents GSM-7 lacks
    dropped only when that makes the message use fewer segments (a one-part UCS-2 SMS keeps its
    spelling; "août" in a two-part confirmation does not turn it into four parts)."""
    text = normalise_typography(text)
    info = sms_info(text)
    if info.encoding == GSM7:
        return text, info
    folded = fold_accents(text)
    folded_info = sms_info(folded)
    if folded_info.segments < info.segments:
        return folded, folded_info
    return text, info
