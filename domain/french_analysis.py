"""French text analysis for the FAQ's keyword (BM25) search.

A bag-of-words search only works if the question and the answer spell a word the same way, and
callers do not: "l'armoire" / "armoires", "déchetterie" / "déchèterie", "frigo" /
"réfrigérateur", "machine à laver" / "lave-linge", a Whisper transcript without accents. The
analysis turns both sides into the same terms, in this order (the order of the Elasticsearch
analyzer built by `elasticsearch_analysis`, so both backends agree):

1. lower case, typographic apostrophes made plain;
2. elision: "l'", "d'", "qu'", "jusqu'"... dropped ("l'armoire" -> "armoire");
3. words: letters and digits; a hyphen separates ("lave-linge" -> "lave", "linge");
4. accent folding ("déchèterie" -> "decheterie", "œ" -> "oe");
5. synonyms: a phrase of `SYNONYMS` becomes its class's single term ("machine à laver",
   "lave-linge" -> `lavelinge`); matched on stems, so plurals and conjugations match too;
6. stop words removed (articles, pronouns, auxiliaries, and the politeness of a voicemail:
   "bonjour", "merci", "je voudrais savoir");
7. Snowball French stemming (after a light plural strip: Snowball leaves "frigos" alone).

Pure: no I/O. The stemmer is the pure-Python `snowballstemmer` (it uses PyStemmer's C code when
that happens to be installed, with identical output).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import snowballstemmer

from domain.catalogue import singular
from domain.numbers import fold

__all__ = [
    "ELISIONS",
    "STOP_WORDS",
    "SYNONYMS",
    "FrenchAnalyzer",
    "elasticsearch_analysis",
    "fold_accents",
    "stem",
    "strip_elision",
    "words",
]

# Elided forms: the letter(s) before the apostrophe. "aujourd'hui" is not an elision (no word
# boundary before its "d"), nor is "prud'homme".
ELISIONS = ("l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu")
_ELISION = re.compile(r"\b(?:" + "|".join(sorted(ELISIONS, key=len, reverse=True)) + r")'")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_WORD = re.compile(r"[^\W_]+")

# Snowball's French stop list (articles, pronouns, prepositions, forms of être and avoir),
# folded, plus what every voicemail says around its question. Kept out: words that tell
# questions apart ("quand", "combien", "comment", "heure", "plus", "proche").
_SNOWBALL_STOP = """
au aux avec ce ces dans de des du elle en et eux il ils je la le les leur leurs lui ma mais me
meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes
toi ton tu un une vos votre vous c d j l a m n s t y ete etee etees etes etant etante etants
etantes suis es est sommes etes sont serai seras sera serons serez seront serais serait serions
seriez seraient etais etait etions etiez etaient fus fut fumes futes furent sois soit soyons
soyez soient fusse fusses fussions fussiez fussent ayant ayante ayantes ayants eu eue eues eus
ai as avons avez ont aurai auras aura aurons aurez auront aurais aurait aurions auriez
auraient avais avait avions aviez avaient eut eumes eutes eurent aie aies ait ayons ayez aient
eusse eusses eussions eussiez eussent ceci cela cet cette ici quel quels quelle quelles sans
soi
"""
_VOICEMAIL_STOP = """
allo bonjour bonsoir salut merci madame monsieur mademoiselle svp plait voila euh hein ben bah
bon ok oui alors donc voudrais voulais souhaiterais souhaite aimerais savoir renseignement
question appareil quoi genre truc trucs chose choses
"""
STOP_WORDS: frozenset[str] = frozenset(fold(w) for w in (_SNOWBALL_STOP + _VOICEMAIL_STOP).split())

# Synonym classes: canonical term -> the ways callers and documents say it (French, any case
# or accent, singular; plurals and verb forms match through stemming). A class may also join
# two words that are not synonyms in a dictionary but are for this service ("décharge" is what
# callers call a déchèterie).
SYNONYMS: Mapping[str, Sequence[str]] = {
    "refrigerateur": ("réfrigérateur", "frigo", "frigidaire"),
    "congelateur": ("congélateur", "congélo", "congel"),
    "lavelinge": ("lave-linge", "machine à laver", "machine à laver le linge", "machine à linge"),
    "sechelinge": ("sèche-linge", "séchoir", "machine à sécher"),
    "lavevaisselle": ("lave-vaisselle", "machine à vaisselle"),
    "television": ("télévision", "télé", "téléviseur", "tv", "écran plat"),
    "canape": ("canapé", "sofa", "clic-clac", "canapé-lit", "convertible"),
    "decheterie": (
        "déchèterie",
        "déchetterie",
        "décheterie",
        "déchetrie",
        "décharge",
        # Whisper's ways of hearing it.
        "déchet terie",
        "déchettée",
    ),
    "gravats": (
        "gravats",
        "gravois",
        "gravas",
        "gravar",
        "déblais",
        "décombres",
        "débris de chantier",
        "déchets de chantier",
    ),
    "dechetsverts": ("déchets verts", "végétaux", "végétal", "déchets de jardin"),
    "bouteillegaz": ("bouteille de gaz", "bonbonne", "bonbonne de gaz", "butane", "propane"),
    "pneu": ("pneu", "pneumatique"),
    "amiante": ("amiante", "fibrociment", "fibro-ciment", "fibro", "éternit"),
    "medicament": ("médicament", "médoc"),
    "ordure": ("ordures ménagères", "ordure", "poubelle", "sac poubelle", "sac d'ordures"),
    "rendezvous": ("rendez-vous", "rdv"),
    "sms": ("sms", "texto", "message texte"),
    "application": ("application", "appli"),
    "collecter": (
        "collecter",
        "collecte",
        "ramasser",
        "ramassage",
        "enlever",
        "enlèvement",
        "emporter",
        "récupérer",
    ),
    "annuler": ("annuler", "annulation", "décommander"),
    # Negation carries the meaning here: "pas accepté" is the opposite of "accepté".
    "refuse": (
        "refusé",
        "refuser",
        "interdit",
        "pas accepté",
        "non accepté",
        "pas collecté",
        "non collecté",
        "pas ramassé",
    ),
    "gratuit": ("gratuit", "gratuitement", "sans frais"),
    "payant": ("payant", "payer", "coûter", "prix", "tarif"),
    # Arrondissements of Marseille, said or written.
    **{
        f"{n}e": (f"{n}e", f"{n}ème", f"{n}eme", ordinal)
        for n, ordinal in enumerate(
            (
                "premier",
                "deuxième",
                "troisième",
                "quatrième",
                "cinquième",
                "sixième",
                "septième",
                "huitième",
                "neuvième",
                "dixième",
                "onzième",
                "douzième",
                "treizième",
                "quatorzième",
                "quinzième",
                "seizième",
            ),
            start=1,
        )
    },
}

_STEMMER = snowballstemmer.stemmer("french")


def fold_accents(text: str) -> str:
    """Lower case without accents ("Déchèterie" -> "decheterie", "œ" -> "oe")."""
    return fold(text)


def strip_elision(text: str) -> str:
    """Drop elided articles and pronouns ("l'armoire" -> "armoire", "qu'il" -> "il")."""
    return _ELISION.sub("", text.lower().translate(_APOSTROPHES))


def words(text: str) -> list[str]:
    """Folded words of `text`, elisions dropped; hyphens and apostrophes separate."""
    return _WORD.findall(fold(strip_elision(text)))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball French stem of a folded word, after a light plural strip (Snowball keeps the
    "s" of "frigos" and "pneus")."""
    return str(_STEMMER.stemWord(singular(word)))


