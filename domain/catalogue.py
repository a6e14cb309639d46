"""The item catalogue: what the encombrants service collects, and what it refuses.

Built from a plain dict (the activity loads `corpus/items.yaml`), so the domain stays free of
I/O. Matching is accent- and case-insensitive, tolerant of French plurals ("frigos",
"bureaux", "machines à laver") and, with a high threshold, of small transcription errors
("réfrigirateur", "gaziniére").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from domain import geotext
from domain.item_access import access_detail
from domain.item_words import (
    E_WRITTEN,
    QUANTITY_CUES,
    e_stem,
    plural_in_s,
    same_word,
    singular,
)
from domain.numbers import NUMBER_WORDS, Token, fold, tokenize

__all__ = ["Catalogue", "CatalogueItem", "ItemMention", "plural_form", "singular"]

# Fuzzy matching is only for near-misses of long words: short ones ("table"/"stable",
# "lit"/"lis") collide with ordinary French too easily.
FUZZY_MIN_LENGTH = 6
FUZZY_THRESHOLD = 88.0
# The least sound of a form's last word heard as another word (« cheveux » for « chevet »:
# « CEvE »); shorter keys match too many words.
_SOUND_LAST_KEY = 3

# Sound-alike matching, for what the transcription makes of an item on accented speech
# ("coût gélateur", "l'avesselle", "gase nière"): the French phonetic key of one to three
# words against that of every form. Only right after a quantity or a determiner ("un", "deux",
# "des", "mon"...), only for keys of at least PHONETIC_MIN_KEY sounds, and the first sound
# must agree: ordinary words that merely rhyme with an item stay out.
PHONETIC_MIN_KEY = 5
PHONETIC_THRESHOLD = 0.75
PHONETIC_MAX_WORDS = 4
# Words that start the next item, so a sound-alike window never runs over them.
_NEXT_ITEM = frozenset({"un", "une", "des", "mon", "ma", "mes", "et"}) | NUMBER_WORDS


def _tails_agree(heard: str, form: str) -> bool:
    """Past a shared beginning, the rest must sound alike too: "machine à café" shares
    "machine à" with "machine à laver" but is not one."""
    k = 0
    while k < min(len(heard), len(form)) and heard[k] == form[k]:
        k += 1
    rest_heard, rest_form = heard[k:], form[k:]
    if k < 3 or max(len(rest_heard), len(rest_form)) < 3:
        return True
    return fuzz.ratio(rest_heard, rest_form) >= 60


def _consonants(key: str) -> str:
    return "".join(c for c in key if c not in "aeiouyAEIOUWé")


def _starts_item(token: Token) -> bool:
    return token.is_digits or token.folded in _NEXT_ITEM


def _is_count(token: Token) -> bool:
    return token.is_digits or (token.folded in NUMBER_WORDS and token.folded not in ("un", "une"))


def _quantity_before(tokens: Sequence[Token], i: int) -> bool:
    return i > 0 and (tokens[i - 1].is_digits or tokens[i - 1].folded in QUANTITY_CUES)


# Short words inside a form that a transcription may drop ("table (de) chevet").
_FORM_PARTICLES = frozenset({"de", "d", "du", "a", "au", "le", "la", "l"})

# Article remnants a transcription glues to the item ("l'avesselle", "d'ougasinière").
_GLUED_ARTICLES = ("l", "d", "U")


@dataclass(frozen=True)
class CatalogueItem:
    name: str  # canonical name, e.g. "réfrigérateur"
    category: str
    accepted: bool
    synonyms: tuple[str, ...] = ()
    destination: str = ""  # refused items: where to take them instead (French, caller-facing)
    reason: str = ""  # refused items: why (French, caller-facing)

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


@dataclass(frozen=True)
class ItemMention:
    item: CatalogueItem
    start: int  # character offsets in the text
    end: int
    heard: str  # the words as written in the text
    first_token: int
    last_token: int  # exclusive
    fuzzy: bool = False
    plural: bool = False


def _form_words(form: str) -> tuple[str, ...]:
    return tuple(t.folded for t in tokenize(form))


@dataclass(frozen=True)
class Catalogue:
    items: tuple[CatalogueItem, ...]
    _by_name: dict[str, CatalogueItem] = field(init=False, repr=False, compare=False)
    # Forms indexed by their first word's singular, longest first, so that "machine à laver"
    # wins over a hypothetical "machine" and "four micro-ondes" over "four".
    _by_first_word: dict[str, list[tuple[tuple[str, ...], CatalogueItem]]] = field(
        init=False, repr=False, compare=False
    )
    _long_words: dict[str, list[tuple[tuple[str, ...], CatalogueItem]]] = field(
        init=False, repr=False, compare=False
    )
    _phonetic_forms: tuple[tuple[str, CatalogueItem], ...] = field(
        init=False, repr=False, compare=False
    )
    # Forms whose first word ends in the sound /e/ ("canapé", "buffet", "sommier"), by the
    # first word's stem: a transcription writes that sound every way ("canapée", "buffé").
    _bye_stem: dict[str, list[tuple[tuple[str, ...], CatalogueItem]]] = field(
        init=False, repr=False, compare=False
    )
    # The words after the head of a form, from its « de » / « à » on (« de chevet »), when
    # one accepted item only has them, longest first: « une de chevet » is a table de chevet
    # whose head was lost.
    _tails: dict[tuple[str, ...], CatalogueItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, CatalogueItem] = {}
        by_first: dict[str, list[tuple[tuple[str, ...], CatalogueItem]]] = {}
        long_words: dict[str, list[tuple[tuple[str, ...], CatalogueItem]]] = {}
        for item in self.items:
            for form in item.forms:
                words = _form_words(form)
                if not words:
                    raise ValueError(f"{item.name}: forme vide")
                key = " ".join(words)
                other = by_name.get(key)
                if other is not None and other is not item:
                    raise ValueError(
                        f"la forme {form!r} est à la fois dans {other.name!r} et {item.name!r}"
                    )
                by_name[key] = item
                by_first.setdefault(singular(words[0]), []).append((words, item))
                if len(words[0]) >= FUZZY_MIN_LENGTH:
                    long_words.setdefault(words[0], []).append((words, item))
        for forms in by_first.values():
            forms.sort(key=lambda f: -len(f[0]))
        bye_stem: dict[str, list[tuple[tuple[str, ...], CatalogueItem]]] = {}
        for item in self.items:
            for form in item.forms:
                first_token = tokenize(form)[0]
                stem = e_stem(first_token.folded)
                if first_token.text.lower().endswith(E_WRITTEN) and stem:
                    bye_stem.setdefault(stem, []).append((_form_words(form), item))
        for forms in bye_stem.values():
            forms.sort(key=lambda f: -len(f[0]))
        object.__setattr__(self, "_bye_stem", bye_stem)
        phonetic_forms: list[tuple[str, CatalogueItem]] = []
        for item in self.items:
            for form in item.forms:
                key = geotext.phonetic(form)
                if len(key) >= PHONETIC_MIN_KEY:
                    phonetic_forms.append((key, item))
        object.__setattr__(self, "_phonetic_forms", tuple(phonetic_forms))
        # Accepted items only: a head guessed must never refuse a booking.
        tails: dict[tuple[str, ...], CatalogueItem | None] = {}
        for item in (i for i in self.items if i.accepted):
            for form in item.forms:
                words = _form_words(form)
                if len(words) >= 3 and words[1] in ("de", "a"):
                    seen = tails.get(words[1:], item)
                    tails[words[1:]] = item if seen is item else None
        longest_first = sorted(tails.items(), key=lambda t: -len(t[0]))
        object.__setattr__(self, "_tails", {w: it for w, it in longest_first if it is not None})
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_first_word", by_first)
        object.__setattr__(self, "_long_words", long_words)

    # ----------------------------------------------------------------------- construction

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalogue:
        """Validates the YAML structure; errors name the offending field ("items[3].accepted")."""
        if not isinstance(data, Mapping):
            raise ValueError("le catalogue doit être un dictionnaire avec une clé 'items'")
        raw_items = data.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            raise ValueError("items: liste non vide attendue")
        items: list[CatalogueItem] = []
        for i, raw in enumerate(raw_items):
            where = f"items[{i}]"
            if not isinstance(raw, Mapping):
                raise ValueError(f"{where}: dictionnaire attendu")
            name = raw.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{where}.name: texte non vide attendu")
            where = f"items[{i}] ({name})"
            accepted = raw.get("accepted")
            if not isinstance(accepted, bool):
                raise ValueError(f"{where}.accepted: true ou false attendu")
            category = raw.get("category", "")
            if not isinstance(category, str):
                raise ValueError(f"{where}.category: texte attendu")
            synonyms = raw.get("synonyms", []) or []
            if not isinstance(synonyms, list) or not all(
                isinstance(s, str) and s.strip() for s in synonyms
            ):
                raise ValueError(f"{where}.synonyms: liste de textes attendue")
            destination = raw.get("destination", "") or ""
            reason = raw.get("reason", "") or ""
            for key, value in (("destination", destination), ("reason", reason)):
                if not isinstance(value, str):
                    raise ValueError(f"{where}.{key}: texte attendu")
            if not accepted and not destination.strip():
                raise ValueError(f"{where}.destination: obligatoire pour un objet refusé")
            items.append(
                CatalogueItem(
                    name=name.strip(),
                    category=category.strip(),
                    accepted=accepted,
                    synonyms=tuple(s.strip() for s in synonyms),
                    destination=destination.strip(),
                    reason=reason.strip(),
                )
            )
        return cls(tuple(items))

    # ----------------------------------------------------------------------- lookups

    def accepted_names(self) -> list[str]:
        return [i.name for i in self.items if i.accepted]

    def refused_names(self) -> list[str]:
        return [i.name for i in self.items if not i.accepted]

    def refusal_advice(self, names: Iterable[str]) -> str:
        """Where to take refused items, as one French phrase that fits after "Où les
        déposer :" in an SMS. Items that go to the same place share one mention."""
        by_destination: dict[str, list[str]] = {}
        for name in names:
            item = self.get(name)
            if item is None or item.accepted or not item.destination:
                continue
            by_destination.setdefault(item.destination.rstrip(". "), []).append(item.name)
        if len(by_destination) == 1:
            return next(iter(by_destination))
        return " ; ".join(f"{', '.join(n)} : {d}" for d, n in by_destination.items())

    def get(self, name: str) -> CatalogueItem | None:
        """The item whose canonical name or synonym is exactly `name` (accents, case and
        plural aside)."""
        words = _form_words(name)
        key = " ".join(words)
        if key in self._by_name:
            return self._by_name[key]
        if words:
            key = " ".join([singular(words[0]), *words[1:]])
            if key in self._by_name:
                return self._by_name[key]
            return self._by_name.get(" ".join([plural_in_s(words[0]), *words[1:]]))
        return None

    def match(self, phrase: str) -> CatalogueItem | None:
        """The item a short phrase names, tolerating plurals and near-misses ("frigidère")."""
        mentions = self.find_mentions(phrase)
        return mentions[0].item if mentions else None

    def find_mentions(
        self,
        text: str,
        *,
        exclude: Iterable[tuple[int, int]] = (),
        tokens: Sequence[Token] | None = None,
        phonetic: bool = True,
    ) -> list[ItemMention]:
        """Every catalogue item named in the text, left to right. `exclude` lists character
        ranges to ignore (a street name: "Rue du Four", "Traverse des Canaris")."""
        tokens = list(tokenize(text) if tokens is None else tokens)
        excluded = list(exclude)

        def skipped(tok: Token) -> bool:
            return any(s < tok.end and tok.start < e for s, e in excluded)

        mentions: list[ItemMention] = []
        i = 0
        while i < len(tokens):
            if skipped(tokens[i]):
                i += 1
                continue
            mention = self._mention_at(text, tokens, i)
            # A number is no item's first sound: "quatre cinq sèche-linge" is a range.
            if (
                mention is None
                and phonetic
                and _quantity_before(tokens, i)
                and not _is_count(tokens[i])
            ):
                mention = self._tail_mention_at(text, tokens, i) or self._phonetic_mention_at(
                    text, tokens, i
                )
            if (
                mention is None
                or any(skipped(t) for t in tokens[i : mention.last_token])
                or access_detail(
                    text,
                    tokens,
                    mention.first_token,
                    mention.last_token,
                    mention.item.name,
                    fuzzy=mention.fuzzy,
                )
            ):
                i += 1
                continue
            mentions.append(mention)
            i = mention.last_token
        return mentions

    def _mention_at(self, text: str, tokens: Sequence[Token], i: int) -> ItemMention | None:
        first = tokens[i].folded
        candidates = self._by_first_word.get(singular(first), []) or self._by_first_word.get(
            plural_in_s(first), []
        )
        for words, item in candidates:
            hit = self._match_words(text, tokens, i, words, fuzzy_first=False)
            if hit is not None:
                return _mention(text, tokens, i, hit[0], item, fuzzy=False, plural=hit[1])
            # « deux tables de cheveux », « une table de chevé » (audio corpus 6868: three
            # tables de chevet counted as tables, one also as a second item): a form of three
            # words or more, its last one heard as another word of the same sound.
            if len(words) >= 3:
                hit = self._match_words(text, tokens, i, words, fuzzy_first=False, sound_last=True)
                if hit is not None:
                    # The head word's own item (« une table à mangé ») is no guess.
                    guess = self._by_name.get(words[0]) is not item
                    return _mention(text, tokens, i, hit[0], item, fuzzy=guess, plural=hit[1])
        stem = e_stem(first)
        for words, item in self._bye_stem.get(stem, []) if stem else []:
            hit = self._match_words(text, tokens, i, words, fuzzy_first=True)
            if hit is not None:
                return _mention(text, tokens, i, hit[0], item, fuzzy=True, plural=hit[1])
        if len(first) < FUZZY_MIN_LENGTH:
            return None
        # Near-misses: the first word of a form heard slightly wrong, the rest exact.
        choices = [w for w in self._long_words if w[0] == first[0]]
        best = process.extractOne(
            first, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD
        ) or process.extractOne(
            singular(first), choices, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD
        )
        if best is None:
            return None
        for words, item in sorted(self._long_words[best[0]], key=lambda f: -len(f[0])):
            hit = self._match_words(text, tokens, i, words, fuzzy_first=True)
            if hit is not None:
                return _mention(text, tokens, i, hit[0], item, fuzzy=True, plural=hit[1])
        return None

    def closest_forms(self, words: str, limit: int = 6) -> list[str]:
        """Catalogue forms (one per item) that sound most like `words`, closest first."""
        return [form for form, _ in self.closest_forms_scored(words, limit)]

    def closest_forms_scored(self, words: str, limit: int = 6) -> list[tuple[str, float]]:
        """`closest_forms` with each form's sound similarity to `words` (0..1)."""
        key = geotext.phonetic(words)
        if len(key) < 2:
            return []
        written = fold(words)
        best: dict[str, tuple[float, str]] = {}
        for item in self.items:
            for form in item.forms:
                form_key = geotext.phonetic(form)
                if not form_key:
                    continue
                sim = max(
                    fuzz.ratio(key, form_key),
                    0.9 * fuzz.partial_ratio(key, form_key),
                    # consonants alone: vowels are what an accent changes first
                    0.9 * fuzz.ratio(_consonants(key), _consonants(form_key)),
                    # the letters as written: the phonetic key of a short word loses what
                    # it hears wrong ("chale": "Cal" against "CEs" for "chaise")
                    0.9 * fuzz.ratio(written, fold(form)),
                ) + (5.0 if key[0] == form_key[0] else 0.0)
                if item.name not in best or sim > best[item.name][0]:
                    best[item.name] = (sim, form)
        ranked = sorted(best.values(), key=lambda t: -t[0])
        key_sims = []
        for _, form in ranked[:limit]:
            form_key = geotext.phonetic(form)
            key_sims.append((form, round(fuzz.ratio(key, form_key) / 100, 3)))
        return key_sims

    def _tail_mention_at(self, text: str, tokens: Sequence[Token], i: int) -> ItemMention | None:
        """« une de chevet »: the head of a form lost, its tail heard exactly. Before the
        sound of the words (« de chevet » sounds like « déchet vert », refused)."""
        for words, item in self._tails.items():
            end = i + len(words)
            if end <= len(tokens) and tuple(t.folded for t in tokens[i:end]) == words:
                return _mention(text, tokens, i, end, item, fuzzy=True, plural=False)
        return None

    def _phonetic_mention_at(
        self, text: str, tokens: Sequence[Token], i: int
    ) -> ItemMention | None:
        """The item whose form sounds like the one to three words from token i."""
        best: tuple[float, int, CatalogueItem] | None = None
        for n in range(1, PHONETIC_MAX_WORDS + 1):
            end = i + n
            if end > len(tokens):
                break
            if n > 1 and any(
                c in ",.;:!?" for c in text[tokens[end - 2].end : tokens[end - 1].start]
            ):
                break
            words = [t.text for t in tokens[i:end]]
            if any(_starts_item(t) and k > 0 for k, t in enumerate(tokens[i:end])):
                break  # "un fauteuil et un ...": the next item starts
            key = geotext.phonetic(" ".join(words))
            for variant in {key, *(key[len(a) :] for a in _GLUED_ARTICLES if key.startswith(a))}:
                if len(variant) < PHONETIC_MIN_KEY - 1:
                    continue
                for form_key, item in self._phonetic_forms:
                    if variant[0] != form_key[0] or abs(len(variant) - len(form_key)) > 3:
                        continue
                    sim = fuzz.ratio(variant, form_key) / 100
                    if sim < PHONETIC_THRESHOLD or not _tails_agree(variant, form_key):
                        continue
                    if best is None or sim > best[0]:
                        best = (sim, end, item)
        if best is None:
            return None
        _, end, item = best
        return _mention(text, tokens, i, end, item, fuzzy=True, plural=False)

    @staticmethod
    def _match_words(
        text: str,
        tokens: Sequence[Token],
        i: int,
        words: tuple[str, ...],
        *,
        fuzzy_first: bool,
        sound_last: bool = False,
    ) -> tuple[int, bool] | None:
        """(end token, plural) when the form's words follow from token i. A particle of the
        form may be missing ("table chevet", "machine laver"): a transcription drops the
        short words first. `sound_last`: the last word may be another of the same sound."""
        plural = False
        t = i
        for k, form_word in enumerate(words):
            if t >= len(tokens):
                return None
            tok = tokens[t]
            if k > 0 and any(c in ",.;:!?" for c in text[tokens[t - 1].end : tok.start]):
                return None
            if k == 0 and fuzzy_first:
                plural = tok.folded.endswith(("s", "x")) and not form_word.endswith(("s", "x"))
                t += 1
                continue
            same, as_plural = same_word(tok.folded, form_word)
            if not same and sound_last and k == len(words) - 1:
                key = geotext.phonetic(tok.text.lower())  # « chevé »: its accent sounds
                same = len(key) >= _SOUND_LAST_KEY and key == geotext.phonetic(form_word)
            if not same and k > 0 and form_word in _FORM_PARTICLES:
                continue
            if not same:
                return None
            plural = plural or as_plural
            t += 1
        return t, plural


