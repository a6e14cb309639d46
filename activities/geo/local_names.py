"""Whether a place said with the address is a name of the address's own commune: a quartier,
a cité or a lieu-dit whose name one of its streets carries (« à la busserine » beside « Rue
de la Busserine », « à frais vallon » beside « Avenue de Frais Vallon »), not a commune lost
to the transcription (domain/understanding/locality.py: garbled_city). The territory's list
of quartiers is short; the gazetteer holds these names already."""

from __future__ import annotations

from rapidfuzz import fuzz

from activities.geo.gazetteer import Gazetteer
from domain import geotext

# A misspelling of the name (« la rouguière », Rue de la Rouguière) and nothing looser: an
# outside commune garbled (« l'ascensionner », « en dehors ») must stay unknown.
SAME_NAME_RATIO = 90
SHORTEST_NAME = 4


class LocalNames:
    def __init__(self, gz: Gazetteer) -> None:
        self._gz = gz
        self._by_city: dict[str, frozenset[str]] = {}

    def _names(self, citycode: str) -> frozenset[str]:
        if not self._by_city:
            found: dict[str, set[str]] = {}
            for i, name in enumerate(self._gz.key_names):
                found.setdefault(self._gz.citycode(i), set()).add(str(name))
            self._by_city = {code: frozenset(names) for code, names in found.items()}
        return self._by_city.get(citycode, frozenset())

    def carries(self, place: str, citycode: str) -> bool:
        """Whether a street of the commune `citycode` carries the name `place` (its articles
        aside) as its own name."""
        said = geotext.street_key(f"rue {place}").name
        if len(said) < SHORTEST_NAME:
            return False
        return any(fuzz.ratio(said, name) >= SAME_NAME_RATIO for name in self._names(citycode))
