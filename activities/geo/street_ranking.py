"""Ranking the gazetteer's streets against a street heard: text and phonetic similarity of the
name (tolerant of transcription errors), the street type, and a bounded bonus from the locality
heard (postcode, INSEE code, city)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz, process

from activities.geo.gazetteer import Gazetteer, parent_citycode
from domain import geotext


@dataclass
class Candidate:
    street: int
    base: float  # street-name similarity, 0..1
    locality: float = 0.0  # bonus/penalty from the postcode, citycode and city heard
    exact: bool = False  # the heard key equals the street's key

    @property
    def rank(self) -> float:
        return self.base + self.locality

    @property
    def score(self) -> float:
        # 1.0 is reserved for names heard exactly as written.
        return round(min(1.0 if self.exact else 0.99, max(0.0, self.rank)), 3)


@dataclass
class Locality:
    postcode: str = ""
    citycode: str = ""
    city_keys: frozenset[str] = frozenset()
    # streets of the heard area, searched separately so the right one is never crowded out
    local: np.ndarray | None = None


# Locality evidence, added to the name similarity. Bounded so that a garbled or misremembered
# postcode can separate equal names but cannot make a poor name match win.
AREA_BONUS = 0.08
_COMMUNE_BONUS = 0.02
_CONTRADICTION = -0.03
_WEIGHT_NAME = 0.75
_WEIGHT_TYPE = 0.25
_PHONETIC_WEIGHT = 0.97
# Name similarities are stretched below 1 (1 - 2 * distance): one letter off in a short name
# must cost more than the locality bonus can give back. Calibrated on garbled names of the
# Marseille file and on names absent from it (about 1 % of those matched at min_score 0.82).
_STRETCH = 2.0


def _stretch(similarity: float) -> float:
    return max(0.0, 1.0 - _STRETCH * (1.0 - similarity))


@lru_cache(maxsize=256)
def _type_phonetic(street_type: str) -> str:
    return geotext.phonetic(street_type)


def locality_score(gz: Gazetteer, street: int, loc: Locality) -> float:
    area = commune = contradiction = False
    if loc.postcode:
        if gz.postcode(street) == loc.postcode:
            area = True
        else:
            contradiction = True
    if loc.citycode:
        code = gz.citycode(street)
        if code == loc.citycode:
            area = True
        elif parent_citycode(code) == loc.citycode:
            commune = True
        else:
            contradiction = True
    if loc.city_keys:
        if gz.city_keys[street] in loc.city_keys or gz.old_city_keys[street] in loc.city_keys:
            commune = True
        else:
            contradiction = True
    if area:
        return AREA_BONUS if not contradiction else _COMMUNE_BONUS
    if commune:
        return _COMMUNE_BONUS if not contradiction else _CONTRADICTION + _COMMUNE_BONUS
    return _CONTRADICTION if contradiction else 0.0


def _garbled_type_reading(gz: Gazetteer, q: geotext.StreetKey, i: int, c_type: str) -> float:
    """No type recognised: perhaps the type itself was garbled ("en passe" for "impasse"):
    the heard phonetics read as the candidate's type followed by a name (0: no reading)."""
    best = 0.0
    t_phon = _type_phonetic(c_type)
    size = len(t_phon)
    for cut in (size - 1, size, size + 1):
        if not 0 < cut < len(q.phonetic):
            continue
        head = fuzz.ratio(q.phonetic[:cut], t_phon) / 100
        if head < 0.7:
            continue
        tail = max(
            fuzz.ratio(q.phonetic[cut:], gz.phon_names[i]),
            fuzz.ratio(q.phonetic[cut:], gz.phon_names_bare[i]),
        )
        reading = _WEIGHT_NAME * _stretch(_PHONETIC_WEIGHT * tail / 100) + _WEIGHT_TYPE * head
        # A reading the caller did not literally say: slightly discounted.
        best = max(best, 0.97 * reading)
    return best