@dataclass(frozen=True)
class _Token:
    stem: str
    stop: bool


class FrenchAnalyzer:
    """Text -> search terms (see the module docstring). Thread-safe once built."""

    def __init__(
        self,
        synonyms: Mapping[str, Sequence[str]] = SYNONYMS,
        stop_words: Iterable[str] = STOP_WORDS,
    ) -> None:
        self.stop_words = frozenset(fold(w) for w in stop_words)
        # Stemmed phrase -> canonical term; matched longest first.
        self._phrases: dict[tuple[str, ...], str] = {}
        for canonical, forms in synonyms.items():
            for form in (canonical, *forms):
                key = tuple(stem(w) for w in words(form))
                if key:
                    self._phrases.setdefault(key, canonical)
        self._longest = max((len(k) for k in self._phrases), default=0)

    @property
    def word_synonyms(self) -> dict[str, str]:
        """Stem of a one-word synonym -> its canonical term ("frigidair" -> "refrigerateur"),
        for spelling correction against synonyms as well as indexed terms."""
        return {k[0]: v for k, v in self._phrases.items() if len(k) == 1}

    def _tokens(self, text: str) -> list[_Token]:
        return [_Token(stem(w), w in self.stop_words) for w in words(text)]

    def analyze(self, text: str) -> list[str]:
        """The search terms of `text`, in order, with repeats (BM25 counts them)."""
        tokens = self._tokens(text)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                key = tuple(t.stem for t in tokens[i : i + size])
                canonical = self._phrases.get(key)
                # A one-word phrase that is a stop word ("a") never stands for a class.
                if canonical is not None and not (size == 1 and tokens[i].stop):
                    out.append(canonical)
                    i += size
                    break
            else:
                if not tokens[i].stop:
                    out.append(tokens[i].stem)
                i += 1
        return out


