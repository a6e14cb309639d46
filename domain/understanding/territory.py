"""The territory the bot serves, as a value: its communes (INSEE code, name, postcodes), the
shorter names callers give them, the street types as said and as the BAN writes them, and the
main city with its arrondissements.

Read from corpus/territory/ by activities/geo/territory_file.py, which checks the files; the
understanding code receives it and reads no file. Another métropole is other files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from domain.geotext import phonetic
from domain.numbers import Districts, Token, find_arrondissement, fold, parse_cardinal, tokenize

__all__ = ["Arrondissement", "Commune", "StreetType", "Territory"]


@dataclass(frozen=True)
class Commune:
    citycode: str  # INSEE
    name: str
    postcodes: tuple[str, ...]


@dataclass(frozen=True)
class StreetType:
    spoken: str  # folded, as said: "bd", "rond point" (two words at most)
    written: str  # as the BAN writes it: "Boulevard", "Rond-Point"
    # Also an everyday word ("sur place", "en cours", "en route", "de passage"): trusted only
    # with a house number before it or a proper name after it.
    ambiguous: bool = False
    # "Bd. Michelet": the abbreviation's period is not the end of a sentence.
    abbreviation: bool = False


@dataclass(frozen=True)
class Arrondissement:
    number: int
    postcode: str
    citycode: str  # INSEE code of the arrondissement (the BAN files addresses under it)


def _words(text: str) -> tuple[str, ...]:
    return tuple(t.folded for t in tokenize(text))


# A one-word quartier heard slightly wrong still names it, when long enough not to be another
# word: "enodume" for Endoume (rapidfuzz ratio).
_FUZZY_QUARTIER_LENGTH = 6
_FUZZY_QUARTIER_RATIO = 85
# ... unless it sounds at least this much like a one-word commune outside the territory.
_FUZZY_OUTSIDE_RATIO = 75
# A place's name misspelled by the transcription (« Saloon-de-Provence », « Taraucon »): this
# close to the name (rapidfuzz ratio, article apart), and closer to it than to any name of the
# other list (territory / outside). Shorter names are too easily other words.
MISHEARD_NAME_RATIO = 85
MISHEARD_NAME_LENGTH = 6
# A place name that no list knows and is this close to a commune or quartier of the territory
# (closer than to any outside commune) is one of them misspelled, not a caller from elsewhere:
# « Roones » (Rognes, 83; Rognonas 71). Names from elsewhere (Lyon, Paris, Valence, Nantes…)
# come within 75 of some name inside; the outside list's own misspellings (« Tuolon »,
# « Arlse ») are closer to it.
_NEARLY_INSIDE_RATIO = 80
# A place name no list knows is taken for a commune outside when it is (letters or phonetic
# keys) at least this much like one, and more than like any name inside: « Kavayon »
# (Cavaillon, 100), « Taraucon » (77), « Tuolon » (67). Not « Téh », « Rd » or « Exxon
# Provence » (Aix-en-Provence), which are like nothing outside: on the audio corpus of seed
# 4646 (voices never tuned on) these sent three callers inside out of the territory when any
# name unknown did.
_SOUNDS_OUTSIDE_RATIO = 60
_SOUNDS_OUTSIDE_SHORTEST = 4
_ARTICLES = frozenset({"la", "le", "les", "l"})


def _quartier_forms(quartiers: tuple[tuple[str, str], ...]) -> dict[tuple[str, ...], str]:
    """Folded words of each quartier's name, also without its article ("au Pharo" for Le
    Pharo, "aux Olives" for Les Olives)."""
    forms: dict[tuple[str, ...], str] = {}
    for name, code in quartiers:
        words = _words(name)
        forms.setdefault(words, code)
        if len(words) > 1 and words[0] in ("le", "la", "les", "l"):
            forms.setdefault(words[1:], code)
    return forms


def _likeness(said: str, name: str) -> float:
    """fuzz.ratio of two place names, a « saint » both start with set aside (« Saint-Lô » is
    not Saint-Loup misspelled: « lo » against « loup »)."""
    for prefix in ("saint ", "sainte "):
        if said.startswith(prefix) and name.startswith(prefix):
            return fuzz.ratio(said[len(prefix) :], name[len(prefix) :])
    return fuzz.ratio(said, name)


@dataclass(frozen=True)
class Territory:
    communes: tuple[Commune, ...]
    # (spoken form, commune name): how callers shorten the longer names ("aix", "les pennes").
    aliases: tuple[tuple[str, str], ...]
    street_types: tuple[StreetType, ...]
    # The city callers name most; its misheard forms ("Marseilles") still count.
    main_city: Commune
    # The main city's arrondissements, numbered 1..n (none: a city in one piece).
    arrondissements: tuple[Arrondissement, ...] = ()
    # The postcode said for the main city as a whole ("13000"): it names no arrondissement.
    generic_postcode: str = ""
    # Communes near the territory but outside it (outside_communes.csv): a caller naming one
    # is not served, even when a street of the same name exists inside.
    outside: tuple[Commune, ...] = ()
    # (name, INSEE code of its arrondissement): the main city's quartiers (quartiers.csv). A
    # caller naming theirs ("à Endoume", "au Pharo") names no other commune.
    quartiers: tuple[tuple[str, str], ...] = ()

    # Lookups derived from the fields above.
    one_word_types: dict[str, str] = field(init=False, repr=False, compare=False)
    two_word_types: dict[tuple[str, ...], str] = field(init=False, repr=False, compare=False)
    ambiguous_types: frozenset[str] = field(init=False, repr=False, compare=False)
    abbreviated_types: frozenset[str] = field(init=False, repr=False, compare=False)
    districts: Districts | None = field(init=False, repr=False, compare=False)
    _forms: dict[tuple[str, ...], Commune] = field(init=False, repr=False, compare=False)
    _first_words: frozenset[str] = field(init=False, repr=False, compare=False)
    _max_words: int = field(init=False, repr=False, compare=False)
    _postcodes: frozenset[str] = field(init=False, repr=False, compare=False)
    _quartier_forms: dict[tuple[str, ...], str] = field(init=False, repr=False, compare=False)
    _outside_forms: frozenset[tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _max_outside_words: int = field(init=False, repr=False, compare=False)
    # Every place form's sound, computed once: `sounds_outside` compares a name with all of
    # them (7 ms a call with the keys recomputed each time, several calls a message).
    _sounds: dict[str, str] = field(init=False, repr=False, compare=False)
    _by_arrondissement_postcode: dict[str, Arrondissement] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.communes}
        forms: dict[tuple[str, ...], Commune] = {_words(c.name): c for c in self.communes}
        forms.update({_words(alias): by_name[name] for alias, name in self.aliases})
        one_word = {t.spoken: t.written for t in self.street_types if " " not in t.spoken}
        two_word = {
            tuple(t.spoken.split()): t.written for t in self.street_types if " " in t.spoken
        }
        postcodes = {p for c in self.communes for p in c.postcodes}
        postcodes |= {a.postcode for a in self.arrondissements}
        postcodes |= {self.generic_postcode} - {""}
        districts = None
        if self.arrondissements:
            districts = Districts(
                city=fold(self.main_city.name),
                department=self.department,
                postcodes={a.number: a.postcode for a in self.arrondissements},
            )
        quartier_forms = _quartier_forms(self.quartiers)
        outside_forms = frozenset(_words(c.name) for c in self.outside)
        derived = {
            "one_word_types": one_word,
            "two_word_types": two_word,
            "ambiguous_types": frozenset(t.spoken for t in self.street_types if t.ambiguous),
            "abbreviated_types": frozenset(t.spoken for t in self.street_types if t.abbreviation),
            "districts": districts,
            "_forms": forms,
            "_first_words": frozenset(form[0] for form in forms),
            "_max_words": max(len(form) for form in forms),
            "_postcodes": frozenset(postcodes),
            "_quartier_forms": quartier_forms,
            "_outside_forms": outside_forms,
            "_max_outside_words": max((len(_words(c.name)) for c in self.outside), default=0),
            "_by_arrondissement_postcode": {a.postcode: a for a in self.arrondissements},
        }
        every = [*forms, *quartier_forms, *outside_forms]
        derived["_sounds"] = {" ".join(f): phonetic(" ".join(f)) for f in every}
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @property
    def department(self) -> str:
        """The digits the main city's postcodes start with ("13")."""
        return self.main_city.citycode[:2]

    # ------------------------------------------------------------------ communes

    def find_commune(self, tokens: list[Token], i: int) -> tuple[Commune, int] | None:
        """(commune, end token) when a commune of the territory is named from token i."""
        if i >= len(tokens):
            return None
        if tokens[i].folded not in self._first_words:
            # "Marseilles", "Marsaille" and other transcriptions of the main city.
            if self.sounds_like_main_city(tokens[i].folded, min_length=7, min_ratio=80):
                return self.main_city, i + 1
            return None
        for n in range(min(self._max_words, len(tokens) - i), 0, -1):
            form = tuple(t.folded for t in tokens[i : i + n])
            if form in self._forms:
                return self._forms[form], i + n
        return None

    def sounds_like_main_city(self, word: str, *, min_length: int, min_ratio: float) -> bool:
        """A folded word that is a transcription of the main city's name: it starts like the
        name and is close enough to it."""
        name = fold(self.main_city.name)
        return (
            len(word) >= min_length
            and word.startswith(name[:4])
            and fuzz.ratio(word, name) >= min_ratio
        )

    def find_quartier(self, tokens: list[Token], i: int) -> tuple[str, int] | None:
        """(arrondissement's INSEE code, index after the name) when a quartier of the main
        city is named at token i: « Saint-Henri », « Pharo » (after « au »), or a long
        one-word name slightly misheard (« Endoume » as « Enodume »)."""
        forms = self._quartier_forms
        if self.find_commune(tokens, i) or self._names_outside(tokens, i):
            # A commune's name, even one that starts like a quartier's ("Saint-Pierre-de-
            # Mézoargues") or sounds like one ("Mouriès", "Les Mourets"), is the commune.
            return None
        for n in range(min(4, len(tokens) - i), 0, -1):
            form = tuple(t.folded for t in tokens[i : i + n])
            if form in forms:
                return forms[form], i + n
        if i < len(tokens) and len(word := tokens[i].folded) >= _FUZZY_QUARTIER_LENGTH:
            for form, code in forms.items():
                if (
                    len(form) == 1
                    and form[0][0] == word[0]
                    and fuzz.ratio(form[0], word) >= _FUZZY_QUARTIER_RATIO
                ):
                    return code, i + 1
        return None

    def find_misheard_commune(
        self, text: str, tokens: list[Token], i: int
    ) -> tuple[Commune, int] | None:
        """(commune, end token) when the words of `text` from token i are a commune of the
        territory misspelled by the transcription (« Saloon-de-Provence », « Marignnane »):
        callers pass the words a place introduces (« à … »). The article must be the name's
        own (« la gare » is not La Fare); never a name closer to a commune outside the
        territory, a quartier, part of a longer hyphenated name, nor one named exactly
        (`find_commune`). A guess: callers confirm what it finds rather than book on it."""
        if i >= len(tokens) or self.find_commune(tokens, i) is not None:
            return None
        if self.find_quartier(tokens, i) is not None:
            return None  # « Saint-Victor », a quartier, is not Saint-Victoret misheard
        article = tokens[i].folded if tokens[i].folded in _ARTICLES else ""
        first = i + 1 if article else i
        best: tuple[float, Commune, int] | None = None
        for n in range(1, min(self._max_words, len(tokens) - first) + 1):
            end = first + n
            said = " ".join(t.folded for t in tokens[first:end])
            # « à la Ciota »: the name's own article makes a shorter name a place.
            if len(said) < MISHEARD_NAME_LENGTH - bool(article):
                continue
            if end < len(tokens) and text[tokens[end - 1].end : tokens[end].start] == "-":
                continue  # « Grands-Carmes » is not « Grans » and the rest of a name
            for form, commune in self._forms.items():
                own = form[0] if form[0] in _ARTICLES and len(form) > 1 else ""
                name = " ".join(form[1:] if own else form)
                if name[0] != said[0]:
                    continue
                score = fuzz.ratio(said, name)
                if own != article and not (own and not article and score == 100):
                    continue  # « la gare » is not La Fare; « à Ciotat » (its « la » lost) is
                if score >= MISHEARD_NAME_RATIO and (best is None or score > best[0]):
                    best = (score, commune, end)
        if best is None:
            return None
        said = " ".join(t.folded for t in tokens[i : best[2]])
        if any(fuzz.ratio(said, " ".join(form)) >= best[0] for form in self._outside_forms):
            return None
        return best[1], best[2]

    def misheard_commune_after(
        self, text: str, tokens: list[Token], i: int
    ) -> tuple[Commune, int] | None:
        """`find_misheard_commune` for the words after token i when it introduces a place:
        « à » or « sur », never the verb « a »."""
        if tokens[i].text.lower() not in ("à", "sur"):
            return None
        return self.find_misheard_commune(text, tokens, i + 1)

    def quartier_closes(self, text: str, tokens: list[Token], k: int) -> bool:
        """Whether a quartier named at token k ends the address's words (« boulevard de la
        Farigoule à la Millière à Marseille », « au dix Henri Auzias à Belle-de-Mai 13003 »):
        the rest of the locality, a punctuation mark or the end follows it."""
        found = self.find_quartier(tokens, k)
        if found is None:
            return False
        end = found[1]
        if end >= len(tokens):
            return True
        nxt = tokens[end]
        return (
            re.search(r"[,;:.!?]", text[tokens[end - 1].end : nxt.start]) is not None
            or nxt.text.lower() in ("à", "dans")
            or nxt.is_digits
            or str(parse_cardinal(nxt.text)) == self.department  # « treize mille … »
            or self.find_commune(tokens, end) is not None
        )

    def sounds_inside(self, name: str) -> bool:
        """Whether a place name that no list knows sounds like a commune or a quartier of
        the territory rather than one outside it (`_NEARLY_INSIDE_RATIO`)."""
        said = " ".join(_words(name))
        if not said:
            return False

        def closest(forms: Iterable[tuple[str, ...]]) -> float:
            return max((_likeness(said, " ".join(form)) for form in forms), default=0.0)

        inside = max(closest(self._forms), closest(self._quartier_forms))
        return inside >= _NEARLY_INSIDE_RATIO and inside > closest(self._outside_forms)

    def sounds_outside(self, name: str, min_ratio: float = 0.0) -> bool:
        """Whether a place name that no list knows sounds like a commune outside the
        territory, more than like any commune or quartier inside (`_SOUNDS_OUTSIDE_RATIO`, or
        `min_ratio` where the words are less surely a place)."""
        said = " ".join(_words(name))
        sound = phonetic(said)
        # Short garble (« Ap », « Alé ») lands on Apt or Alès; a name like one inside is
        # that one misspelled (« Roones »).
        if len(said.replace(" ", "")) < _SOUNDS_OUTSIDE_SHORTEST or self.sounds_inside(name):
            return False

        def closest(forms: Iterable[tuple[str, ...]]) -> float:
            # Letters for a misspelling (« Tuolon »), sounds for Whisper's spelling (« Kavayon »).
            return max(
                (
                    max(_likeness(said, joined), fuzz.ratio(sound, self._sounds[joined]))
                    for joined in (" ".join(f) for f in forms)
                ),
                default=0.0,
            )

        outside = closest(self._outside_forms)
        inside = max(closest(self._forms), closest(self._quartier_forms))
        return outside >= max(min_ratio, _SOUNDS_OUTSIDE_RATIO) and outside > inside

    def outside_likeness(self, name: str, first_word: str) -> float:
        """How much a name sounds like the closest commune outside the territory whose name
        starts with `first_word` (letters or sounds, 0–100, as `sounds_outside`)."""
        said = " ".join(_words(name))
        sound = phonetic(said)
        return max(
            (
                max(_likeness(said, joined), fuzz.ratio(sound, self._sounds[joined]))
                for joined in (" ".join(f) for f in self._outside_forms if f[0] == first_word)
            ),
            default=0.0,
        )

    def _names_outside(self, tokens: list[Token], i: int) -> bool:
        """Whether a commune outside the territory is named at token i, or a word at i sounds
        like a one-word outside commune (« Mourriès »)."""
        for n in range(min(self._max_outside_words, len(tokens) - i), 0, -1):
            if tuple(t.folded for t in tokens[i : i + n]) in self._outside_forms:
                return True
        if i >= len(tokens):
            return False
        word = tokens[i].folded
        return any(
            len(form) == 1 and fuzz.ratio(form[0], word) >= _FUZZY_OUTSIDE_RATIO
            for form in self._outside_forms
        )

    def communes_for_postcode(self, postcode: str) -> list[Commune]:
        return [c for c in self.communes if postcode in c.postcodes]

    def in_territory(self, postcode: str) -> bool:
        return postcode in self._postcodes

    # ------------------------------------------------------------------ arrondissements

    def is_divided(self, commune: Commune | None) -> bool:
        """The main city, when it has arrondissements: its own code and postcodes are those
        of an arrondissement."""
        return bool(self.arrondissements) and commune == self.main_city

    def arrondissement_codes(self, number: int) -> tuple[str, str]:
        """(postcode, INSEE code) of an arrondissement of the main city: 8 → ("13008",
        "13208")."""
        if not 1 <= number <= len(self.arrondissements):
            raise ValueError(f"{self.main_city.name} n'a pas de {number}e arrondissement")
        found = self.arrondissements[number - 1]
        return found.postcode, found.citycode

    def arrondissement_of_postcode(self, postcode: str) -> int | None:
        found = self._by_arrondissement_postcode.get(postcode)
        return found.number if found else None

    def find_arrondissement(self, text: str, *, in_address: bool = False) -> int | None:
        """The main city's arrondissement named in the text (see
        `domain.numbers.find_arrondissement`); None when the city has none."""
        if self.districts is None:
            return None
        return find_arrondissement(text, self.districts, in_address=in_address)
