"""A street name spelled on the phone, letter by letter, and the street of the gazetteer it
names: pure rules, no I/O.

Callers spell in several ways, often mixed in one answer, and the transcript shows them as
Whisper heard them:
- plain letters: "C, A, N, N, E, B, I, È, R, E", or their names ("cé", "elle", "erre");
- the French radio alphabet and its kin: "C comme Célestin", "A comme Anatole" (the letter
  is the first one of the word after "comme", which any first name gives, and which is
  heard better than a lone letter), or the words alone ("Anatole, Berthe");
- doubles: "deux L", "double L" ("double V" is a W);
- accents said or not ("E accent grave"), all ignored; "tiret", "espace", "apostrophe".

A caller may also type the name on the keypad, one key per letter (ITU-T E.161: 2 = ABC …
9 = WXYZ), `#` at the end, as the name has no letter a key cannot give and no key is
misheard; the keys say which key, not which of its letters, so a street is found only when
its name (or a variant, as below) gives exactly those keys and no other street's does.

The letters are then matched against the names of the streets of the postcode (or commune)
already understood, with and without their type and articles, and the last word alone (a
caller spelling "Rue Edmond Rostand" may spell only "Rostand"), counting the letters missed,
added or misheard. A match must stand clear of the next street (by two letters, or be the
only one spelled exactly): two close candidates are no answer, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from domain.geotext import ARTICLES, fold, split_type

# At least this many letters make a spelling (a street name is longer; fewer is noise).
MIN_LETTERS = 3
# A spelled name may be this many letters off a street's (a letter missed, doubled, misheard),
# one per MAX_ERRORS_PER letters, at least one.
MAX_ERRORS_PER = 4
# The next street must be at least this many more letters off: otherwise which one the
# caller meant is a guess.
MIN_MARGIN = 2

_LETTER_NAMES = {
    "a": "a", "ah": "a",
    "b": "b", "be": "b", "bee": "b",
    "c": "c", "ce": "c", "se": "c",
    "d": "d", "de": "d",
    "e": "e", "eu": "e",
    "f": "f", "ef": "f", "effe": "f",
    "g": "g", "ge": "g",
    "h": "h", "ache": "h", "hache": "h",
    "i": "i",
    "j": "j", "ji": "j", "gi": "j",
    "k": "k", "ka": "k",
    "l": "l", "el": "l", "elle": "l", "aile": "l",
    "m": "m", "em": "m", "emme": "m", "aime": "m",
    "n": "n", "en": "n", "enne": "n", "haine": "n",
    "o": "o", "oh": "o", "eau": "o",
    "p": "p", "pe": "p",
    "q": "q", "qu": "q", "ku": "q", "cu": "q",
    "r": "r", "er": "r", "erre": "r", "air": "r", "ere": "r",
    "s": "s", "es": "s", "esse": "s",
    "t": "t", "te": "t",
    "u": "u",
    "v": "v", "ve": "v",
    "w": "w",
    "x": "x", "ix": "x", "ixe": "x", "iks": "x",
    "y": "y", "igrec": "y", "i grec": "y",
    "z": "z", "zed": "z", "zede": "z",
}  # fmt: skip
# The French radio alphabet and the international one: a word alone stands for its initial.
_RADIO_WORDS = frozenset([
    "anatole", "berthe", "celestin", "desire", "eugene", "emile", "francois", "gaston",
    "henri", "irma", "joseph", "kleber", "louis", "marcel", "nicolas", "oscar", "pierre",
    "quintal", "raoul", "suzanne", "therese", "ursule", "victor", "william", "xavier",
    "yvonne", "zoe",
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "juliett", "kilo", "lima", "mike", "november", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "whisky", "whiskey", "xray", "yankee", "zulu",
])  # fmt: skip
_DOUBLE_WORDS = frozenset({"deux", "double", "2"})
_SEPARATORS = {"tiret": "-", "trait d union": "-", "espace": " ", "apostrophe": " "}
# Said around the letters, and no letter themselves.
_NOISE = frozenset([
    "accent", "aigu", "grave", "circonflexe", "trema", "cedille", "majuscule", "minuscule",
    "puis", "et", "alors", "donc", "voila", "voici", "ca", "ecrit", "epelle", "epeler", "je",
    "vous", "le", "la", "les", "nom", "de", "rue", "est", "oui", "comment", "dire", "avec",
    "euh", "hum",
])  # fmt: skip
_NOISE_PAIRS = frozenset({"c est", "s ecrit", "j epelle", "ca s", "je epelle"})
_COMME = "comme"
_TOKEN_RE = re.compile(r"[a-z0-9]+")


# ITU-T E.161: the letters of each key of a phone keypad.
KEYPAD = {
    "2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv",
    "9": "wxyz",
}  # fmt: skip
_KEY_OF = {letter: key for key, letters in KEYPAD.items() for letter in letters}
# At least this many keys make a typed name (three keys fit dozens of streets' names).
MIN_KEYS = 4


@dataclass(frozen=True)
class SpelledStreet:
    """The street a spelling names: `street` is the gazetteer's name ("" when none stands
    clear); `errors` how many letters off it is, `runner_up` how many the next street is
    (-1: none)."""

    street: str = ""
    errors: int = -1
    runner_up: int = -1

    @property
    def found(self) -> bool:
        return bool(self.street)


def parse_spelling(text: str) -> str | None:
    """The letters spelled in `text`, lowercase without accents, with "-" for "tiret" and " "
    for "espace" ("C comme Célestin, A, deux N" → "cann"); None when the words hold fewer
    than MIN_LETTERS letters (not a spelling)."""
    words = _TOKEN_RE.findall(fold(text))
    out: list[str] = []
    i = 0
    double = False
    last_end = -1  # where the words of the last letter added end
    while i < len(words):
        word = words[i]
        pair = " ".join(words[i : i + 2])
        if word == _COMME:
            # "R comme Robert": the letter is the initial of the word after "comme" ("comme
            # dans Robert" too); the letter said before it, heard alone and worse, gives way.
            j = i + 2 if pair == "comme dans" else i + 1
            if j < len(words) and words[j][0].isalpha():
                if out and last_end == i:
                    out.pop()
                out.append(words[j][0])
                last_end = j + 1
            i = j + 1
            continue
        if pair in _NOISE_PAIRS:
            i += 2
            continue
        if " ".join(words[i : i + 3]) in _SEPARATORS:
            out.append(_SEPARATORS[" ".join(words[i : i + 3])])
            i += 3
            continue
        if word == "double" and i + 1 < len(words) and words[i + 1] in ("v", "ve"):
            out.append("w")  # "double vé" is how W is said
            i, last_end = i + 2, i + 2
            continue
        if word in _DOUBLE_WORDS:
            double = True
            i += 1
            continue
        if word in _SEPARATORS:
            out.append(_SEPARATORS[word])
            double = False
            i += 1
            continue
        letter, size = _letter_at(words, i)
        i += size
        if letter:
            out.extend([letter, letter] if double else [letter])
            last_end = i
        double = False
    letters = re.sub(r"([ -])[ -]+", r"\1", "".join(out)).strip(" -")
    if sum(c.isalpha() for c in letters) < MIN_LETTERS:
        return None
    return letters


def _letter_at(words: list[str], i: int) -> tuple[str, int]:
    """The letter the words at `i` stand for ("" for none) and how many words it took."""
    pair = " ".join(words[i : i + 2])
    if pair in _LETTER_NAMES:
        return _LETTER_NAMES[pair], 2
    word = words[i]
    if word in _NOISE:
        # "de" is a D only among letters ("C, O, dé, E"), a preposition otherwise.
        if word in _LETTER_NAMES and _among_letters(words, i):
            return _LETTER_NAMES[word], 1
        return "", 1
    return _letter(word), 1


def _letter(word: str) -> str:
    """The letter a word stands for ("" for none): a letter, a letter's name, a radio word."""
    if word in _LETTER_NAMES:
        return _LETTER_NAMES[word]
    if word in _RADIO_WORDS:
        return word[0]
    return ""