def _mention(
    text: str,
    tokens: Sequence[Token],
    first: int,
    end: int,
    item: CatalogueItem,
    *,
    fuzzy: bool,
    plural: bool,
) -> ItemMention:
    start, stop = tokens[first].start, tokens[end - 1].end
    return ItemMention(item, start, stop, text[start:stop], first, end, fuzzy, plural)


def item_key(name: str) -> str:
    """Comparison key of an item name or synonym: folded, first word singular ("Frigos" and
    "frigo" share one), so that a name typed by an agent finds its catalogue entry."""
    words = _form_words(name)
    if not words:
        return ""
    return " ".join([singular(words[0]), *words[1:]])


# Words in -eu / -au whose plural takes an s ("des pneus", not "pneux").
_PLURAL_IN_S = frozenset({"pneu", "bleu", "landau", "sarrau", "emeu", "émeu"})


def plural_form(form: str) -> str:
    """French plural of a catalogue form, first word only ("machine à laver" → "machines à
    laver", "bureau" → "bureaux", "cheval" → "chevaux")."""
    first, _, rest = form.partition(" ")
    if first.endswith(("s", "x", "z")):
        plural = first
    elif first in _PLURAL_IN_S:
        plural = first + "s"
    elif first.endswith(("eau", "au", "eu")):
        plural = first + "x"
    elif first.endswith("al"):
        plural = first[:-2] + "aux"
    else:
        plural = first + "s"
    return f"{plural} {rest}".strip()
