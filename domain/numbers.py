"""French spoken numbers → digits.

Voicemails arrive as Whisper transcripts in which numbers come either as words ("quarante-cinq",
"treize zéro zéro huit") or as digits ("4 impasse", "13015", "13h15"). Everything downstream
(addresses, phone numbers, counts) wants digits, so this module turns both into the same shape.

Pure functions, standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass

__all__ = [
    "Districts",
    "NumberSpan",
    "OrdinalSpan",
    "PhoneSpan",
    "PostcodeSpan",
    "Token",
    "extract_phone_numbers",
    "extract_postcode",
    "find_arrondissement",
    "find_numbers",
    "find_ordinals",
    "find_phone_numbers",
    "find_postcodes",
    "fold",
    "normalize_housenumber",
    "number_or_word_of",
    "parse_cardinal",
    "parse_ordinal",
    "spoken_to_digits",
    "tokenize",
]

# --------------------------------------------------------------------------- text helpers


def fold(text: str) -> str:
    """Lower-case and strip accents, so that "Zéro", "zero" and "ZÉRO" compare equal.

    Typographic apostrophes become plain ones: Whisper emits both."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.lower().replace("œ", "oe").replace("æ", "ae")


@dataclass(frozen=True)
class Token:
    text: str  # as written
    start: int  # character offsets in the source text
    end: int
    folded: str

    @property
    def is_digits(self) -> bool:
        return self.text.isdigit()


_TOKEN_RE = re.compile(r"\d+|[^\W\d_]+")


def tokenize(text: str) -> list[Token]:
    """Words and digit runs with their offsets; punctuation stays in the gaps between tokens.

    "d'une" gives "d" and "une", "quatre-vingt-dix" three tokens: number and item matching both
    need the parts, and the gaps tell whether the parts were glued by a hyphen or split by a
    comma."""
    return [Token(m.group(), m.start(), m.end(), fold(m.group())) for m in _TOKEN_RE.finditer(text)]


# A number's words may be joined by spaces or a hyphen, never by other punctuation: a comma
# between "dix" and "sept" (a phone number read in pairs) means two numbers, not seventeen.
_INTRA_NUMBER_GAP = re.compile(r"\s*[-‐‑–]?\s*")


def _glued(text: str, left: Token, right: Token) -> bool:
    return _INTRA_NUMBER_GAP.fullmatch(text[left.end : right.start]) is not None


# --------------------------------------------------------------------------- word tables

_ZERO = {"zero"}
_UNITS = {
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "six": 6,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
}
_TEENS = {
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "treize": 13,
    "quatorze": 14,
    "quinze": 15,
    "seize": 16,
}
# Belgian and Swiss forms cost nothing and callers do use them.
_TENS = {
    "vingt": 20,
    "vingts": 20,
    "trente": 30,
    "quarante": 40,
    "cinquante": 50,
    "soixante": 60,
    "septante": 70,
    "huitante": 80,
    "octante": 80,
    "nonante": 90,
}
_HUNDRED = {"cent", "cents"}
_THOUSAND = {"mille", "mil"}
NUMBER_WORDS: frozenset[str] = frozenset(
    _ZERO | set(_UNITS) | set(_TEENS) | set(_TENS) | _HUNDRED | _THOUSAND
)

HOUSE_SUFFIXES = ("bis", "ter", "quater", "quinquies")


# --------------------------------------------------------------------------- cardinal parser


