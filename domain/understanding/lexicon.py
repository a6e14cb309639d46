"""The words of spoken French the understanding rules read: particles, words that end a street
name, address cues, civilities, words that are never a name, quantity words, fillers.

The territory's own words (communes, street types) are not here: they come with the
`Territory` (territory.py), read from corpus/territory/."""

from __future__ import annotations

import re

from domain.numbers import NUMBER_WORDS

# --------------------------------------------------------------------------- address

PARTICLES = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "a", "au", "aux", "et"})
# Words that end a street name: the rest of the sentence has started.
NAME_STOPS = frozenset(
    {
        "dans",
        "pour",
        "je",
        "j",
        "nous",
        "on",
        "il",
        "elle",
        "ils",
        "vous",
        "c",
        "ce",
        "ca",
        "qui",
        "que",
        "qu",
        "mais",
        "car",
        "parce",
        "puis",
        "alors",
        "donc",
        "avec",
        "sans",
        "chez",
        "ou",
        "si",
        "code",
        "postal",
        "cedex",
        "merci",
        "bonjour",
        "svp",
        "batiment",
        "bat",
        "appartement",
        "appt",
        "etage",
        "quartier",
        "secteur",
        "arrondissement",
        "tel",
        "telephone",
        "numero",
        "portable",
        "mon",
        "ma",
        "mes",
        "ai",
        "suis",
        "voudrais",
        "souhaite",
        "aurais",
        "aimerais",
        "bis",
        "ter",
        "quater",
        "pres",
        "derriere",
        "devant",
        "juste",
        "vers",
        "en",
        "sur",
        "est",
        # A hesitation or a correction ends the name: "boulevard Mongette, euh non, au 2".
        "euh",
        "hum",
        "non",
        "pardon",
    }
)
# Stops that are ordinary parts of names after a particle: "Rue de l'Est". (A commune after a
# particle, "Rue de Marseille", is kept by the street rules themselves.)
STOP_UNLESS_AFTER_PARTICLE = frozenset({"est", "en", "sur", "non", "pardon"})
PRONOUNS_AFTER_ET = frozenset(
    {"je", "j", "nous", "on", "il", "elle", "c", "ca", "vous", "mon", "ma", "mes", "un", "une"}
)
MAX_NAME_TOKENS = 10

ADDRESS_CUES = re.compile(
    r"\b(?:j'?\s?habite|mon adresse|l'adresse|adresse|je suis au|je reside|je demeure|"
    r"domicilie|j'?\s?y suis|situe|c'est au|chez moi)\b"
)
SENTENCE_END = re.compile(r"[.!?;]\s|[.!?]$|\n")


def breaks_sentence(gap: str) -> bool:
    """Whether the characters between two words end a sentence (an ellipsis is a hesitation:
    « au… au quatre », « le trois… non, le cinq »)."""
    return re.search(r"[.!?;]", gap.replace("…", "").replace("...", "")) is not None


# --------------------------------------------------------------------------- caller name

CIVILITY = {
    "madame": "Madame",
    "mme": "Madame",
    "monsieur": "Monsieur",
    "m": "Monsieur",
    "mr": "Monsieur",
    "mademoiselle": "Mademoiselle",
    "mlle": "Mademoiselle",
}
NAME_PARTICLES = frozenset({"de", "du", "des", "le", "la", "el", "ben", "van", "da", "di", "d"})
NOT_A_NAME = frozenset(
    {
        "le",
        "la",
        "les",
        "un",
        "une",
        "au",
        "a",
        "pour",
        "mon",
        "ma",
        "bien",
        "moi",
        "encore",
        "pas",
        "tres",
        "vraiment",
        "possible",
        "qui",
        "que",
        "ce",
        "ca",
        "l",
        "j",
        "je",
        "bonjour",
        "bonsoir",
        "allo",
        "oui",
        "merci",
        "aussi",
        "madame",
        "monsieur",
        "et",
        "ou",
        "mais",
        "donc",
        "alors",
        "car",
        "suis",
        "est",
        "habite",
        "voudrais",
        "souhaite",
        "appelle",
        "c",
        "s",
        "m",
        "n",
        "y",
        "en",
        "de",
        "du",
        "des",
    }
    | set(NUMBER_WORDS)
)  # and the territory's street types (caller.py)