# --------------------------------------------------------------------------- Elasticsearch


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z")):
        return word
    if word.endswith(("au", "eu")):
        return word + "x"
    if word.endswith("al"):
        return word[:-2] + "aux"
    return word + "s"


def _es_forms(form: str) -> list[str]:
    """The folded phrase and its plurals, for Elasticsearch's synonym filter, which matches
    surface words (its stemmer runs after it): "machine à laver" -> "machine a laver",
    "machines a laver"."""
    ws = words(form)
    if not ws:
        return []
    content = [i for i, w in enumerate(ws) if w not in STOP_WORDS] or [0]
    first_plural = [*ws]
    first_plural[content[0]] = _plural(ws[content[0]])
    all_plural = [_plural(w) if i in content else w for i, w in enumerate(ws)]
    out: list[str] = []
    for variant in (ws, first_plural, all_plural):
        phrase = " ".join(variant)
        if phrase not in out:
            out.append(phrase)
    return out


def elasticsearch_analysis(
    synonyms: Mapping[str, Sequence[str]] = SYNONYMS,
    stop_words: Iterable[str] = STOP_WORDS,
) -> dict[str, Any]:
    """The `settings.analysis` block of the FAQ index: analyzer `encombot_french`, the same
    chain as `FrenchAnalyzer` (elision, lower case, folding, synonyms, stop words, Snowball
    French) with the same vocabulary."""
    rules = []
    for canonical, forms in synonyms.items():
        variants: list[str] = []
        for form in (canonical, *forms):
            for v in _es_forms(form):
                if v not in variants:
                    variants.append(v)
        rules.append(f"{', '.join(variants)} => {canonical}")
    return {
        "filter": {
            "encombot_elision": {
                "type": "elision",
                "articles_case": True,
                "articles": list(ELISIONS),
            },
            "encombot_synonyms": {"type": "synonym", "lenient": True, "synonyms": rules},
            "encombot_stop": {"type": "stop", "stopwords": sorted(fold(w) for w in stop_words)},
            "encombot_stemmer": {"type": "stemmer", "language": "french"},
        },
        "analyzer": {
            "encombot_french": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": [
                    "encombot_elision",
                    "lowercase",
                    "asciifolding",
                    "encombot_synonyms",
                    "encombot_stop",
                    "encombot_stemmer",
                ],
            }
        },
    }
