"""French street-name normalisation for gazetteer matching.

Pure functions, no I/O. Two representations of a street name are produced:

- a *key*: folded text (lowercase, no accents, no punctuation), street type canonicalised
  ("bd" -> "boulevard"), articles dropped, "saint/ste/st" unified, numbers spelled out;
- a *phonetic key*: a rough French pronunciation in the spirit of addok-fr's `phonemicize`, so
  that transcription near-misses that sound alike ("boulevard au doux" / "Boulevard Hodoul",
  "en passe du prêt" / "Impasse Dupré") end up with close keys.

Both sides (gazetteer and spoken address) go through the same functions, so the rules only need
to be consistent, not linguistically perfect.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

# Bump whenever a rule changes: cached gazetteer indexes embed precomputed keys.
VERSION = "8"

# Canonical street type -> spellings and abbreviations (folded). Multi-word forms are matched
# before single words. Plural/singular variants that sound the same map to one type because a
# caller cannot tell "allée" from "allées".
_STREET_TYPE_VARIANTS: dict[str, tuple[str, ...]] = {
    "rue": ("rue", "r", "rues"),
    "ruelle": ("ruelle", "rle"),
    "boulevard": ("boulevard", "boulevards", "bd", "bld", "blvd", "bvd", "boul", "bouvelard"),
    "avenue": ("avenue", "av", "ave", "aven", "avn"),
    "chemin": ("chemin", "ch", "chem", "che", "chm"),
    "impasse": ("impasse", "imp", "impa"),
    "traverse": ("traverse", "trav", "tra", "trv"),
    "place": ("place", "pl", "plce"),
    "placette": ("placette", "plte"),
    "allee": ("allee", "allees", "all", "al", "ale"),
    "route": ("route", "rte"),
    "quai": ("quai", "qu", "qai"),
    "cours": ("cours", "crs", "cour"),
    "square": ("square", "sq", "squ"),
    "montee": ("montee", "mte", "montees"),
    "passage": ("passage", "pass", "psg", "pas"),
    "rond point": ("rond point", "ront point", "rd pt", "rdpt", "rpt", "rond pt"),
    "esplanade": ("esplanade", "esp", "espl"),
    "promenade": ("promenade", "prom"),
    "escalier": ("escalier", "escaliers", "esc"),
    "corniche": ("corniche", "corn"),
    "residence": ("residence", "res", "resid"),
    "lotissement": ("lotissement", "lot", "lotis"),
    "hameau": ("hameau", "ham", "hameaux"),
    "lieu dit": ("lieu dit", "ld"),
    "faubourg": ("faubourg", "fg", "fbg"),
    "domaine": ("domaine", "dom"),
    "quartier": ("quartier", "qua", "qrt"),
    "sentier": ("sentier", "sent"),
    "carrefour": ("carrefour", "car", "carr"),
    "parvis": ("parvis", "parv"),
    "vallon": ("vallon", "val"),
    "plateau": ("plateau", "plt"),
    "clos": ("clos",),
    "cite": ("cite", "cites"),
    "tunnel": ("tunnel",),
    "viaduc": ("viaduc",),
    "digue": ("digue",),
    "pont": ("pont",),
    "porte": ("porte",),
    "rampe": ("rampe", "rpe"),
    "passerelle": ("passerelle",),
    "voie": ("voie",),
    "chaussee": ("chaussee", "chs"),
    "plage": ("plage",),
    "port": ("port",),
    "echangeur": ("echangeur",),
    "autoroute": ("autoroute",),
    "bretelle": ("bretelle",),
}

_TYPE_LOOKUP: dict[tuple[str, ...], str] = {
    tuple(variant.split()): canonical
    for canonical, variants in _STREET_TYPE_VARIANTS.items()
    for variant in variants
}
_MAX_TYPE_WORDS = max(len(k) for k in _TYPE_LOOKUP)
_SINGLE_WORD_TYPES = tuple(t for t in _STREET_TYPE_VARIANTS if " " not in t and len(t) >= 4)

# Types a caller (or the transcription) plausibly swaps for one another.
_RELATED_TYPES: set[frozenset[str]] = {
    frozenset(pair)
    for pair in (
        ("rue", "ruelle"),
        ("place", "placette"),
        ("place", "square"),
        ("boulevard", "avenue"),
        ("chemin", "route"),
        ("chemin", "traverse"),
        ("impasse", "passage"),
        ("montee", "rampe"),
        ("montee", "chemin"),
        ("allee", "avenue"),
        ("escalier", "montee"),
        ("cours", "boulevard"),
        ("rond point", "place"),
        ("residence", "cite"),
        ("residence", "lotissement"),
        ("residence", "domaine"),
    )
}

# Articles and particles: carry little information and are the first thing a transcription
# mangles ("de la" / "de l'" / "des").
ARTICLES: frozenset[str] = frozenset(
    {"de", "du", "des", "la", "le", "les", "l", "d", "au", "aux", "a", "en", "et"}
)

_SAINT = {"saint": "st", "saints": "st", "sainte": "st", "saintes": "st", "st": "st", "ste": "st"}
_SAINT.update({"sts": "st", "stes": "st"})

# Abbreviated titles found in official names (AFNOR style) and sometimes in transcripts.
_TITLES = {
    "gal": "general",
    "gen": "general",
    "mal": "marechal",
    "pdt": "president",
    "pres": "president",
    "cdt": "commandant",
    "cmdt": "commandant",
    "dr": "docteur",
    "doct": "docteur",
    "prof": "professeur",
    "lt": "lieutenant",
    "lieut": "lieutenant",
    "cne": "capitaine",
    "adj": "adjudant",
    "sgt": "sergent",
    "mgr": "monseigneur",
    "nd": "notre dame",
    "ml": "mademoiselle",
    "mme": "madame",
    "mlle": "mademoiselle",
    "abbe": "abbe",
}

# --------------------------------------------------------------------------- folding


def fold(text: str, keep_e_accents: bool = False) -> str:
    """Lowercase, strip accents, turn punctuation (apostrophes, hyphens, dots) into spaces and
    collapse whitespace.

    keep_e_accents: é/è/ê/ë become "E" instead of "e". Phonetics need it: a final "é" is
    pronounced and a final "e" is not ("Dupré" sounds like "du prêt", "Rome" unlike "Rhône"),
    and the marker keeps the same number of letters, so tokens stay aligned with `fold`."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    if keep_e_accents:
        text = re.sub(r"[éèêë]", "E", unicodedata.normalize("NFC", text))
    decomposed = unicodedata.normalize("NFKD", text)
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = re.sub(r"[^a-z0-9E]+" if keep_e_accents else r"[^a-z0-9]+", " ", without_marks)
    return " ".join(cleaned.split())