def _among_letters(words: list[str], i: int) -> bool:
    before = i > 0 and bool(_letter(words[i - 1]))
    after = i + 1 < len(words) and bool(_letter(words[i + 1]))
    return before or after


def _bare(text: str) -> str:
    return re.sub(r"[^a-z]", "", fold(text))


def street_variants(name: str) -> set[str]:
    """The ways a caller may spell a street's name, letters only: whole, without its type,
    without type and articles, and its last word alone when it is a name of its own."""
    words = fold(name).split()
    _type, rest = split_type(words)
    bare = [w for w in rest if w not in ARTICLES] or rest
    variants = {"".join(words), "".join(rest), "".join(bare)}
    if len(bare) > 1 and len(bare[-1]) >= 4:
        variants.add(bare[-1])
    return {v for v in variants if len(v) >= MIN_LETTERS}


def match_spelled(letters: str, streets: Iterable[str]) -> SpelledStreet:
    """The street among `streets` (the gazetteer's names for the place already understood)
    that `letters` spells; none when no street comes close enough, or when another one
    comes nearly as close (the caller is asked again, or a person takes over: never a
    guess)."""
    spelled = _bare(letters)
    if len(spelled) < MIN_LETTERS:
        return SpelledStreet()
    errors: dict[str, int] = {}
    for name in streets:
        variants = street_variants(name)
        if variants:
            errors[name] = min(Levenshtein.distance(spelled, v) for v in variants)
    ranked = sorted(errors.items(), key=lambda kv: kv[1])
    if not ranked:
        return SpelledStreet()
    name, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else -1
    allowed = max(1, len(spelled) // MAX_ERRORS_PER)
    # An exact spelling of one street is an answer; an approximate one must stand clear.
    margin = 1 if best == 0 else MIN_MARGIN
    if best > allowed or (runner_up >= 0 and runner_up - best < margin):
        return SpelledStreet(errors=best, runner_up=runner_up)
    return SpelledStreet(street=name, errors=best, runner_up=runner_up)


def keypad_code(name: str) -> str:
    """The keys that type `name`, one per letter (accents, spaces and signs dropped)."""
    return "".join(_KEY_OF[c] for c in _bare(name))


def keyed_letters(digits: str) -> str | None:
    """Keys typed as a name (`#` ending them allowed); None when they cannot be one: too few,
    or a key with no letter (0, 1, *)."""
    code = digits.rstrip("#")
    if len(code) < MIN_KEYS or not set(code) <= KEYPAD.keys():
        return None
    return code


def match_keyed(keys: str, streets: Iterable[str]) -> SpelledStreet:
    """The street among `streets` whose name, or one of its variants (street_variants),
    types exactly `keys`; none when no street does or when several do (errors 0, runner-up
    0: which one the caller meant is a guess)."""
    found = sorted(
        {name for name in streets if any(keypad_code(v) == keys for v in street_variants(name))}
    )
    if len(found) == 1:
        return SpelledStreet(street=found[0], errors=0)
    return SpelledStreet(errors=0 if found else -1, runner_up=0 if found else -1)
