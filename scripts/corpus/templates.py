"""Sentences of a message: what a caller says, in words (numbers spelled out as spoken)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import lexicon
from .lexicon import ItemForm
from .spoken import (
    housenumber_words,
    number_words,
    ordinal_words,
    postcode_digits,
    postcode_thousands,
    spell,
)

# Address phrasings (the `phrasing` field). Which ones a kind may use is decided in plan.py.
PHRASINGS = (
    "habite_au",  # "J'habite au douze rue ..."
    "je_suis_au",  # "Je suis au douze rue ..."
    "mon_adresse",  # "Mon adresse, c'est le douze rue ..."
    "au_de_la",  # "au douze de la rue ..."
    "address_last",  # the address after the request
    "bis_ter",  # "au douze bis rue ..."
    "self_correction",  # "au douze, non pardon, au quatorze ..."
    "spelled",  # "rue Roubaud, R O U B A U D"
    "building",  # résidence / bâtiment / escalier / étage
    "quartier",  # Marseille quartier named ("à Saint-Barnabé")
    "lieu_dit",  # "au lieu-dit Les Bastidons" (communes of the extension)
)
# How the caller places the street (the `locality_form` field).
LOCALITY_FORMS = ("postcode_digits", "postcode_thousands", "ordinal", "city", "none")

_OF_TYPE = {
    "Rue": "de la rue",
    "Boulevard": "du boulevard",
    "Avenue": "de l'avenue",
    "Impasse": "de l'impasse",
    "Traverse": "de la traverse",
    "Chemin": "du chemin",
    "Place": "de la place",
    "Allée": "de l'allée",
    "Montée": "de la montée",
    "Square": "du square",
    "Passage": "du passage",
    "Quai": "du quai",
    "Route": "de la route",
    "Cours": "du cours",
    "Corniche": "de la corniche",
    "Promenade": "de la promenade",
}
_ARTICLES = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "sur", "aux", "au", "en"}


def join_fr(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]


def counted(form: ItemForm, count: int) -> str:
    """ "un frigo", "une armoire", "deux chaises"."""
    if count == 1:
        return ("une " if form.feminine else "un ") + form.singular
    return f"{number_words(count)} {form.plural}"


def counted_de(form: ItemForm, count: int) -> str:
    """After "se débarrasser": "d'un frigo", "de deux chaises"."""
    if count == 1:
        return ("d'une " if form.feminine else "d'un ") + form.singular
    return f"de {number_words(count)} {form.plural}"


def items_phrase(items: list[tuple[ItemForm, int]], de: bool = False) -> str:
    if not de:
        return join_fr([counted(f, n) for f, n in items])
    first, *rest = items
    return join_fr([counted_de(first[0], first[1])] + [counted_de(f, n) for f, n in rest])


def street_said(name: str) -> str:
    """ "Rue Roubaud" → "rue Roubaud" (the type as a common noun in running text)."""
    head, _, tail = name.partition(" ")
    return f"{head.lower()} {tail}".strip() if head in _OF_TYPE or head == "Allées" else name


def of_street(name: str) -> str | None:
    """ "Rue Roubaud" → "de la rue Roubaud"; None for types without a form here."""
    head, _, tail = name.partition(" ")
    return f"{_OF_TYPE[head]} {tail}" if head in _OF_TYPE and tail else None


def spelled_word(name: str) -> str | None:
    """The word a caller spells: the longest proper word of the street name (≥ 4 letters)."""
    words = [w for w in name.replace("-", " ").split()[1:] if w.lower() not in _ARTICLES]
    words = [w.split("'")[-1] for w in words]
    words = [w for w in words if len(w) >= 4 and w[0].isupper() and w.isalpha()]
    return max(words, key=len) if words else None


def at_place(name: str) -> str:
    """ "Aubagne" → "à Aubagne", "Le Rove" → "au Rove", "Les Accates" → "aux Accates",
    "La Timone" → "à la Timone", "L'Estaque" → "à l'Estaque"."""
    if name.startswith("Le "):
        return "au " + name[3:]
    if name.startswith("Les "):
        return "aux " + name[4:]
    if name.startswith(("La ", "L'")):
        return "à " + name[0].lower() + name[1:]
    return "à " + name


def marseille_locality(form: str, postcode: str, rng: random.Random) -> str:
    arr = int(postcode[-2:])
    options = {
        "postcode_digits": (", {pd}", ", {pd} Marseille", ", à Marseille, {pd}"),
        "postcode_thousands": (", {pt} Marseille", ", {pt}"),
        "ordinal": (
            ", dans le {od}",
            ", à Marseille, dans le {od} arrondissement",
            ", Marseille {od}",
        ),
        "city": (", à Marseille",),
        "none": ("",),
    }[form]
    return rng.choice(options).format(
        pd=postcode_digits(postcode), pt=postcode_thousands(postcode), od=ordinal_words(arr)
    )


def commune_locality(form: str, city: str, postcode: str, rng: random.Random) -> str:
    options = {
        "postcode_digits": (", {pd} {city}", ", {at}, {pd}"),
        "postcode_thousands": (", {pt} {city}",),
        "city": (", {at}",),
    }[form]
    return rng.choice(options).format(
        pd=postcode_digits(postcode), pt=postcode_thousands(postcode), city=city, at=at_place(city)
    )


def outside_locality(city: str, department: str, rng: random.Random) -> str:
    if department and rng.random() < 0.6:
        return f", {at_place(city)}, {department}"
    return f", {at_place(city)}"


@dataclass
class Said:
    """An address as the caller says it."""

    number: int
    rep: str
    street: str
    locality: str  # rendered: ", dans le huitième", ", à Aubagne", ""
    wrong: int = 0  # self-correction: the number said first
    quartier: str = ""
    residence: str = ""  # building phrasing
    lieu_dit: bool = False

    @property
    def said_number(self) -> str:
        return housenumber_words(self.number, self.rep)


def address_sentence(said: Said, phrasing: str, rng: random.Random) -> str:
    n, st, loc = said.said_number, street_said(said.street), said.locality
    if phrasing == "au_de_la":
        of = of_street(said.street)
        assert of is not None, said.street
        lead = rng.choice(("J'habite", "Je suis", "C'est"))
        return f"{lead} au {n} {of}{loc}."
    if phrasing == "address_last":
        return rng.choice(
            (
                "C'est pour le {n} {st}{loc}.",
                "L'adresse, c'est le {n} {st}{loc}.",
                "Je suis au {n} {st}{loc}.",
            )
        ).format(n=n, st=st, loc=loc)
    if phrasing == "self_correction":
        wrong = number_words(said.wrong)
        return rng.choice(
            (
                "J'habite au {w}, non pardon, au {n} {st}{loc}.",
                "Je suis au {w} {st}, euh non, pardon, au {n}{loc}.",
                "Mon adresse, c'est le {w}... non, excusez-moi, le {n} {st}{loc}.",
            )
        ).format(w=wrong, n=n, st=st, loc=loc)
    if phrasing == "spelled":
        word = spelled_word(said.street)
        assert word is not None, said.street
        return rng.choice(
            (
                "J'habite au {n} {st}, {word}, {sp}{loc}.",
                "Je suis au {n} {st}{loc}. {word}, ça s'écrit {sp}.",
            )
        ).format(n=n, st=st, loc=loc, word=word, sp=spell(word))
    if phrasing == "building":
        return building_sentence(said, rng)
    if phrasing == "quartier":
        at = at_place(said.quartier)
        return rng.choice(
            ("J'habite {at}, au {n} {st}{loc}.", "Je suis au {n} {st}, {at}{loc}.")
        ).format(at=at, n=n, st=st, loc=loc)
    if phrasing == "lieu_dit":
        return rng.choice(
            (
                "J'habite au lieu-dit {ld}, au numéro {n}{loc}.",
                "Mon adresse, c'est le {n}, lieu-dit {ld}{loc}.",
            )
        ).format(ld=said.street, n=n, loc=loc)
    frame = {
        "habite_au": "J'habite au {n} {st}{loc}.",
        "je_suis_au": "Je suis au {n} {st}{loc}.",
        "mon_adresse": "Mon adresse, c'est le {n} {st}{loc}.",
        "bis_ter": rng.choice(
            ("J'habite au {n} {st}{loc}.", "Mon adresse, c'est le {n} {st}{loc}.")
        ),
    }[phrasing]
    return frame.format(n=n, st=st, loc=loc)


def building_sentence(said: Said, rng: random.Random) -> str:
    n, st, loc = said.said_number, street_said(said.street), said.locality
    letter = rng.choice("ABCDEFG")
    if rng.random() < 0.5:
        stair = number_words(rng.randint(1, 4))
        return (
            f"J'habite résidence {said.residence}, bâtiment {letter}, escalier {stair}, "
            f"au {n} {st}{loc}."
        )
    floor = ordinal_words(rng.randint(2, 9))
    return f"Je suis au {n} {st}, bâtiment {letter}, au {floor} étage{loc}."


def intro(name: str, title: str, rng: random.Random) -> str:
    greeting = rng.choice(lexicon.GREETINGS)
    return f"{greeting}, " + rng.choice(lexicon.INTROS).format(name=name, title=title) + "."


def item_question(form: ItemForm, rng: random.Random) -> str:
    template = rng.choice(lexicon.ITEM_QUESTIONS)
    indef = ("une " if form.feminine else "un ") + form.singular
    vowel = form.singular[0] in "aeéèêiouh"
    mine = ("ma " if form.feminine and not vowel else "mon ") + form.singular
    de_def = "de " + (mine if rng.random() < 0.5 else f"mes {form.plural}")
    return template.format(plural=form.plural, indef=indef, de_def=de_def)