_UNITS = (
    *("zero", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    *("dix", "onze", "douze", "treize", "quatorze", "quinze", "seize"),
    *("dix-sept", "dix-huit", "dix-neuf"),
)
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def number_to_words(n: int) -> str:
    """French cardinal words for 0 <= n < 1,000,000 (hyphens as spaces, folded)."""
    if n < 0 or n >= 1_000_000:
        return str(n)
    if n < 20:
        return _UNITS[n].replace("-", " ")
    if n < 100:
        tens, unit = divmod(n, 10)
        if tens in (7, 9):
            base = "soixante" if tens == 7 else "quatre vingt"
            teen = number_to_words(10 + unit)
            joiner = " et " if tens == 7 and unit == 1 else " "
            return f"{base}{joiner}{teen}"
        if tens == 8:
            return "quatre vingts" if unit == 0 else f"quatre vingt {number_to_words(unit)}"
        word = _TENS[tens]
        if unit == 0:
            return word
        return f"{word} et un" if unit == 1 else f"{word} {number_to_words(unit)}"
    return _hundreds_and_thousands(n, number_to_words)


def _hundreds_and_thousands(n: int, words: Callable[[int], str]) -> str:
    """100 <= n < 1,000,000, the parts below a hundred written by `words` (spaced or
    hyphenated: the rules for "cent(s)" and "mille" are the same)."""
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = "cent" if hundreds == 1 else f"{words(hundreds)} cent"
        if rest == 0:
            return head + ("s" if hundreds > 1 else "")
        return f"{head} {words(rest)}"
    thousands, rest = divmod(n, 1000)
    head = "mille" if thousands == 1 else f"{words(thousands)} mille"
    return head if rest == 0 else f"{head} {words(rest)}"


def _ordinal_words(n: int) -> str:
    if n == 1:
        return "premier"
    words = number_to_words(n).split()
    last = words[-1]
    if last == "cinq":
        last = "cinquieme"
    elif last == "neuf":
        last = "neuvieme"
    elif last.endswith("e") or last in ("vingts", "cents"):
        last = last[:-1] + "ieme"
    else:
        last = last + "ieme"
    return " ".join([*words[:-1], last])


_NUMBER_TOKEN = re.compile(r"^(\d+)(er|ere|re|e|eme|ieme|em|nd|nde|d)?$")


def spell_numbers(tokens: list[str]) -> list[str]:
    """Digits become words so that "4 septembre" and "quatre septembre", "141e" and
    "cent quarante et unieme" compare equal."""
    out: list[str] = []
    for token in tokens:
        # Separate glued digits and letters first ("4eme", "rn7"): tokens like "a7" stay split.
        parts = re.findall(r"\d+[a-z]*|[a-z]+", token) if re.search(r"\d", token) else [token]
        for part in parts:
            m = _NUMBER_TOKEN.match(part)
            if not m:
                out.append(part)
                continue
            value = int(m.group(1))
            words = _ordinal_words(value) if m.group(2) else number_to_words(value)
            out.extend(words.split())
    return out


# --------------------------------------------------------------------------- street structure


@dataclass(frozen=True)
class StreetKey:
    """Matching view of a street name.

    street_type: canonical type ("boulevard") or "" when none was recognised.
    name: key of the name part, articles dropped ("hodoul", "st ferreol").
    name_with_articles: same but articles kept ("de la rouguiere").
    key: type + name ("boulevard hodoul").
    phonetic: phonetic key of type + name with articles, without spaces.
    name_phonetic: phonetic key of the name with articles.
    name_phonetic_bare: phonetic key of the name without articles.
    """

    street_type: str
    name: str
    name_with_articles: str
    key: str
    phonetic: str
    name_phonetic: str
    name_phonetic_bare: str


def tokens(text: str) -> list[str]:
    """Folded tokens with numbers spelled out, saint/titles expanded."""
    return _aligned_tokens(text)[0]


def _aligned_tokens(text: str) -> tuple[list[str], list[str]]:
    """(folded tokens, the same tokens with accented e's kept for phonetics), one to one."""
    plain_raw = fold(text).split()
    accented_raw = fold(text, keep_e_accents=True).split()
    if len(plain_raw) != len(accented_raw):  # cannot happen with the rules above; be safe
        accented_raw = plain_raw
    plain: list[str] = []
    accented: list[str] = []
    for token, twin in zip(plain_raw, accented_raw, strict=True):
        if re.search(r"\d", token):
            spelled = spell_numbers([token])
            plain.extend(spelled)
            accented.extend(spelled)
        elif token in _SAINT:
            plain.append("st")
            accented.append("st")
        elif token in _TITLES:
            expansion = _TITLES[token].split()
            plain.extend(expansion)
            accented.extend(expansion)
        else:
            plain.append(token)
            accented.append(twin)
    return plain, accented


def split_type(words: list[str]) -> tuple[str, list[str]]:
    """Split leading street-type words off: (canonical type or "", remaining words).

    A lone abbreviation that would leave no name ("Place" alone, "Rue") is still a type; a
    name made only of a type word ("La Canebière" has none) keeps its words."""
    for size in range(min(_MAX_TYPE_WORDS, len(words)), 0, -1):
        canonical = _TYPE_LOOKUP.get(tuple(words[:size]))
        if canonical is None:
            continue
        rest = words[size:]
        # One-letter or ambiguous abbreviations need something after them to count as a type.
        if not rest and len(words[0]) <= 3 and words[0] != "rue":
            continue
        return canonical, rest
    if len(words) > 1 and len(words[0]) >= 5:
        # A misspelt type ("boulevar", "avenu", "impase"): transcripts and typed corrections
        # both produce them.
        canonical = _misspelt_type(words[0])
        if canonical:
            return canonical, words[1:]
    return "", words


@lru_cache(maxsize=4096)
def _misspelt_type(word: str) -> str:
    best, best_ratio = "", 0.0
    for canonical in _SINGLE_WORD_TYPES:
        if abs(len(canonical) - len(word)) > 2:
            continue
        ratio = SequenceMatcher(None, word, canonical).ratio()
        if ratio > best_ratio:
            best, best_ratio = canonical, ratio
    return best if best_ratio >= 0.85 else ""


@lru_cache(maxsize=65536)
def street_key(text: str) -> StreetKey:
    words, accented = _aligned_tokens(text)
    street_type, rest = split_type(words)
    rest_accented = accented[len(words) - len(rest) :]
    kept = [i for i, w in enumerate(rest) if w not in ARTICLES] or list(range(len(rest)))
    name = " ".join(rest[i] for i in kept)
    key = f"{street_type} {name}".strip()
    name_phon = _phonetic_words(rest_accented)
    type_phon = _phonetic_words(street_type.split())
    return StreetKey(
        street_type=street_type,
        name=name,
        name_with_articles=" ".join(rest),
        key=key,
        phonetic=_collapse(type_phon + name_phon),
        name_phonetic=name_phon,
        name_phonetic_bare=_phonetic_words([rest_accented[i] for i in kept]),
    )


def types_related(a: str, b: str) -> bool:
    return a == b or frozenset((a, b)) in _RELATED_TYPES


def type_similarity(heard: str, official: str) -> float:
    """1 for the same type; 0.6 for a plausible confusion or when one side has no type
    ("Paradis" for "Rue Paradis", "rue de la Canebière" for "La Canebière"); 0 for a
    contradiction ("place" for "rue")."""
    if heard == official:
        return 1.0
    if not heard or not official:
        return 0.6
    return 0.6 if types_related(heard, official) else 0.0


# --------------------------------------------------------------------------- phonetics

# Rules applied in order on one folded word. Upper-case letters are phonemes produced by
# earlier rules so later rules do not rewrite them: C = "ch", N = "gn", U = "ou", A = "an",
# I = "in", O = "on", E = "é/è/ai" (also the accented e kept by `fold`), W = "oi"; "0" marks a
# mute final e until the end.
_WORD_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        # word endings that are silent or collapse
        (r"(?<=.)(?:s|x)$", ""),
        (r"(?<=[uieyE])e$", ""),
        # "-er", "-ez", "-et" sound "é/è" ("Olivier", "Jauffret"); before the silent-letter
        # rules so that "vert" (-> "ver") keeps its r.
        (r"(?<=..)(?:er|ez|et)$", "E"),
        (r"(?<=[aeiouyE])(?:t|d|z|p)$", ""),
        (r"(?<=[rnl])(?:t|d)$", ""),
        (r"(?<=n)gt$", ""),
        (r"(?<=[ln])g$", ""),
        # Mute final e: a marker, so that "Rome" keeps its m ("rom", not nasal like "Rhône")
        # and "place" its soft c; dropped at the end.
        (r"(?<=[^aeiouy])e$", "0"),
        # consonant clusters
        (r"ph", "f"),
        (r"tion", "sion"),
        (r"sch|sh|ch", "C"),
        (r"gn", "N"),
        (r"qu|q|ck", "k"),
        (r"c(?=[eiy0E])", "s"),
        (r"ç", "s"),
        (r"c", "k"),
        (r"ge(?=[aou])", "j"),
        (r"gu(?=[eiy0E])", "g"),
        (r"g(?=[eiy0E])", "j"),
        (r"x", "ks"),
        (r"w", "v"),
        (r"(?<=[aeiouE])ill", "y"),
        (r"y", "i"),
        (r"h", ""),
        (r"z", "s"),
        # vowels and nasals (nasals first: they consume the n/m)
        (r"e?au", "o"),
        (r"oin(?![aeiouymn0AEIOUW])", "WI"),
        (r"(?:ain|ein|aim|eim)(?![aeiouymn0AEIOUW])", "I"),
        (r"ien(?![aeiouymn0AEIOUW])", "iI"),
        (r"(?:in|im|un|um)(?![aeiouymn0AEIOUW])", "I"),
        (r"(?:an|am|en|em)(?![aeiouymn0AEIOUW])", "A"),
        (r"(?:on|om)(?![aeiouymn0AEIOUW])", "O"),
        (r"oi", "W"),
        (r"ou", "U"),
        (r"oeu|eu|oe", "E"),
        (r"ai|ei|e", "E"),
        (r"mm", "m"),
        (r"nn", "n"),
        (r"0", ""),
        (r"(.)\1+", r"\1"),
    )
)