# --------------------------------------------------------------------------- items

ADJECTIVES = frozenset(
    {
        "vieux",
        "vieil",
        "vieille",
        "vieilles",
        "grand",
        "grande",
        "grands",
        "grandes",
        "gros",
        "grosse",
        "grosses",
        "petit",
        "petite",
        "petits",
        "petites",
        "ancien",
        "ancienne",
        "anciens",
        "anciennes",
        "autre",
        "autres",
        "beau",
        "belle",
        "beaux",
        "belles",
        "tres",
        "tout",
        "toute",
        "enorme",
        "enormes",
        "immense",
        "lourd",
        "lourde",
    }
)
APPROX_NOUNS = {
    "paire": 2,
    "dizaine": 10,
    "douzaine": 12,
    "quinzaine": 15,
    "vingtaine": 20,
}
INDEFINITE_PLURAL = frozenset(
    {"des", "plusieurs", "quelques", "mes", "nos", "ces", "les", "leurs", "vos", "certains"}
)
DEFINITE = frozenset({"le", "la", "l", "mon", "ma", "ce", "cet", "cette", "son", "sa", "notre"})
# « le canapé » or « les chaises »: the one(s) named before, when the caller keeps them.
KEPT_DETERMINERS = DEFINITE | {"les"}
NEGATIONS = (
    ("pas", "de"),
    ("pas", "d"),
    ("plus", "de"),
    ("plus", "d"),
    ("sans",),
    ("aucun",),
    ("aucune",),
)
# "mais pas la machine à laver (, je la garde)": one thing named and left out. Only after
# EXCLUDERS ("non pas le buffet") or punctuation: after a verb ("je ne garde pas la table non
# plus", "n'oubliez pas le matelas") the item is still wanted.
EXCLUSIONS = (
    ("pas", "le"),
    ("pas", "la"),
    ("pas", "l"),
    ("pas", "les"),
    ("pas", "mon"),
    ("pas", "ma"),
    ("pas", "mes"),
)
EXCLUDERS = frozenset({"mais", "sauf", "et", "non"})
# Words that may take back what was just said: "un bureau, euh non pardon, un congélateur",
# "une table, ou plutôt une commode", "trois chaises, non, quatre", "je me suis trompé", "je
# veux dire une commode". Each only in its own context (item_takebacks.py `_is_correction`):
# "un frigo non fonctionnel", "un canapé plutôt lourd", "acheté par erreur" take nothing back.
CORRECTIONS = frozenset({"non", "pardon", "plutot", "trompe", "trompee", "erreur", "dire"})
# Words said before a "non" that make it a word of its own ("euh non", "ah non", "enfin non").
INTERJECTIONS = frozenset({"euh", "ah", "oh", "ben", "bah", "hum", "enfin"})
# Words that add to what was said: after them, a "non" corrects nothing of the items before.
ADDITIONS = frozenset({"et", "aussi", "avec", "plus", "egalement", "puis"})
# Nouns that, counted right after an item, describe it: "une armoire deux portes", "un
# canapé trois places", "une commode quatre tiroirs".
DESCRIPTIVE_NOUNS = frozenset(
    {"porte", "portes", "place", "places", "tiroir", "tiroirs", "battant", "battants"}
    | {"feu", "feux", "plaque", "plaques", "etage", "etages", "niveau", "niveaux"}
    | {"vitre", "vitres", "metre", "metres", "pied", "pieds", "tablette", "tablettes"}
)

# --------------------------------------------------------------------------- intent

FILLERS = frozenset(
    {
        "allo",
        "bonjour",
        "bonsoir",
        "oui",
        "non",
        "euh",
        "hein",
        "madame",
        "monsieur",
        "merci",
        "au",
        "revoir",
        "bonne",
        "journee",
        "soiree",
        "ah",
        "ben",
        "bah",
        "hum",
        "hm",
        "voila",
    }
)
