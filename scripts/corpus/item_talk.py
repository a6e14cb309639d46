"""Items as callers really say them, with a development and a held-out split (issue 16).

The corpus plan (message.py) says items one way only: "un frigo, deux chaises et une table".
The understanding reads that perfectly, so it measures nothing. Here each message says its
items in one of several *families* of phrasing: numbers in words or digits, ranges ("deux
trois chaises"), old and big things ("un vieux frigo"), pairs ("une machine à laver et son
sèche-linge"), brand names, corrections ("non pas la table, le bureau"), refused items beside
accepted ones, items kept ("sauf la table"), measures that are no counts ("une armoire deux
portes"), items added in another sentence, and the misspellings of a transcription.

Every family has templates for the **dev** split and other templates for the **held-out**
split; item words not in the shared vocabulary and the misspelling rules are split too. Fix
the understanding by looking at dev errors only; report held-out figures, never tune on them.
Each message draws from its own `Random(f"{seed}:{split}:{i}")`.

Standard library only, like the rest of the plan."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from . import lexicon, templates
from .lexicon import ItemForm
from .spoken import number_words

SPLITS = ("dev", "heldout")
_f = lexicon._f

# Item words beyond the plan's vocabulary, different in each split.
EXTRA_FORMS: dict[str, tuple[ItemForm, ...]] = {
    "dev": (
        _f("frigidaire", "frigidaires", False, "réfrigérateur"),
        _f("lave-linge", "lave-linge", False, "lave-linge"),
        _f("canapé-lit", "canapés-lits", False, "canapé"),
        _f("bahut", "bahuts", False, "buffet"),
        _f("téléviseur", "téléviseurs", False, "télévision"),
        _f("tabouret", "tabourets", False, "chaise"),
        _f("bibliothèque", "bibliothèques", True, "étagère"),
        _f("chauffe-eau", "chauffe-eau", False, "ballon d'eau chaude"),
        _f("table basse", "tables basses", True, "table"),
        _f("congélo", "congélos", False, "congélateur"),
        _f("table de nuit", "tables de nuit", True, "table de chevet"),
        _f("chiffonnier", "chiffonniers", False, "commode"),
        _f("four", "fours", False, "four"),
        _f("sofa", "sofas", False, "canapé"),
    ),
    "heldout": (
        _f("convertible", "convertibles", False, "canapé"),
        _f("cuisinière", "cuisinières", True, "cuisinière"),
        _f("écran plat", "écrans plats", False, "télévision"),
        _f("chevet", "chevets", False, "table de chevet"),
        _f("penderie", "penderies", True, "armoire"),
        _f("bicyclette", "bicyclettes", True, "vélo"),
        _f("vaisselier", "vaisseliers", False, "buffet"),
        _f("clic-clac", "clic-clac", False, "canapé"),
        _f("lave linge", "lave linge", False, "lave-linge"),
        _f("dressing", "dressings", False, "armoire"),
        _f("secrétaire", "secrétaires", False, "bureau"),
        _f("banquette", "banquettes", True, "canapé"),
        _f("hotte", "hottes", True, "hotte"),
        _f("micro-onde", "micro-ondes", False, "micro-ondes"),
    ),
}
# Items that go with another ("une machine à laver et son sèche-linge"): (first, second).
PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "dev": (
        ("machine à laver", "sèche-linge"),
        ("lit", "sommier"),
        ("table", "chaise"),
        ("frigo", "congélateur"),
    ),
    "heldout": (
        ("sommier", "matelas"),
        ("canapé", "fauteuil"),
        ("bureau", "chaise"),
        ("armoire", "commode"),
    ),
}
BRANDS = {
    "dev": ("Samsung", "Bosch", "Ikea", "Whirlpool", "Conforama"),
    "heldout": ("LG", "Electrolux", "Indesit", "Brandt", "But"),
}
ADJ_BEFORE = {
    "dev": (("vieux", "vieille"), ("grand", "grande"), ("petit", "petite")),
    "heldout": (("gros", "grosse"), ("ancien", "ancienne"), ("vieux", "vieille")),
}
ADJ_AFTER = {
    "dev": (("cassé", "cassée"), ("en bois", "en bois"), ("usagé", "usagée")),
    "heldout": (("en panne", "en panne"), ("abîmé", "abîmée"), ("en mauvais état",) * 2),
}
# Words with numbers that are no count of the item ("un canapé trois places").
MEASURES = {
    "dev": (("canapé", "trois places"), ("armoire", "deux portes"), ("table", "de deux mètres")),
    "heldout": (
        ("lit", "deux places"),
        ("réfrigérateur", "de deux mètres"),
        ("commode", "quatre tiroirs"),
        ("matelas", "une place"),
    ),
}


@dataclass
class Said:
    """One request as said, and what the caller wants collected."""

    sentences: list[str]
    items: dict[str, int] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)

    def add(self, form: ItemForm, count: int) -> None:
        if form.accepted:
            self.items[form.item] = self.items.get(form.item, 0) + count
        else:
            self.refused.add(form.item)


def vocabulary(split: str) -> tuple[ItemForm, ...]:
    return lexicon.ACCEPTED + EXTRA_FORMS[split]


def _form(word: str) -> ItemForm:
    for form in lexicon.ACCEPTED + EXTRA_FORMS["dev"] + EXTRA_FORMS["heldout"]:
        if form.singular == word:
            return form
    raise KeyError(word)


def indef(form: ItemForm) -> str:
    return templates.counted(form, 1)


def definite(form: ItemForm) -> str:
    if form.singular[0] in "aeéiouyh":
        return "l'" + form.singular
    return ("la " if form.feminine else "le ") + form.singular


def _distinct(rng: random.Random, split: str, k: int) -> list[ItemForm]:
    chosen: list[ItemForm] = []
    if k <= 0:
        return chosen
    for form in rng.sample(vocabulary(split), len(vocabulary(split))):
        if form.item not in {f.item for f in chosen}:
            chosen.append(form)
        if len(chosen) == k:
            break
    return chosen


REQUESTS = {
    "dev": (
        "Je voudrais faire enlever {x}.",
        "J'aurais besoin que vous passiez prendre {x}.",
        "C'est pour un enlèvement, j'ai {x}.",
    ),
    "heldout": (
        "J'ai {x} à faire enlever.",
        "Il faudrait venir récupérer {x}.",
        "Je souhaite un rendez-vous pour {x}.",
    ),
}


def _request(rng: random.Random, split: str, x: str) -> str:
    return rng.choice(REQUESTS[split]).format(x=x)


def _counted(form: ItemForm, n: int, rng: random.Random, digits: float) -> str:
    if n > 1 and rng.random() < digits:
        return f"{n} {form.plural}"
    return templates.counted(form, n)


# ------------------------------------------------------------------------------- families


def numbers(rng: random.Random, split: str) -> Said:
    """Counts in words or in digits, ranges ("deux trois chaises" → 3, planned for the
    larger), dozens."""
    said = Said([])
    parts = []
    for form in _distinct(rng, split, rng.choice((1, 2, 2, 3))):
        n = rng.choice((1, 2, 3, 4, 5, 6, 8))
        style = rng.random()
        if n > 2 and style < 0.3:
            low = n - 1
            joiner = "" if split == "dev" else " ou"
            if split == "heldout" and rng.random() < 0.5:
                joiner = ", "
                parts.append(f"{number_words(low)}{joiner}{number_words(n)} {form.plural}")
            else:
                parts.append(f"{number_words(low)}{joiner} {number_words(n)} {form.plural}")
        elif style < 0.45 and split == "dev":
            n = 12
            parts.append(f"une douzaine de {form.plural}")
        elif style < 0.45:
            n = 10
            parts.append(f"une dizaine de {form.plural}")
        else:
            parts.append(_counted(form, n, rng, 0.4 if split == "dev" else 0.6))
        said.add(form, n)
    said.sentences = [_request(rng, split, templates.join_fr(parts))]
    return said


def adjectives(rng: random.Random, split: str) -> Said:
    """Old, big, broken things: "un vieux frigo", "deux grandes armoires", "un lit cassé"."""
    said = Said([])
    parts = []
    for form in _distinct(rng, split, rng.choice((1, 2, 3))):
        n = rng.choice((1, 1, 1, 2))
        before = rng.random() < 0.5
        if before:
            masc, fem = rng.choice(ADJ_BEFORE[split])
            adj = fem if form.feminine else masc
            if n == 1:
                art = "une" if form.feminine else "un"
                if adj == "vieux" and form.singular[0] in "aeéiouyh":
                    adj = "vieil"
                parts.append(f"{art} {adj} {form.singular}")
            else:
                plural_adj = adj if adj.endswith(("s", "x")) else adj + "s"
                parts.append(f"{number_words(n)} {plural_adj} {form.plural}")
        else:
            masc, fem = rng.choice(ADJ_AFTER[split])
            adj = fem if form.feminine else masc
            if n > 1 and not adj.startswith("en "):
                adj += "s"
            parts.append(f"{templates.counted(form, n)} {adj}")
        said.add(form, n)
    said.sentences = [_request(rng, split, templates.join_fr(parts))]
    return said


def pairs(rng: random.Random, split: str) -> Said:
    """An item and its companion: "une machine à laver et son sèche-linge", "une table et
    ses quatre chaises"."""
    said = Said([])
    a, b = (_form(w) for w in rng.choice(PAIRS[split]))
    n = rng.choice((1, 1, 2, 4)) if b.singular in ("chaise", "fauteuil") else 1
    if n == 1:
        poss = "sa" if b.feminine and b.singular[0] not in "aeéiouyh" else "son"
        companion = f"{poss} {b.singular}"
    else:
        companion = f"ses {number_words(n)} {b.plural}"
    joiner = rng.choice((" et ", " avec ") if split == "dev" else (" ainsi que ", " plus "))
    said.add(a, 1)
    said.add(b, n)
    said.sentences = [_request(rng, split, f"{indef(a)}{joiner}{companion}")]
    return said