class _Parser:
    """Longest well-formed French cardinal starting at a token.

    Follows the grammar rather than summing every number word in a row, which is what lets
    "treize zéro zéro huit" stay four numbers (a postcode read in groups) while
    "treize mille neuf" is one (13009)."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens

    def word(self, i: int, start: int) -> str:
        if i >= len(self.tokens):
            return ""
        if i > start and not _glued(self.text, self.tokens[i - 1], self.tokens[i]):
            return ""
        return self.tokens[i].folded

    def after_tens(self, tens: int, j: int, start: int) -> tuple[int, int]:
        w = self.word(j, start)
        nxt = self.word(j + 1, start)
        if tens in (60, 80):
            # soixante and quatre-vingt take 1..19 ("soixante-douze", "quatre-vingt-dix-sept").
            if tens == 60 and w == "et" and nxt in ("un", "une", "onze"):
                return tens + (11 if nxt == "onze" else 1), j + 2
            if w == "dix" and nxt in ("sept", "huit", "neuf"):
                return tens + 10 + _UNITS[nxt], j + 2
            if w in _TEENS:
                return tens + _TEENS[w], j + 1
            if w in _UNITS:
                return tens + _UNITS[w], j + 1
            return tens, j
        if w == "et" and nxt in ("un", "une"):
            return tens + 1, j + 2
        if w in _UNITS:
            # "vingt un" without "et" is wrong French but a common transcription.
            return tens + _UNITS[w], j + 1
        return tens, j

    def below_100(self, i: int, start: int) -> tuple[int, int] | None:
        w = self.word(i, start)
        if w in _UNITS:
            if w == "quatre" and self.word(i + 1, start) in ("vingt", "vingts"):
                return self.after_tens(80, i + 2, start)
            return _UNITS[w], i + 1
        if w == "dix":
            nxt = self.word(i + 1, start)
            if nxt in ("sept", "huit", "neuf"):
                return 10 + _UNITS[nxt], i + 2
            return 10, i + 1
        if w in _TEENS:
            return _TEENS[w], i + 1
        if w in _TENS:
            return self.after_tens(_TENS[w], i + 1, start)
        return None

    def below_1000(self, i: int, start: int) -> tuple[int, int] | None:
        w = self.word(i, start)
        if w in _HUNDRED:
            hundreds, j = 100, i + 1
        elif w in _UNITS and w not in ("un", "une") and self.word(i + 1, start) in _HUNDRED:
            hundreds, j = _UNITS[w] * 100, i + 2
        else:
            return self.below_100(i, start)
        rest = self.below_100(j, start)
        return (hundreds + rest[0], rest[1]) if rest else (hundreds, j)

    def cardinal(self, i: int) -> tuple[int, int] | None:
        w = self.word(i, i)
        if w in _ZERO:
            return 0, i + 1
        if w in _THOUSAND:
            thousands, j = 1000, i + 1
        else:
            head = self.below_1000(i, i)
            if head is None:
                return None
            if head[0] >= 2 and self.word(head[1], i) in _THOUSAND:
                thousands, j = head[0] * 1000, head[1] + 1
            else:
                return head
        rest = self.below_1000(j, i)
        return (thousands + rest[0], rest[1]) if rest else (thousands, j)


def parse_cardinal(text: str) -> int | None:
    """The value of a text that is exactly one number ("quatre-vingt-dix-sept" → 97,
    "deux cent trois" → 203, "42" → 42); None when it is not, or holds more than one."""
    tokens = tokenize(text)
    if not tokens:
        return None
    if len(tokens) == 1 and tokens[0].is_digits:
        return int(tokens[0].text)
    result = _Parser(text, tokens).cardinal(0)
    if result is None or result[1] != len(tokens):
        return None
    return result[0]


# --------------------------------------------------------------------------- number spans


@dataclass(frozen=True)
class NumberSpan:
    start: int  # character offsets in the source text
    end: int
    value: int
    # Digits as they should be concatenated into a phone number or postcode: "0" for "zéro",
    # the written form for digit runs so that "06" and "008" keep their leading zeros.
    digits: str
    spoken: bool  # True when said in words
    first_token: int  # token indexes, end exclusive
    last_token: int

    @property
    def is_article(self) -> bool:
        """A lone "un"/"une": the article far more often than the number."""
        return self.spoken and self.last_token - self.first_token == 1 and self.value == 1


# Words after which a lone "neuf" is still a number ("au neuf", "le neuf", "Marseille neuf").
_NUMBER_CONTEXT = frozenset(
    {
        "au",
        "aux",
        "le",
        "la",
        "les",
        "l",
        "du",
        "de",
        "des",
        "d",
        "numero",
        "n",
        "no",
        "et",
        "a",
        "dans",
        "sur",
        "pour",
        "plus",
        "ou",
        "vers",
        "en",
        "est",
        "ai",
        "marseille",
        "rappeler",
        "joindre",
        "c",
    }
)


def _is_adjective_neuf(text: str, tokens: list[Token], i: int) -> bool:
    """The adjective, not 9: "un frigo neuf", "Traverse du Four Neuf".

    Only a lone "neuf" directly after an ordinary word (no punctuation between) is read so;
    after a preposition, a determiner or a comma it stays a number."""
    if i == 0 or tokens[i].folded != "neuf":
        return False
    prev = tokens[i - 1]
    if prev.is_digits or prev.folded in NUMBER_WORDS or prev.folded in _NUMBER_CONTEXT:
        return False
    return re.fullmatch(r"\s+", text[prev.end : tokens[i].start]) is not None


def find_numbers(text: str, tokens: list[Token] | None = None) -> list[NumberSpan]:
    """Every number in the text, in words or digits, left to right."""
    tokens = tokenize(text) if tokens is None else tokens
    parser = _Parser(text, tokens)
    spans: list[NumberSpan] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.is_digits:
            spans.append(NumberSpan(tok.start, tok.end, int(tok.text), tok.text, False, i, i + 1))
            i += 1
            continue
        parsed = parser.cardinal(i)
        if parsed is None:
            i += 1
            continue
        value, j = parsed
        if j == i + 1 and _is_adjective_neuf(text, tokens, i):
            i += 1
            continue
        spans.append(NumberSpan(tok.start, tokens[j - 1].end, value, str(value), True, i, j))
        i = j
    return spans


# --------------------------------------------------------------------------- ordinals

_ORDINAL_DIGITS_RE = re.compile(r"^(\d+)\s*(er|ere|re|e|eme|ieme|nd|nde)$")
_ORDINAL_WORDS = {"premier": 1, "premiere": 1, "second": 2, "seconde": 2}
# Stems whose "-ième" form changes the cardinal's spelling.
_ORDINAL_STEMS = {"cinqu": "cinq", "neuv": "neuf", "un": "un"}


def _ordinal_base(word: str) -> str | None:
    """The cardinal an "-ième" word is built on: "huitième" → "huit", "onzième" → "onze"."""
    w = fold(word)
    if not w.endswith("ieme") or len(w) <= 4:
        return None
    stem = w[:-4]
    if stem in _ORDINAL_STEMS:
        return _ORDINAL_STEMS[stem]
    for candidate in (stem, stem + "e"):
        if candidate in NUMBER_WORDS:
            return candidate
    return None


def parse_ordinal(text: str) -> int | None:
    """The value of one ordinal: "huitième" → 8, "premier" → 1, "1er" → 1,
    "8e" / "8ème" / "8eme" → 8, "vingt et unième" → 21; None when the text is not one."""
    f = fold(text).strip()
    m = _ORDINAL_DIGITS_RE.match(f)
    if m:
        return int(m.group(1))
    if f in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[f]
    parts = f.replace("-", " ").split()
    if not parts:
        return None
    base = _ordinal_base(parts[-1])
    if base is None:
        return None
    return parse_cardinal(" ".join([*parts[:-1], base]))


def number_or_word_of(token: Token, words: Collection[str]) -> bool:
    """Whether a token is one of `words` (folded), digits, a single character, a number or an
    ordinal: what may stand between an address and a place said with it (« bâtiment B, au
    troisième étage »)."""
    return (
        token.folded in words
        or token.is_digits
        or len(token.text) == 1
        or parse_cardinal(token.text) is not None
        or parse_ordinal(token.text) is not None
    )


@dataclass(frozen=True)
class OrdinalSpan:
    start: int
    end: int
    value: int
    first_token: int
    last_token: int  # exclusive


_DIGIT_ORDINAL_SUFFIXES = frozenset({"er", "ere", "re", "e", "eme", "ieme", "nd", "nde"})


def find_ordinals(text: str, tokens: list[Token] | None = None) -> list[OrdinalSpan]:
    """Ordinals in words ("quatrième", "vingt et unième", "premier") or digits ("8e", "1er",
    "13ème", "8 ème")."""
    tokens = tokenize(text) if tokens is None else tokens
    spans: list[OrdinalSpan] = []
    for k, tok in enumerate(tokens):
        if tok.is_digits:
            if k + 1 < len(tokens) and tokens[k + 1].folded in _DIGIT_ORDINAL_SUFFIXES:
                nxt = tokens[k + 1]
                if re.fullmatch(r" ?", text[tok.end : nxt.start]):
                    spans.append(OrdinalSpan(tok.start, nxt.end, int(tok.text), k, k + 2))
            continue
        if tok.folded in _ORDINAL_WORDS:
            spans.append(OrdinalSpan(tok.start, tok.end, _ORDINAL_WORDS[tok.folded], k, k + 1))
            continue
        base = _ordinal_base(tok.folded)
        if base is None:
            continue
        # Compound ordinals: extend backwards over glued number words ("trente et unième").
        found = OrdinalSpan(tok.start, tok.end, parse_cardinal(base) or 0, k, k + 1)
        for first in range(max(0, k - 5), k):
            words = tokens[first:k]
            if not all(_glued(text, a, b) for a, b in zip(words, [*words[1:], tok], strict=True)):
                continue
            value = parse_cardinal(" ".join([*(w.folded for w in words), base]))
            if value is not None:
                found = OrdinalSpan(tokens[first].start, tok.end, value, first, k + 1)
                break
        spans.append(found)
    return spans


# --------------------------------------------------------------------------- digit runs

# Between the groups of a phone number or a postcode read aloud: spaces, commas, dots, dashes.
_GROUP_GAP = re.compile(r"[\s,.;:/()\-–]*")


def _runs(text: str, spans: list[NumberSpan]) -> list[list[NumberSpan]]:
    """Consecutive number spans separated by nothing but group punctuation."""
    runs: list[list[NumberSpan]] = []
    for span in spans:
        if runs and _GROUP_GAP.fullmatch(text[runs[-1][-1].end : span.start]):
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


@dataclass(frozen=True)
class PhoneSpan:
    start: int
    end: int
    digits: str  # national form "0612345678", or "+33612345678" when said with the prefix


_PLUS_BEFORE = re.compile(r"(?:\+|\bplus)\s*$", re.IGNORECASE)


def find_phone_numbers(text: str, spans: list[NumberSpan] | None = None) -> list[PhoneSpan]:
    """French phone numbers, whatever the grouping: "zéro sept, quarante-neuf, soixante-quinze,
    quatre-vingt-deux, zéro neuf", "06 12 34 56 78", "0612345678", "+33 6 12 34 56 78",
    "plus trente-trois six ...", "00 33 6 ..."."""
    spans = find_numbers(text) if spans is None else spans
    found: list[PhoneSpan] = []
    for run in _runs(text, spans):
        k = 0
        while k < len(run):
            plus = _PLUS_BEFORE.search(text, max(0, run[k].start - 8), run[k].start) is not None
            digits = ""
            matched = None
            for m in range(k, len(run)):
                digits += run[m].digits
                if plus and re.fullmatch(r"33[1-9]\d{8}", digits):
                    matched = (m, "+" + digits)
                elif plus and re.fullmatch(r"330[1-9]\d{8}", digits):
                    # "+33 (0)6 ...": the bracketed trunk zero is not dialled.
                    matched = (m, "+33" + digits[3:])
                elif re.fullmatch(r"0033[1-9]\d{8}", digits):
                    matched = (m, "+" + digits[2:])
                elif re.fullmatch(r"0[1-9]\d{8}", digits):
                    matched = (m, digits)
                if matched or len(digits) >= 13:
                    break
            if matched:
                m, value = matched
                start = run[k].start
                if plus:
                    prefix = _PLUS_BEFORE.search(text, max(0, start - 8), start)
                    start = prefix.start() if prefix else start
                found.append(PhoneSpan(start, run[m].end, value))
                k = m + 1
            else:
                k += 1
    return found


@dataclass(frozen=True)
class PostcodeSpan:
    start: int
    end: int
    postcode: str


@dataclass(frozen=True)
class Districts:
    """A city divided into numbered arrondissements, as callers name them ("Marseille
    huitième", "dans le 8e") and say their postcodes ("treize quinze" for 13015). A value of
    the territory (domain/understanding/territory.py), which reads it from its files."""

    city: str  # the city's name, folded: "marseille"
    department: str  # the digits its postcodes start with: "13"
    postcodes: Mapping[int, str]  # arrondissement number -> postcode: 15 -> "13015"

    def written_together(self, digits: str) -> str | None:
        """The postcode of "1313": the department and the arrondissement as one number."""
        head = self.department
        if len(digits) != len(head) + 2 or not digits.startswith(head):
            return None
        return self.postcodes.get(int(digits[len(head) :]))


_POSTCODE_RE = re.compile(r"(?:0[1-9]|[1-8]\d|9[0-5])\d{3}|97[1-6]\d{2}|98[4-9]\d{2}")
# Whisper hears "treize zéro quinze" as a time of day: "13h15", "13 h 08".
_HOUR_ARTEFACT_RE = re.compile(r"\b(\d{2})\s?[hH]\s?(\d{1,3})\b")


def find_postcodes(
    text: str,
    *,
    in_address: bool = False,
    spans: list[NumberSpan] | None = None,
    districts: Districts | None = None,
) -> list[PostcodeSpan]:
    """Postcodes read in one go ("treize mille neuf" → 13009), in groups ("treize zéro quinze",
    "treize zéro zéro huit", "13 008", "13.008"), digit by digit, or written ("13015").

    `in_address=True` says the text sits where a postcode is expected (right after a street
    name) and also accepts what would be too loose elsewhere, for the city of `districts`:
    "13h15" (a transcription of "treize zéro quinze" as a time) and Marseille's "treize
    quinze" shorthand for 13015."""
    spans = find_numbers(text) if spans is None else spans
    phones = find_phone_numbers(text, spans)
    spans = [s for s in spans if not any(p.start <= s.start < p.end for p in phones)]
    found: list[PostcodeSpan] = []
    local = districts if in_address else None
    if local is not None:
        for m in _HOUR_ARTEFACT_RE.finditer(text):
            code = m.group(1) + m.group(2).zfill(3)
            if m.group(1) == local.department and _POSTCODE_RE.fullmatch(code):
                found.append(PostcodeSpan(m.start(), m.end(), code))
    for run in _runs(text, spans):
        k = 0
        while k < len(run):
            if run[k].value == 0 or any(f.start <= run[k].start < f.end for f in found):
                k += 1
                continue
            read = _postcode_at(run, k, local)
            if read is not None and read[0] < len(run) - 1:
                # A postcode ends its run of numbers, the house number before it: « au
                # treize, treize cinq cents Martigues » (commas lost) is 13 and 13500, not
                # the shorthand 13013 and 500; « au un treize zéro zéro un » is 1 and 13001,
                # not 11300 and 0, 1.
                later = _postcode_at(run, k + 1, local)
                if later is not None and later[0] == len(run) - 1:
                    k += 1
                    continue
            if read is None:
                k += 1
                continue
            last, code = read
            found.append(PostcodeSpan(run[k].start, run[last].end, code))
            k = last + 1
    found.sort(key=lambda p: p.start)
    return found


def _postcode_at(run: list[NumberSpan], k: int, local: Districts | None) -> tuple[int, str] | None:
    """(index of the run's last span read, postcode) for a postcode said from span k of a run
    of numbers, or None."""
    digits = ""
    hit = None
    for idx in range(k, len(run)):
        digits += run[idx].digits
        if len(digits) >= 5:
            if len(digits) == 5 and _POSTCODE_RE.fullmatch(digits):
                hit = idx
            break
    together = local.written_together(run[k].digits) if local else None
    if hit is None and together:
        # "1313 Marseille": "treize treize" written as one number.
        return k, together
    if hit is None and local and run[k].digits == local.department:
        # "treize quinze", "treize zéro huit": only a Marseille arrondissement makes sense
        # for four digits in an address.
        tail, last = "", None
        for idx in range(k + 1, min(k + 3, len(run))):
            tail += run[idx].digits
            if int(tail) in local.postcodes:
                last = idx
        if last is not None:
            value = int("".join(s.digits for s in run[k + 1 : last + 1]))
            return last, local.postcodes[value]
    if (
        hit is not None
        and digits.endswith("000")
        and not run[hit].spoken
        and hit + 1 < len(run)
        and run[hit + 1].spoken
        and run[hit + 1].value < 1000
    ):
        # "13 000 quatre": "treize mille quatre" half turned into digits.
        return hit + 1, str(int(digits) + run[hit + 1].value)
    return (hit, digits) if hit is not None else None


def extract_phone_numbers(text: str) -> list[str]:
    """The phone numbers said or written in the text, as digit strings ("0612345678", or
    "+33612345678" when said with the prefix); pass them to `domain.phone.to_e164`."""
    return [p.digits for p in find_phone_numbers(text)]


def extract_postcode(
    text: str, *, in_address: bool = False, districts: Districts | None = None
) -> str | None:
    """The first postcode in the text, if any (see `find_postcodes`)."""
    found = find_postcodes(text, in_address=in_address, districts=districts)
    return found[0].postcode if found else None


# --------------------------------------------------------------------------- arrondissements


def find_arrondissement(text: str, districts: Districts, *, in_address: bool = False) -> int | None:
    """The arrondissement of the districts' city named in the text, if any: "dans le onzième
    (arrondissement)", "Marseille huitième", "Marseille 8e", "8ème arrondissement",
    "Marseille 8", "dans le 1er".

    `in_address=True` says the text follows a street name, where a bare ordinal ("Rue Paradis,
    8e") can only be the arrondissement."""
    tokens = tokenize(text)
    for o in find_ordinals(text, tokens):
        if o.value not in districts.postcodes:
            continue
        before = [t.folded for t in tokens[max(0, o.first_token - 2) : o.first_token]]
        after = tokens[o.last_token].folded if o.last_token < len(tokens) else ""
        if after in _NOT_AN_ARRONDISSEMENT:
            continue
        if after.startswith("arr") or (before and before[-1] == districts.city):
            return o.value
        if before[-2:] == ["dans", "le"] or (in_address and o.first_token == 0):
            return o.value
    for span in find_numbers(text, tokens):
        if span.value not in districts.postcodes or span.first_token == 0:
            continue
        prev = tokens[span.first_token - 1].folded
        nxt = tokens[span.last_token].folded if span.last_token < len(tokens) else ""
        if nxt.startswith("arrondissement"):
            return span.value
        if span.is_article:
            continue  # « Marseille, une armoire »: nobody says « Marseille un » for the 1st
        # "Marseille 8" / "Marseille huit", but not "Marseille 13 008" (a postcode).
        gap = text[span.end : tokens[span.last_token].start] if nxt else ""
        followed_by_number = nxt.isdigit() or nxt in NUMBER_WORDS
        if prev == districts.city and not (followed_by_number and _GROUP_GAP.fullmatch(gap)):
            return span.value
    return None


# "dans le premier étage", "dans le deuxième bâtiment": an ordinal that is not a district.
_NOT_AN_ARRONDISSEMENT = frozenset(
    {"etage", "batiment", "bat", "escalier", "immeuble", "appartement", "sous", "porte"}
)


# --------------------------------------------------------------------------- house numbers

_HOUSENUMBER_RE = re.compile(
    r"^\s*(\d+)\s*[-,]?\s*(bis|ter|quater|quinquies|[a-h])?\s*$", re.IGNORECASE
)


def normalize_housenumber(raw: str) -> str:
    """A house number as the BAN writes it: "12bis" → "12 bis", "4 B" → "4 b",
    "douze ter" → "12 ter"; "" when the text is not a house number."""
    text = raw.strip()
    words = fold(text).split()
    if words and words[-1] in HOUSE_SUFFIXES:
        number = parse_cardinal(" ".join(words[:-1]))
        if number is not None:
            return f"{number} {words[-1]}"
    m = _HOUSENUMBER_RE.match(fold(text))
    if m:
        suffix = m.group(2)
        return f"{int(m.group(1))} {suffix.lower()}" if suffix else str(int(m.group(1)))
    number = parse_cardinal(text)
    return str(number) if number is not None else ""


# --------------------------------------------------------------------------- rewriting


def spoken_to_digits(text: str, *, keep_articles: bool = True) -> str:
    """The text with numbers said in words written in digits, the way a transcript with
    numerals would read: "au quatre Impasse Dupré, treize zéro quinze" → "au 4 Impasse Dupré,
    13015"; phone numbers read in pairs become one run of ten digits, ordinals "8e".

    A lone "un"/"une" stays a word unless `keep_articles` is False: it is usually the article
    ("un canapé"); count extraction reads it as 1 itself."""
    tokens = tokenize(text)
    spans = find_numbers(text, tokens)
    phones = find_phone_numbers(text, spans)
    postcodes = find_postcodes(text, spans=spans)
    replacements: list[tuple[int, int, str]] = [(p.start, p.end, p.digits) for p in phones]
    replacements += [(p.start, p.end, p.postcode) for p in postcodes]

    def taken(start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _ in replacements)

    for o in find_ordinals(text, tokens):
        if not taken(o.start, o.end) and not tokens[o.first_token].is_digits:
            replacements.append((o.start, o.end, "1er" if o.value == 1 else f"{o.value}e"))
    for span in spans:
        if not span.spoken or taken(span.start, span.end):
            continue
        if keep_articles and span.is_article:
            continue
        replacements.append((span.start, span.end, span.digits))
    out = text
    for start, end, value in sorted(replacements, reverse=True):
        out = out[:start] + value + out[end:]
    return out
