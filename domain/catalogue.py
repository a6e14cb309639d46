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

from domain.numbers import Token, tokenize

__all__ = ["Catalogue", "CatalogueItem", "ItemMention", "singular"]

# Fuzzy matching is only for near-misses of long words: short ones ("table"/"stable",
# "lit"/"lis") collide with ordinary French too easily.
FUZZY_MIN_LENGTH = 6
FUZZY_THRESHOLD = 88.0


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


def singular(word: str) -> str:
    """Folded French singular of a folded word; good enough for nouns of furniture and
    appliances ("bureaux" → "bureau", "chevaux" → "cheval", "frigos" → "frigo")."""
    if len(word) > 4 and word.endswith("eaux"):
        return word[:-1]
    if len(word) > 4 and word.endswith("aux"):
        return word[:-3] + "al"
    # "matelas", "tapis", "bus" are already singular.
    if len(word) > 3 and word[-1] in "sx" and not word.endswith(("ss", "is", "as")):
        return word[:-1]
    return word


def _same_word(heard: str, form: str) -> tuple[bool, bool]:
    """(matches, heard as a plural) for one folded word of the text against one of a form."""
    if heard == form:
        return True, False
    if heard in (form + "s", form + "x") or (form.endswith("al") and heard == form[:-2] + "aux"):
        return True, True
    # A form written in the plural ("gravats") also matches the singular.
    if form in (heard + "s", heard + "x"):
        return True, False
    return False, False


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
            return self._by_name.get(key)
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
            if mention is None or any(skipped(t) for t in tokens[i : mention.last_token]):
                i += 1
                continue
            mentions.append(mention)
            i = mention.last_token
        return mentions

    def _mention_at(self, text: str, tokens: Sequence[Token], i: int) -> ItemMention | None:
        first = tokens[i].folded
        candidates = self._by_first_word.get(singular(first), [])
        for words, item in candidates:
            hit = self._match_words(text, tokens, i, words, fuzzy_first=False)
            if hit is not None:
                return _mention(text, tokens, i, hit[0], item, fuzzy=False, plural=hit[1])
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

    @staticmethod
    def _match_words(
        text: str,
        tokens: Sequence[Token],
        i: int,
        words: tuple[str, ...],
        *,
        fuzzy_first: bool,
    ) -> tuple[int, bool] | None:
        """(end token, plural) when the form's words follow from token i."""
        if i + len(words) > len(tokens):
            return None
        plural = False
        for k, form_word in enumerate(words):
            tok = tokens[i + k]
            if k > 0 and any(c in ",.;:!?" for c in text[tokens[i + k - 1].end : tok.start]):
                return None
            if k == 0 and fuzzy_first:
                plural = tok.folded.endswith(("s", "x")) and not form_word.endswith(("s", "x"))
                continue
            same, as_plural = _same_word(tok.folded, form_word)
            if not same:
                return None
            plural = plural or as_plural
        return i + len(words), plural


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