@lru_cache(maxsize=131072)
def phonetic_word(word: str) -> str:
    if not word:
        return ""
    if word == "st":
        word = "saint"
    for pattern, repl in _WORD_RULES:
        word = pattern.sub(repl, word)
    return word


def phonetic(text: str) -> str:
    """Phonetic key of a text, words concatenated without spaces so that a word boundary
    moved by the transcription ("au doux" / "hodoul") does not matter."""
    return _phonetic_words(_aligned_tokens(text)[1])


def _phonetic_words(words: list[str]) -> str:
    return _collapse("".join(phonetic_word(w) for w in words))


def _collapse(key: str) -> str:
    # Doubles may appear across word boundaries ("rue eugene"): collapse again.
    return re.sub(r"(.)\1+", r"\1", key)


# --------------------------------------------------------------------------- places


_ARRONDISSEMENT_WORDS = frozenset(
    {"arrondissement", "arr", "arrdt", "e", "er", "eme", "cedex", "ardt"}
)


def city_key(text: str) -> str:
    """Key of a commune name: folded, "saint" unified, arrondissement designations dropped
    ("Marseille 8e Arrondissement" -> "marseille")."""
    words = fold(text).split()
    kept: list[str] = []
    for word in words:
        if word in _ARRONDISSEMENT_WORDS or re.fullmatch(r"\d+[a-z]*", word):
            continue
        if word.endswith("ieme") or word in ("premier", "premiere"):
            continue
        kept.append(_SAINT.get(word, word))
    return " ".join(kept)