def brands(rng: random.Random, split: str) -> Said:
    """Brand names after the item: "un frigo Samsung", "une machine à laver de chez Bosch"."""
    said = Said([])
    parts = []
    for form in _distinct(rng, split, rng.choice((1, 2))):
        brand = rng.choice(BRANDS[split])
        link = rng.choice(
            ("", "de marque ", "de chez ") if split == "dev" else ("", "de la marque ")
        )
        parts.append(f"{indef(form)} {link}{brand}")
        said.add(form, 1)
    said.sentences = [_request(rng, split, templates.join_fr(parts))]
    return said


def corrections(rng: random.Random, split: str) -> Said:
    """An item or a count said, then corrected: only the correction is to be collected."""
    said = Said([])
    a, b = _distinct(rng, split, 2)
    if rng.random() < 0.35:
        n = rng.choice((2, 3, 4))
        m = n + 1
        x = (
            f"{number_words(n)} {b.plural}, non, {number_words(m)} {b.plural}"
            if split == "dev"
            else f"{number_words(n)}, enfin non, {number_words(m)} {b.plural}"
        )
        said.add(b, m)
        said.sentences = [_request(rng, split, x)]
        return said
    dev = (
        "{a}, euh non pardon, {b}",
        "{a}, non pas {a_def}, {b_def}",
        "{a}, ou plutôt {b}",
    )
    held = (
        "{a}, enfin non, {b}",
        "{a}, ah non, pas {a_def}, {b_def}",
        "{a}, pardon je me suis trompé, {b}",
    )
    x = rng.choice(dev if split == "dev" else held).format(
        a=indef(a), b=indef(b), a_def=definite(a), b_def=definite(b)
    )
    said.add(b, 1)
    said.sentences = [_request(rng, split, x)]
    return said