def street_similarity(gz: Gazetteer, q: geotext.StreetKey, i: int) -> float:
    """0..1: how well the heard street matches street i. Several readings of the heard
    text are scored and the best kept; each reading is conservative on its own."""
    if q.key == gz.keys[i]:
        return 1.0
    c_type = gz.street_types[i]
    c_name = gz.key_names[i]
    text_sim = fuzz.ratio(q.name, c_name) / 100
    if q.name_with_articles != gz.key_names_articles[i]:
        # "Rue de Tours" / "Rue des Tours": the words agree, the articles tip the balance.
        text_sim -= 0.02
    # Sounding alike is weaker evidence than being spelled alike: homophones exist
    # ("Impasse Cas" / "Impasse Cat"), and a transcript spelled like an official name
    # most likely means that name.
    phon_sim = (
        _PHONETIC_WEIGHT
        * max(
            fuzz.ratio(q.name_phonetic, gz.phon_names[i]),
            fuzz.ratio(q.name_phonetic_bare, gz.phon_names_bare[i]),
        )
        / 100
    )
    name_sim = max(text_sim, phon_sim)
    if q.name and c_name and fuzz.token_set_ratio(q.name, c_name) == 100:
        # The caller said part of a long official name ("avenue Lily Pastré" for
        # "Avenue Comtesse Lily Pastré"): credit grows with the share of the name said.
        coverage = min(len(q.name), len(c_name)) / max(len(q.name), len(c_name))
        name_sim = max(name_sim, 0.65 + 0.35 * coverage)
    type_sim = geotext.type_similarity(q.street_type, c_type)
    best = _WEIGHT_NAME * _stretch(name_sim) + _WEIGHT_TYPE * type_sim
    if not q.street_type and c_type:
        best = max(best, _garbled_type_reading(gz, q, i, c_type))
    return min(best, 0.99)


class StreetRanker:
    """The streets that could be the one heard, best first. `floor`: below it (less the area
    bonus) a street gets no locality score."""

    def __init__(self, gazetteer: Gazetteer, floor: float) -> None:
        self.gz = gazetteer
        self.floor = floor
        self._local_cache: dict[bytes, tuple[list[int], list[str], list[str]]] = {}

    def rank(self, q: geotext.StreetKey, loc: Locality) -> list[Candidate]:
        gz = self.gz
        pool = self._pool(q, loc)
        candidates = []
        for i in pool:
            base = street_similarity(gz, q, i)
            cand = Candidate(street=i, base=base, exact=gz.keys[i] == q.key)
            if base >= self.floor - AREA_BONUS:
                cand.locality = locality_score(gz, i, loc)
            candidates.append(cand)
        candidates.sort(key=lambda c: (-c.rank, gz.name(c.street), gz.postcode(c.street)))
        return candidates

    def _pool(self, q: geotext.StreetKey, loc: Locality) -> set[int]:
        """The streets worth scoring: the exact key, fuzzy probes over the whole file and over
        the heard area, and the streets holding every word heard."""
        gz = self.gz
        pool: set[int] = set()
        exact = gz.by_key.get(q.key)
        if exact is not None:
            pool.update(int(i) for i in exact)
        limit = 12
        probes: list[tuple[str, list[str]]] = [
            (q.key, gz.keys),
            (q.name, gz.key_names),
            (q.name_phonetic, gz.phon_names),
            (q.phonetic, gz.phons),
        ]
        if exact is not None and loc.local is not None and np.isin(exact, loc.local).any():
            # Heard verbatim, in the area heard: nothing elsewhere can come within the margin
            # (the area bonus outweighs it), so only the area itself is searched.
            probes = []
        for text, choices in probes:
            if text:
                for _, _, i in process.extract(
                    text, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=45
                ):
                    pool.add(i)
        pool.update(self._streets_with_all_tokens(q.name))
        if loc.local is not None and len(loc.local):
            local_ids, local_names, local_phons = self.local_choices(loc.local)
            for text, choices in ((q.name, local_names), (q.phonetic, local_phons)):
                if text:
                    for _, _, j in process.extract(
                        text, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=45
                    ):
                        pool.add(local_ids[j])
        return pool

    def _streets_with_all_tokens(self, name: str, cap: int = 40) -> list[int]:
        """Streets whose name contains every word heard: a partial name ("Lily Pastré")
        whose plain similarity to the long official one is low."""
        postings = [self.gz.by_token.get(t) for t in set(name.split())]
        if not postings or any(p is None for p in postings):
            return []
        arrays = sorted((p for p in postings if p is not None), key=len)
        if len(arrays[0]) > 400:
            return []  # only common words ("general", "st"): the fuzzy probes cover it
        common = arrays[0]
        for other in arrays[1:]:
            common = np.intersect1d(common, other, assume_unique=True)
        return [int(i) for i in common[:cap]]

    def local_choices(self, ids: np.ndarray) -> tuple[list[int], list[str], list[str]]:
        """(street ids, their name keys, their phonetic keys) of an area, cached per area."""
        key = ids.tobytes()
        cached = self._local_cache.get(key)
        if cached is None:
            local = [int(i) for i in ids]
            cached = (
                local,
                [self.gz.key_names[i] for i in local],
                [self.gz.phons[i] for i in local],
            )
            if len(self._local_cache) < 4096:
                self._local_cache[key] = cached
        return cached