_HOUSENUMBER = re.compile(r"^\s*(\d{1,5})\s*[,\-/]?\s*([a-z]*)")
_REP_CANONICAL = {
    "b": "bis",
    "bis": "bis",
    "t": "ter",
    "ter": "ter",
    "q": "quater",
    "qua": "quater",
    "quater": "quater",
    "quinquies": "quinquies",
}


def canonical_rep(rep: str) -> str:
    """BAN indices vary between communes ("b" or "bis"): one canonical form for comparison."""
    folded = fold(rep).replace(" ", "")
    return _REP_CANONICAL.get(folded, folded)


def parse_housenumber(text: str) -> tuple[int, str] | None:
    """Parse "12", "12 bis", "12B", "12-ter" into (12, canonical suffix); None without digits."""
    m = _HOUSENUMBER.match(fold(text))
    if not m:
        return None
    return int(m.group(1)), canonical_rep(m.group(2))


def format_housenumber(number: int, rep: str) -> str:
    return f"{number} {rep}" if rep else str(number)


# --------------------------------------------------------------------------- spoken forms


def spoken_number(n: int) -> str:
    """French cardinal as written in running text, with the traditional hyphens
    ("vingt-sept", "vingt et un", "quatre-vingt-dix-huit", "cent douze"): what a transcript
    of the spoken number looks like."""
    if n < 0 or n >= 1_000_000:
        return str(n)
    if n < 100:
        words = number_to_words(n).split()
        out = words[0]
        for prev, word in itertools.pairwise(words):
            out += " " + word if word == "et" or prev == "et" else "-" + word
        return out
    return _hundreds_and_thousands(n, spoken_number)


