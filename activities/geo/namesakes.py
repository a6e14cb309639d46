"""The commune the caller named chooses among streets of the same name (split from
resolver.py, which applies it before its softmax)."""

from __future__ import annotations

import re

from activities.geo.gazetteer import Gazetteer
from domain import geotext, trust
from domain.address_models import AddressCandidates
from domain.models import AddressMatch
from domain.numbers import fold
from domain.understanding import Territory

__all__ = ["in_commune_said", "name_key", "spelling_key"]


# Articles the BAN writes in one spelling of a street and not in another (« Chemin de
# l'Huveaune », « Chemin Huveaune », both in the 8th, each with its own numbers).
_ARTICLES = frozenset({"de", "du", "des", "d", "la", "le", "les", "l"})


def spelling_key(name: str) -> str:
    """A name folded to its words: hyphens, case, accents and articles aside."""
    return " ".join(w for w in re.findall(r"[a-z0-9]+", fold(name)) if w not in _ARTICLES)


def name_key(street: str) -> str:
    """The name of a street without its type, as `spelling_key` writes it: « Avenue Jean
    Jaurès » and « Place Jean-Jaurès » are namesakes."""
    return spelling_key(geotext.street_key(street).name)


def _place_of(gz: Gazetteer, street: int) -> AddressMatch:
    """The street's name and codes, all the conflict check reads (no point, no sector)."""
    return AddressMatch(
        "", gz.name(street), gz.postcode(street), gz.citycode(street), gz.city(street), 0, 0, 0
    )


def in_commune_said(
    gz: Gazetteer,
    territory: Territory,
    cands: AddressCandidates,
    keys: list[int],
    streets: list[int],
    values: list[float],
) -> tuple[list[int], list[int], list[float], set[int]]:
    """The candidates without the namesakes, in another commune, of a street of the commune
    the caller named with the address that fits the words as well: « au quatre Jean Jaurès, à
    Aubagne » is Aubagne's avenue, not one of the five Jean Jaurès of the territory that shared
    the probability with it (« plusieurs voies possibles »). Nor a street of another commune
    whose name is said whole where the commune's street has more words (« avenue Mistral, à La
    Ciotat »: Marseille's Avenue Mistral, La Ciotat's Avenue Frédéric Mistral); the streets so
    preferred to one that would have won are returned too (the last item), for the resolver
    to confirm them: the words the caller left out are a guess. Streets of unrelated names
    stay in the race. Only a commune said beside the address, and the only one said:
    « j'habite au quatre Jean Jaurès, je travaille à Marignane » chooses nothing. A commune
    only: an ordinal or a postcode is misheard more often (« deuxième » for « douzième »);
    there the words and the audio keep choosing, and the conflict check stops an address
    that disagrees."""
    communes = [e for e in cands.evidence if e.kind == "commune"]
    if len(keys) < 2 or len({e.value for e in communes}) != 1:
        return keys, streets, values, set()
    said = [e for e in communes if e.with_address]
    if not said:
        return keys, streets, values, set()
    agrees = [not trust.address_conflict(_place_of(gz, s), said, territory) for s in streets]
    names = [name_key(gz.name(s)) for s in streets]
    text = [cands.candidates[k].text_score for k in keys]
    inside: dict[str, float] = {}
    for name, score, ok in zip(names, text, agrees, strict=True):
        if ok:
            inside[name] = max(inside.get(name, 0.0), score)
    words_inside = {name: set(name.split()) for name in inside}
    longer: set[int] = set()
    kept = []
    for j in range(len(keys)):
        if agrees[j]:
            kept.append(j)
            continue
        if names[j] in inside and text[j] <= inside[names[j]]:
            continue
        said_whole = set(names[j].split())
        fuller = [n for n, words in words_inside.items() if said_whole and said_whole < words]
        if fuller:
            # Confirmed only where the street left out would have won over it.
            longer.update(
                streets[i]
                for i in range(len(keys))
                if agrees[i] and names[i] in fuller and values[j] > values[i]
            )
            continue
        kept.append(j)
    return (
        [keys[j] for j in kept],
        [streets[j] for j in kept],
        [values[j] for j in kept],
        longer,
    )