def refused(rng: random.Random, split: str) -> Said:
    """Refused items beside accepted ones, or alone: never booked."""
    said = Said([])
    parts = []
    accepted = _distinct(rng, split, rng.choice((0, 1, 1, 2)))
    pool = lexicon.REFUSED[::2] if split == "dev" else lexicon.REFUSED[1::2]
    bad = rng.sample(pool, rng.choice((1, 1, 2)))
    for form in accepted:
        n = rng.choice((1, 1, 2))
        parts.append(templates.counted(form, n))
        said.add(form, n)
    for form in bad:
        n = rng.choice((1, 2, 4))
        parts.append(templates.counted(form, n))
        said.add(form, n)
    rng.shuffle(parts)
    said.sentences = [_request(rng, split, templates.join_fr(parts))]
    return said


def kept(rng: random.Random, split: str) -> Said:
    """Items named but kept: "tout sauf la table", "mais pas le canapé, je le garde"."""
    said = Said([])
    forms = _distinct(rng, split, 3)
    take, keep = forms[:2], forms[2]
    x = templates.join_fr([indef(f) for f in take])
    for f in take:
        said.add(f, 1)
    pron = "la" if keep.feminine else "le"
    if split == "dev":
        tail = f"Mais pas {definite(keep)}, je {pron} garde."
    else:
        tail = f"Par contre {definite(keep)}, je {pron} garde."
    said.sentences = [_request(rng, split, x), tail]
    return said