def spoken_housenumber(label: str) -> str:
    """A BAN house number as said: "12 bis" → "douze bis", "4" → "quatre"."""
    parsed = parse_housenumber(label)
    if parsed is None:
        return label
    number, rep = parsed
    return f"{spoken_number(number)} {rep}".strip()


# --------------------------------------------------------------------------- alignment


def semiglobal_distance(pattern: str, text: str) -> int:
    """Smallest edit distance between `pattern` and any substring of `text` (free start and
    end in the text): how well a street's phonetic key fits somewhere in what was heard."""
    if not pattern:
        return 0
    prev = [0] * (len(text) + 1)
    for i, pc in enumerate(pattern, 1):
        cur = [i] + [0] * len(text)
        for j, tc in enumerate(text, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (pc != tc))
        prev = cur
    return min(prev)


def prefix_distance(pattern: str, text: str) -> int:
    """Smallest edit distance between `pattern` and a prefix of `text` (free end)."""
    if not pattern:
        return 0
    prev = list(range(len(text) + 1))
    for i, pc in enumerate(pattern, 1):
        cur = [i] + [0] * len(text)
        for j, tc in enumerate(text, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (pc != tc))
        prev = cur
    return min(prev)


@lru_cache(maxsize=512)
def _number_phonetic(n: int) -> str:
    return phonetic(number_to_words(n))


