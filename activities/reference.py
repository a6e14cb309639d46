"""The territory reference the agent `resolve` validator checks corrections against."""

from __future__ import annotations

from temporalio import activity

from activities.geocode import GeocodeActivities
from domain.catalogue import Catalogue, item_key
from domain.models import TerritoryReference, TerritoryReferenceInput


class ReferenceActivities:
    def __init__(self, geocode: GeocodeActivities, catalogue: Catalogue) -> None:
        self._geocode = geocode
        self._catalogue = catalogue

    @activity.defn(name="territory_reference")
    def territory_reference(self, inp: TerritoryReferenceInput) -> TerritoryReference:
        ref = self._geocode.territory_reference(inp)
        ref.items = sorted(self._catalogue.accepted_names())
        ref.refused_items = sorted(self._catalogue.refused_names())
        ref.item_aliases = {
            item_key(form): item.name for item in self._catalogue.items for form in item.forms
        }
        return ref
