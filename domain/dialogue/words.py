"""What the caller's words mean to the dialogue beyond the request itself: a yes, a no, a wish
to speak to a person, a street name said alone, an answer with words worth hearing again."""

from __future__ import annotations

import re

from domain.geotext import fold

# Folded text (domain.geotext.fold: lowercase, no accents, punctuation as spaces).
_PERSON_RE = re.compile(
    r"\b(parler|passer|joindre|avoir|veux|voudrais|demande)\b.{0,40}"
    r"\b(quelqu un|une personne|un humain|un etre humain|conseill\w*|agent|operat\w*|"
    r"standard|vrai\w* personne)\b"
    r"|\bconseill(er|ere)\b"
)
_YES_RE = re.compile(
    r"\b(oui|ouais|exact|exactement|d accord|parfait|je confirme|confirme|confirmer|"
    r"bien sur|tout a fait|c est ca|c est bien ca|c est correct|correct|ok|okay|absolument|"
    r"volontiers|ca marche|ca me va)\b"
)
_NO_RE = re.compile(
    r"\b(non|pas ca|c est faux|faux|erreur|incorrect|pas du tout|pas bon|pas correct)\b"
)
# What comes before a street name said alone: "euh, c'est boulevard Chave".
_STREET_ALONE_RE = re.compile(r"^(\W*(euh+|alors|c'est|c est|ben|bah)\b)+", re.I)
# Words of a street name said alone ("avenue du Maréchal de Lattre de Tassigny" is 7).
MAX_STREET_WORDS = 8


def wants_person(text: str) -> bool:
    """ "Je veux parler à quelqu'un", "un conseiller s'il vous plaît"."""
    return _PERSON_RE.search(fold(text)) is not None


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the words say neither (or both)."""
    folded = fold(text)
    yes = _YES_RE.search(folded) is not None
    no = _NO_RE.search(folded) is not None
    if yes == no:
        return None
    return yes


def street_alone(text: str) -> str:
    """The street name in an answer to "which street?" ("euh, c'est boulevard Chave" →
    "boulevard Chave"); "" when the words are too many to be one."""
    street = _STREET_ALONE_RE.sub("", text).strip(" .,;!?")
    return street if len(street.split()) <= MAX_STREET_WORDS else ""


# Words that say nothing of what is to be collected: hesitations, yes and no, « attendez »,
# « je sais pas ». Any other word of four letters or more may be a garbled item name
# (« affrigo », « tasse » for étagère).
_FILLERS = frozenset(
    {"euh", "heu", "hum", "bah", "ben", "bon", "alors", "voila", "hein", "quoi", "allo"}
    | {"oui", "ouais", "non", "okay", "accord", "merci", "pardon", "comment", "attendez"}
    | {"attends", "sais", "pas", "plus", "rien", "moment", "instant", "bonjour", "madame"}
    | {"monsieur", "vous", "plait", "repeter", "compris", "entendu"}
)
_CONTENT_LETTERS = 4


def says_something(text: str) -> bool:
    """Whether an answer has a word worth hearing again with a wider beam: not only fillers
    (« euh », « oui », « Attendez. », « Je sais pas. », « Un instant, s'il vous plaît »)."""
    return any(len(w) >= _CONTENT_LETTERS and w not in _FILLERS for w in fold(text).split())