@lru_cache(maxsize=4)
def _longer_forms(highest: int) -> dict[int, tuple[int, ...]]:
    """For each number up to `highest`, those whose spoken form extends its own (10 → 17,
    18, 19: « dix » starts « dix-huit »)."""
    forms = {n: _number_phonetic(n) for n in range(1, highest + 1)}
    return {
        n: tuple(m for m, f in forms.items() if len(f) > len(form) and f.startswith(form))
        for n, form in forms.items()
    }


# How far a number falls behind a longer one that matches what was heard as well.
_SHADOWED = 0.2
# Remnants of "au" / "le" / "l'" glued to the number by the transcription ("aussi" = "au six").
_LEADING_DETERMINERS = ("", "o", "l", "lE", "d")


def number_guesses(heard: str, highest: int = 99, limit: int = 8) -> list[tuple[int, float]]:
    """House numbers whose spoken form sounds like the start of `heard` (the words of the
    address as transcribed), best first, with a 0..1 similarity: "cadre en passe" → 4,
    "aussi boulevard" → 6, "vent et un tunnel" → 21. A prior for the audio to confirm, never
    a reading on its own."""
    key = phonetic(heard)
    if not key:
        return []
    scored: list[tuple[float, int]] = []
    for n in range(1, highest + 1):
        target = _number_phonetic(n)
        best = 0.0
        for det in _LEADING_DETERMINERS:
            if det and not key.startswith(det):
                continue
            rest = key[len(det) :]
            dist = prefix_distance(target, rest[: len(target) + 3])
            best = max(best, 1 - dist / max(len(target), 2))
        scored.append((best, n))
    # "dix-huit" starts with "dix": a number whose longer form matches as well explains more
    # of what was heard, so the shorter one steps behind it (else 10 tied with 18, and won).
    score_of = {n: s for s, n in scored}
    longer = _longer_forms(highest)
    scored = [
        (s - _SHADOWED if any(score_of[m] >= s for m in longer[n]) else s, n) for s, n in scored
    ]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(n, round(s, 3)) for s, n in scored[:limit] if s > 0]


# --------------------------------------------------------------------------- evidence


# How the address evidence adds up, in nats (the unit of the audio scores): the audio's
# log-likelihood ratio, plus the words heard (text similarity 0..1) and the locality heard
# (bonus 0..0.08). Shared by the audio scoring (which street's numbers to score) and the
# resolution (which street wins), so both pick the same street.
TEXT_WEIGHT_NATS = 10.0
LOCALITY_WEIGHT_NATS = 20.0


def combined_street_score(audio: float, text_score: float, locality: float) -> float:
    return audio + TEXT_WEIGHT_NATS * text_score + LOCALITY_WEIGHT_NATS * locality
