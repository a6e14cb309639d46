"""The geocoding activities: a spoken address → a gazetteer address (BAN) and its collection
sector, the streets a garbled transcript could name, the address the candidates and the audio
scores resolve to, and the territory reference the agent validator checks against.

The engines live in activities/geo/ (BAN reader and cache, gazetteer, sectors, geocoder,
street search, resolver); this class holds them, built once per process."""

from __future__ import annotations

import logging
import time

from temporalio import activity

from activities.geo.gazetteer import Gazetteer
from activities.geo.geocoder import Geocoder
from activities.geo.reference import territory_reference
from activities.geo.resolver import AddressResolver
from activities.geo.sectors import SectorIndex
from activities.geo.street_search import AddressSearch
from domain.address_models import AddressCandidates, AddressSearchInput, ResolveAddressInput
from domain.catalogue import Catalogue, item_key
from domain.decision import book_threshold_for
from domain.models import (
    GeocodeInput,
    GeocodeResult,
    GeocodeStatus,
    SpokenAddress,
    TerritoryReference,
    TerritoryReferenceInput,
)
from domain.understanding import Territory

__all__ = ["GeocodeActivities"]

log = logging.getLogger(__name__)


class GeocodeActivities:
    def __init__(
        self,
        gazetteer: Gazetteer,
        sectors: SectorIndex,
        min_score: float,
        territory: Territory,
        *,
        catalogue: Catalogue | None = None,
        book_threshold: float = 0.0,
        confirm_threshold: float = 0.0,
    ) -> None:
        self.geocoder = Geocoder(gazetteer, sectors, min_score)
        self.territory = territory
        # The items of the territory reference (none without a catalogue).
        self.catalogue = catalogue
        # Passed on with each resolved address (0: the calibrated defaults of domain.decision).
        self.book_threshold = book_threshold
        self.confirm_threshold = confirm_threshold
        self._reference: TerritoryReference | None = None
        self._search: AddressSearch | None = None

    @activity.defn(name="geocode_address")
    def geocode(self, inp: GeocodeInput) -> GeocodeResult:
        spoken = inp.address if inp is not None else None
        if spoken is None or not (spoken.street or "").strip():
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value, reason="no street name heard"
            )
        started = time.perf_counter()
        result = self.geocoder.geocode(spoken)
        # Status and timing only: the address itself is personal data.
        log.info(
            "geocode status=%s candidates=%d in %.1f ms",
            result.status,
            len(result.candidates),
            (time.perf_counter() - started) * 1000,
        )
        return result

    @property
    def search(self) -> AddressSearch:
        if self._search is None:
            self._search = AddressSearch(self.geocoder, self.territory)
        return self._search

    @activity.defn(name="propose_addresses")
    def propose_addresses(self, inp: AddressSearchInput) -> AddressCandidates:
        """Streets of the gazetteer that could have been said, from the transcript."""
        started = time.perf_counter()
        result = self.search.propose(inp.text, inp.address, inp.max_candidates)
        log.info(
            "propose_addresses candidates=%d in %.1f ms",
            len(result.candidates),
            (time.perf_counter() - started) * 1000,
        )
        return result

    @activity.defn(name="resolve_address")
    def resolve_address(self, inp: ResolveAddressInput) -> GeocodeResult:
        """One address and a calibrated confidence from the candidates and the audio scores."""
        started = time.perf_counter()
        result = AddressResolver(self.search).resolve(
            inp.candidates, inp.scores, inp.address, written=inp.written
        )
        # Kept in the result, so in the case's history: a case replays with the threshold
        # it was decided on.
        voted = inp.scores is not None and bool(inp.scores.street_scores)
        result.book_threshold = self.book_threshold or book_threshold_for(voted)
        result.confirm_threshold = self.confirm_threshold
        log.info(
            "resolve_address status=%s in %.1f ms",
            result.status,
            (time.perf_counter() - started) * 1000,
        )
        return result

    def streets_of(self, address: SpokenAddress) -> list[str]:
        """The names of the gazetteer's streets in the place `address` names (its postcode,
        INSEE code or commune), for a street spelled on the phone; none when it names none."""
        local = self.geocoder.locality(address).local
        if local is None:
            return []
        gz = self.geocoder.gz
        return sorted({gz.name(int(i)) for i in local})

    @activity.defn(name="territory_reference")
    def territory_reference(self, inp: TerritoryReferenceInput) -> TerritoryReference:
        """What the agent `resolve` validator checks corrections against: the postcodes and
        INSEE codes covered, and the catalogue's items."""
        if self._reference is None:
            self._reference = territory_reference(self.geocoder.gz, self.geocoder.sectors)
        ref = self._reference
        out = TerritoryReference(postcodes=list(ref.postcodes), citycodes=list(ref.citycodes))
        if self.catalogue is not None:
            out.items = sorted(self.catalogue.accepted_names())
            out.refused_items = sorted(self.catalogue.refused_names())
            out.item_aliases = {
                item_key(form): item.name for item in self.catalogue.items for form in item.forms
            }
        return out