def measures(rng: random.Random, split: str) -> Said:
    """Numbers that describe an item, not how many: "un canapé trois places"."""
    said = Said([])
    word, measure = rng.choice(MEASURES[split])
    form = next((f for f in lexicon.ACCEPTED if f.singular == word), None) or _form(word)
    parts = [f"{indef(form)} {measure}"]
    said.add(form, 1)
    for other in _distinct(rng, split, rng.choice((0, 1))):
        if other.item != form.item:
            parts.append(indef(other))
            said.add(other, 1)
    said.sentences = [_request(rng, split, templates.join_fr(parts))]
    return said


def more_sentences(rng: random.Random, split: str) -> Said:
    """Items added in sentences of their own after the request."""
    said = Said([])
    first, *more = _distinct(rng, split, rng.choice((2, 3)))
    said.add(first, 1)
    sentences = [_request(rng, split, indef(first))]
    leads = (
        ("Il y a aussi {x}.", "Et puis {x}.", "J'ai également {x}.")
        if split == "dev"
        else ("Sans oublier {x}.", "Ah, et {x} aussi.", "Ajoutez {x}, s'il vous plaît.")
    )
    for form in more:
        n = rng.choice((1, 1, 2))
        sentences.append(rng.choice(leads).format(x=templates.counted(form, n)))
        said.add(form, n)
    said.sentences = sentences
    return said


FAMILIES: dict[str, Callable[[random.Random, str], Said]] = {
    "numbers": numbers,
    "adjectives": adjectives,
    "pairs": pairs,
    "brands": brands,
    "corrections": corrections,
    "refused": refused,
    "kept": kept,
    "measures": measures,
    "more_sentences": more_sentences,
}

# ------------------------------------------------------------------------ misspellings

# How a transcription misspells an item word: (rule name, function). Split as well.
_Rule = Callable[[str], str]


def _ending(old: str, new: str) -> _Rule:
    return lambda w: w[: -len(old)] + new if w.endswith(old) else w


MISSPELLINGS: dict[str, tuple[tuple[str, _Rule], ...]] = {
    "dev": (
        ("é→ée", _ending("é", "ée")),
        ("er→é", _ending("er", "é")),
        ("final e dropped", lambda w: w[:-1] if w.endswith("re") else w),
        ("hyphen→space", lambda w: w.replace("-", " ")),
        ("no accents", lambda w: w.replace("é", "e").replace("è", "e")),
    ),
    "heldout": (
        ("é→er", _ending("é", "er")),
        ("et→é", _ending("et", "é")),
        ("eau→o", _ending("eau", "o")),
        ("o→ot", _ending("o", "ot")),
        ("hyphen glued", lambda w: w.replace("-", "")),
        ("è→ai", lambda w: w.replace("è", "ai")),
    ),
}


def misspell(said: Said, forms: tuple[ItemForm, ...], rng: random.Random, split: str) -> str:
    """The first rule that changes an item word of the request, applied there."""
    text = " ".join(said.sentences)
    rules = rng.sample(MISSPELLINGS[split], len(MISSPELLINGS[split]))
    words = sorted({w for f in forms for w in (f.singular, f.plural)}, key=len, reverse=True)
    for _, rule in rules:
        for word in words:
            if f" {word}" in text and rule(word) != word:
                return text.replace(f" {word}", f" {rule(word)}", 1)
    return text


# ------------------------------------------------------------------------------- messages


@dataclass
class ItemMessage:
    id: str
    split: str
    family: str
    misspelled: bool
    request: str
    items: dict[str, int]
    refused: list[str]


def build_item_messages(split: str, seed: int, count: int) -> list[ItemMessage]:
    """`count` requests of the split, the families in rotation; a quarter misspelled."""
    if split not in SPLITS:
        raise ValueError(split)
    names = sorted(FAMILIES)
    out = []
    for i in range(count):
        rng = random.Random(f"{seed}:{split}:{i}")
        family = names[i % len(names)]
        said = FAMILIES[family](rng, split)
        text = " ".join(said.sentences)
        garbled = rng.random() < 0.25
        if garbled:
            text = misspell(said, vocabulary(split) + lexicon.REFUSED, rng, split)
        out.append(
            ItemMessage(
                f"{split}-{i:04d}",
                split,
                family,
                garbled,
                text,
                dict(said.items),
                sorted(said.refused),
            )
        )
    return out
