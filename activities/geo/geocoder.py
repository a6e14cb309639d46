"""Matching a parsed spoken address ("12", "rue paradis", "13006") to a gazetteer address and
its collection sector: the territory checks, the street ranking (street_ranking.py), the
house number, then the sector; anything uncertain is `ambiguous` for a person."""

from __future__ import annotations

import re

import numpy as np
from rapidfuzz import fuzz, process

from activities.geo.gazetteer import Gazetteer, HouseNumber, department, parent_citycode
from activities.geo.sectors import SectorIndex
from activities.geo.street_ranking import Candidate, Locality, StreetRanker
from domain import geotext
from domain.models import AddressMatch, GeocodeResult, GeocodeStatus, SpokenAddress

__all__ = ["Geocoder", "match_address"]

# An exact name this close below a different best street makes the result ambiguous.
_EXACT_GUARD = 0.12


class Geocoder:
    """Spoken address -> `GeocodeResult`.

    min_score: below it the bot asks a person (status `ambiguous`).
    margin: two different streets closer than this are `ambiguous`.
    floor: below it nothing is proposed (`not_found`).
    """

    def __init__(
        self,
        gazetteer: Gazetteer,
        sectors: SectorIndex,
        min_score: float = 0.82,
        *,
        margin: float = 0.05,
        floor: float = 0.6,
        max_candidates: int = 5,
    ) -> None:
        self.gz = gazetteer
        self.sectors = sectors
        self.min_score = min_score
        self.margin = margin
        self.floor = min(floor, min_score)
        self.max_candidates = max_candidates
        self._known_cities = self._territory_city_keys()
        self._known_city_list = sorted(self._known_cities)
        self._known_city_phonetics = [geotext.phonetic(k) for k in self._known_city_list]
        self.ranker = StreetRanker(gazetteer, self.floor)
        self._sector_ids = frozenset(sectors.ids)

    def _territory_city_keys(self) -> dict[str, str]:
        keys: dict[str, str] = {}
        for k in self.gz.by_city:
            keys[k] = k
        for name in self.sectors.names():
            k = geotext.city_key(name)
            if k:
                keys.setdefault(k, k)
        return keys

    # ------------------------------------------------------------------ entry point

    def geocode(self, spoken: SpokenAddress) -> GeocodeResult:
        street_text = (spoken.street or "").strip()
        if not street_text:
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value, reason="no street name heard"
            )
        query = geotext.street_key(street_text)
        if not query.name and not query.street_type:
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value, reason="street name has no usable words"
            )

        outside = self._outside_territory(spoken)
        if outside:
            return GeocodeResult(status=GeocodeStatus.OUT_OF_TERRITORY.value, reason=outside)
        locality = self.locality(spoken)
        uncovered_city = self._city_without_addresses(spoken, locality)
        if uncovered_city:
            # A commune of the territory the gazetteer has no address for: a street of the
            # same name elsewhere would be a wrong guess.
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value,
                reason=f"the gazetteer has no address in {uncovered_city}",
            )

        candidates = self.ranker.rank(query, locality)
        if not candidates or candidates[0].rank < self.floor:
            uncovered = self._uncovered_code(spoken)
            if uncovered:
                return GeocodeResult(
                    status=GeocodeStatus.OUT_OF_TERRITORY.value,
                    reason=f"{uncovered} is not covered and no street of the territory matches",
                )
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value,
                reason=f"no street close to '{street_text}'"
                + (f" (best {candidates[0].score:.2f})" if candidates else ""),
            )
        return self._decide(candidates, spoken, query)

    # ------------------------------------------------------------------ territory

    def known_city(self, city: str) -> str | None:
        """The territory city key the heard city stands for, if any. Lenient on purpose: an
        unknown city sends the call out of the territory, so a garbled "Marseille" or one
        with words around it ("Marseille dans le") must still be recognised."""
        key = geotext.city_key(city)
        if not key:
            return None
        if key in self._known_cities:
            return key
        hit = process.extractOne(key, self._known_city_list, scorer=fuzz.ratio, score_cutoff=85)
        if hit:
            return str(hit[0])
        padded = f" {key} "
        inside = [k for k in self._known_city_list if len(k) >= 4 and f" {k} " in padded]
        if inside:
            return max(inside, key=len)
        sound = geotext.phonetic(key)
        hit = process.extractOne(
            sound, self._known_city_phonetics, scorer=fuzz.ratio, score_cutoff=85
        )
        return self._known_city_list[hit[2]] if hit else None

    def _outside_territory(self, spoken: SpokenAddress) -> str:
        city_heard = geotext.city_key(spoken.city or "")
        if city_heard and self.known_city(spoken.city) is None:
            return f"city '{spoken.city}' is not in the territory"
        if city_heard:
            # A known city overrides a garbled postcode.
            return ""
        for label, code in (("postcode", spoken.postcode), ("citycode", spoken.citycode)):
            code = (code or "").strip()
            if (
                re.fullmatch(r"\d[\dAB]\d{3}", code)
                and code not in self.gz.postcodes
                and code not in self.gz.citycodes
                and parent_citycode(code) not in self.gz.by_parent_citycode
                and department(code) not in self.gz.departments
            ):
                return f"{label} {code} is not in the territory"
        return ""

    def _city_without_addresses(self, spoken: SpokenAddress, loc: Locality) -> str:
        if not loc.city_keys or loc.postcode or loc.citycode:
            return ""  # no city, or a known postcode says where to look
        if any(k in self.gz.by_city for k in loc.city_keys):
            return ""
        return spoken.city.strip()

    def _uncovered_code(self, spoken: SpokenAddress) -> str:
        """A well-formed postcode or INSEE code heard that the gazetteer does not know."""
        for label, code in (("postcode", spoken.postcode), ("citycode", spoken.citycode)):
            code = (code or "").strip()
            if (
                re.fullmatch(r"\d[\dAB]\d{3}", code)
                and code not in self.gz.by_postcode
                and code not in self.gz.by_citycode
                and code not in self.gz.by_parent_citycode
            ):
                return f"{label} {code}"
        return ""

    def locality(self, spoken: SpokenAddress) -> Locality:
        loc = Locality()
        local: list[np.ndarray] = []
        postcode = (spoken.postcode or "").strip()
        if postcode in self.gz.by_postcode:
            loc.postcode = postcode
            local.append(self.gz.by_postcode[postcode])
        citycode = (spoken.citycode or "").strip()
        if citycode in self.gz.by_citycode:
            loc.citycode = citycode
            local.append(self.gz.by_citycode[citycode])
        elif citycode in self.gz.by_parent_citycode:
            loc.citycode = citycode
            if not local:
                local.append(self.gz.by_parent_citycode[citycode])
        city = self.known_city(spoken.city or "") if spoken.city else None
        if city:
            loc.city_keys = frozenset({city})
            if not local and city in self.gz.by_city:
                local.append(self.gz.by_city[city])
        if local:
            loc.local = np.unique(np.concatenate(local))
        return loc

    # ------------------------------------------------------------------ decision

    def _decide(
        self, ranked: list[Candidate], spoken: SpokenAddress, q: geotext.StreetKey
    ) -> GeocodeResult:
        gz = self.gz
        parsed = geotext.parse_housenumber(spoken.housenumber or "")
        best = ranked[0]
        # Different streets within the margin of the best one.
        close = [c for c in ranked if best.rank - c.rank < self.margin]
        if gz.keys[best.street] != q.key:
            # The heard name exists verbatim but something else won on locality or
            # phonetics: a person decides.
            close += [
                c
                for c in ranked
                if c not in close
                and gz.keys[c.street] == q.key
                and best.rank - c.rank < _EXACT_GUARD
            ]

        if len(close) > 1 and parsed is not None:
            close = self._same_street_tiebreak(close, parsed, q, spoken.street.strip())
            best = close[0]

        if len(close) > 1:
            return GeocodeResult(
                status=GeocodeStatus.AMBIGUOUS.value,
                candidates=self._street_candidates(close, parsed),
                reason=f"{len(close)} streets match '{spoken.street}' about equally well",
            )
        if best.rank < self.min_score:
            # Only plausible alternatives: a list padded with unrelated streets of the same
            # type would waste the agent's time.
            plausible = [c for c in ranked if c.rank >= max(self.floor - 0.2, best.rank - 0.25)]
            return GeocodeResult(
                status=GeocodeStatus.AMBIGUOUS.value,
                candidates=self._street_candidates(plausible, parsed),
                reason=f"best street score {best.score:.2f} is below {self.min_score:.2f}",
            )

        street = best.street
        if parsed is None:
            return GeocodeResult(
                status=GeocodeStatus.NUMBER_NOT_FOUND.value,
                candidates=self._number_candidates(street, None, best.score),
                reason=f"no house number heard for {gz.name(street)}",
            )
        found = gz.find_number(street, *parsed)
        if found is None:
            label = geotext.format_housenumber(*parsed)
            return GeocodeResult(
                status=GeocodeStatus.NUMBER_NOT_FOUND.value,
                candidates=self._number_candidates(street, parsed, best.score),
                reason=f"no number {label} in {gz.name(street)} ({gz.postcode(street)})",
            )
        match = self.address(street, found, best.score)
        if not match.sector:
            return GeocodeResult(
                status=GeocodeStatus.OUT_OF_TERRITORY.value,
                candidates=[match],
                reason="the address lies in no collection sector",
            )
        return GeocodeResult(status=GeocodeStatus.MATCHED.value, match=match)

    def _same_street_tiebreak(
        self,
        close: list[Candidate],
        parsed: tuple[int, str],
        q: geotext.StreetKey,
        spoken: str,
    ) -> list[Candidate]:
        """Candidates that are one street under several rows: split by the BAN per
        arrondissement or postcode, or spelt twice ("Cours Saint Louis" / "Cours Saint-Louis").
        The house number, then the exact wording, picks one; otherwise they stay ambiguous."""
        gz = self.gz
        if any(gz.keys[c.street] != gz.keys[close[0].street] for c in close):
            return close
        having = [c for c in close if gz.has_number(c.street, *parsed)]
        if len(having) == 1:
            return having
        if len(having) > 1 and len({gz.citycode(c.street) for c in having}) == 1:
            worded = [c for c in having if gz.key_names_articles[c.street] == q.name_with_articles]
            if len(worded) == 1:
                return worded
            if len({gz.key_names_articles[c.street] for c in having}) == 1:
                # Same words in the same commune, spelt with other punctuation or accents:
                # one street; the row spelt as heard, else the first one, stands for it.
                verbatim = [c for c in having if gz.name(c.street).lower() == spoken.lower()]
                return verbatim[:1] or having[:1]
        return close

    def address(self, street: int, number: HouseNumber | None, score: float) -> AddressMatch:
        gz = self.gz
        if number is None:
            lon, lat = gz.centroid(street)
            label, ban_id = "", ""
        else:
            lon, lat, label, ban_id = number.lon, number.lat, number.label, number.ban_id
        return AddressMatch(
            housenumber=label,
            street=gz.name(street),
            postcode=gz.postcode(street),
            citycode=gz.citycode(street),
            city=gz.city(street),
            lon=round(lon, 6),
            lat=round(lat, 6),
            score=score,
            sector=self._sector(street, lon, lat),
            ban_id=ban_id,
        )

    def _sector(self, street: int, lon: float, lat: float) -> str:
        """The sector of the point, unless it lies in another commune than the address's own
        (the BAN row's INSEE code, when sectors are keyed by it): simplified polygons and
        positions near a boundary disagree (seed 3101: an address of Allauch located in
        Marseille's 11th and booked for its crew). Within a divided city the point chooses
        the arrondissement: a street crosses them, its row names one. A point in no sector
        stays in none (a sector may cover part of a commune only)."""
        located = self.sectors.locate(lon, lat)
        row = self.gz.citycode(street)
        if located and row in self._sector_ids and parent_citycode(located) != parent_citycode(row):
            return row
        return located

    def _street_candidates(
        self, ranked: list[Candidate], parsed: tuple[int, str] | None
    ) -> list[AddressMatch]:
        out = []
        for cand in ranked[: self.max_candidates]:
            number = self.gz.find_number(cand.street, *parsed) if parsed else None
            out.append(self.address(cand.street, number, cand.score))
        return out

    def _number_candidates(
        self, street: int, parsed: tuple[int, str] | None, score: float
    ) -> list[AddressMatch]:
        numbers = self.gz.numbers(street)
        if parsed is None:
            chosen = numbers[: self.max_candidates]
        else:
            wanted, _ = parsed

            # Same number with another suffix first, then the nearest numbers, those on the
            # same side of the street (same parity) counting as a little nearer.
            def distance(h: HouseNumber) -> tuple[float, int, str]:
                gap = abs(h.number - wanted) + (1.5 if (h.number - wanted) % 2 else 0.0)
                return (gap, h.number, h.rep)

            chosen = sorted(numbers, key=distance)[: self.max_candidates]
        return [self.address(street, h, score) for h in chosen]


def match_address(
    spoken: SpokenAddress, gazetteer: Gazetteer, sectors: SectorIndex, min_score: float
) -> GeocodeResult:
    return Geocoder(gazetteer, sectors, min_score).geocode(spoken)
