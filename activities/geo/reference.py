"""The territory reference the agent `resolve` validator checks corrections against: the
postcodes and INSEE codes the gazetteer and the sectors cover."""

from __future__ import annotations

import re

from activities.geo.gazetteer import Gazetteer, parent_citycode
from activities.geo.sectors import SectorIndex
from domain.models import TerritoryReference

__all__ = ["territory_reference"]


def territory_reference(gazetteer: Gazetteer, sectors: SectorIndex) -> TerritoryReference:
    """Postcodes and INSEE codes of the gazetteer streets that lie in a sector, plus the
    sector ids that are INSEE codes and the communes of covered arrondissements."""
    lons, lats = gazetteer.centroids()
    located = sectors.locate_many(lons, lats)
    postcodes: set[str] = set()
    citycodes: set[str] = set()
    for i, sector in enumerate(located):
        if sector:
            postcodes.add(gazetteer.postcode(i))
            citycodes.add(gazetteer.citycode(i))
    citycodes.update(s for s in sectors.ids if re.fullmatch(r"\d[\dAB]\d{3}", s))
    citycodes.update({parent_citycode(c) for c in citycodes})
    return TerritoryReference(
        postcodes=sorted(p for p in postcodes if p), citycodes=sorted(c for c in citycodes if c)
    )
