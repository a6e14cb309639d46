"""The street index over a BAN file: streets by postcode, INSEE code, city and word, their
house numbers and positions. Built once per process with `Gazetteer.load` (from the cache
when the file has not changed)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from activities.geo.ban import (
    BanIndex,
    GazetteerError,
    cache_path,
    parse_ban,
    read_cache,
    write_cache,
)
from domain import geotext

__all__ = ["Gazetteer", "GazetteerError", "HouseNumber", "department", "parent_citycode"]

log = logging.getLogger(__name__)

# INSEE codes of municipal arrondissements -> their commune (a caller says "Marseille" while the
# BAN files Marseille addresses under 13201..13216).
_ARRONDISSEMENT_RANGES: tuple[tuple[int, int, str], ...] = (
    (13201, 13216, "13055"),
    (69381, 69389, "69123"),
    (75101, 75120, "75056"),
)


def parent_citycode(citycode: str) -> str:
    """The commune of an arrondissement code; the code itself otherwise."""
    if citycode.isdigit():
        value = int(citycode)
        for low, high, parent in _ARRONDISSEMENT_RANGES:
            if low <= value <= high:
                return parent
    return citycode


def department(code: str) -> str:
    if len(code) != 5:
        return ""
    return code[:3] if code.startswith("97") else code[:2]


@dataclass(frozen=True)
class HouseNumber:
    number: int
    rep: str
    lon: float
    lat: float
    ban_id: str

    @property
    def label(self) -> str:
        return geotext.format_housenumber(self.number, self.rep)


class Gazetteer:
    """Street index over a BAN CSV file. Build with `Gazetteer.load`."""

    def __init__(self, index: BanIndex) -> None:
        self._ix = index
        ix = index
        self.street_count = len(ix.name)
        self.address_count = len(ix.numero)
        self.postcodes: frozenset[str] = frozenset(ix.postcode)
        self.citycodes: frozenset[str] = frozenset(ix.citycode)
        self.departments: frozenset[str] = frozenset(
            d for d in (department(c) for c in self.citycodes | self.postcodes) if d
        )
        self.by_postcode = _group(ix.postcode)
        self.by_citycode = _group(ix.citycode)
        by_parent: dict[str, list[int]] = {}
        for i, code in enumerate(ix.citycode):
            parent = parent_citycode(code)
            if parent != code:
                by_parent.setdefault(parent, []).append(i)
        self.by_parent_citycode = {k: np.asarray(v) for k, v in by_parent.items()}
        self.city_keys = [geotext.city_key(c) for c in ix.city]
        self.old_city_keys = [geotext.city_key(c) for c in ix.old_city]
        by_city: dict[str, list[int]] = {}
        for i, (ck, ock) in enumerate(zip(self.city_keys, self.old_city_keys, strict=True)):
            for k in {ck, ock} - {""}:
                by_city.setdefault(k, []).append(i)
        self.by_city = {k: np.asarray(v) for k, v in by_city.items()}
        self.by_key = _group(ix.key)
        by_token: dict[str, list[int]] = {}
        for i, name in enumerate(ix.key_name):
            for token in set(name.split()):
                by_token.setdefault(token, []).append(i)
        self.by_token = {k: np.asarray(v, dtype=np.int64) for k, v in by_token.items()}
        # Lists, not arrays: rapidfuzz iterates Python strings fastest.
        self.keys = ix.key
        self.key_names = ix.key_name
        self.key_names_articles = ix.key_name_articles
        self.phons = ix.phon
        self.phon_names = ix.phon_name
        self.phon_names_bare = ix.phon_name_bare
        self.street_types = ix.street_type

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        path: str | Path,
        cache_dir: str | Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Gazetteer:
        """Parse a BAN CSV (`;`, optionally gzipped) or reuse the cached index built from the
        same file (same path, size and modification time). `progress` gets the number of rows
        read so far."""
        path = Path(path)
        if not path.is_file():
            raise GazetteerError(f"gazetteer file not found: {path}")
        cached: Path | None = None
        if cache_dir is not None:
            cached = cache_path(path, Path(cache_dir))
            index = read_cache(cached)
            if index is not None:
                if progress is not None:
                    progress(index.rows)
                return cls(index)
        started = time.perf_counter()
        index = parse_ban(path, progress)
        log.info(
            "gazetteer %s: %d rows, %d streets in %.1f s",
            path.name,
            index.rows,
            len(index.name),
            time.perf_counter() - started,
        )
        if cached is not None:
            write_cache(cached, index)
        return cls(index)

    # ------------------------------------------------------------------ accessors

    def describe(self) -> str:
        communes = len({parent_citycode(c) for c in self.citycodes})
        return (
            f"{Path(self._ix.source).name}: {self.address_count:,} addresses, "
            f"{self.street_count:,} streets, {communes} communes, "
            f"{len(self.postcodes)} postcodes"
        )

    def name(self, street: int) -> str:
        return self._ix.name[street]

    def postcode(self, street: int) -> str:
        return self._ix.postcode[street]

    def citycode(self, street: int) -> str:
        return self._ix.citycode[street]

    def city(self, street: int) -> str:
        return self._ix.city[street]

    def centroid(self, street: int) -> tuple[float, float]:
        return float(self._ix.centroid_lon[street]), float(self._ix.centroid_lat[street])

    def centroids(self) -> tuple[np.ndarray, np.ndarray]:
        return self._ix.centroid_lon, self._ix.centroid_lat

    def numbers(self, street: int) -> list[HouseNumber]:
        ix = self._ix
        start, end = int(ix.offsets[street]), int(ix.offsets[street + 1])
        return [
            HouseNumber(
                number=int(ix.numero[j]),
                rep=ix.rep_values[int(ix.rep[j])],
                lon=float(ix.lon[j]),
                lat=float(ix.lat[j]),
                ban_id=ix.ban_id[j].decode(),
            )
            for j in range(start, end)
        ]

    def find_number(self, street: int, number: int, rep: str) -> HouseNumber | None:
        """The address `number` + `rep` (canonical comparison: "b" == "bis")."""
        ix = self._ix
        start, end = int(ix.offsets[street]), int(ix.offsets[street + 1])
        numeros = ix.numero[start:end]
        lo = int(np.searchsorted(numeros, number, side="left"))
        hi = int(np.searchsorted(numeros, number, side="right"))
        wanted = geotext.canonical_rep(rep)
        for j in range(start + lo, start + hi):
            if geotext.canonical_rep(ix.rep_values[int(ix.rep[j])]) == wanted:
                return HouseNumber(
                    number=number,
                    rep=ix.rep_values[int(ix.rep[j])],
                    lon=float(ix.lon[j]),
                    lat=float(ix.lat[j]),
                    ban_id=ix.ban_id[j].decode(),
                )
        return None

    def variants(self, street: int, number: int) -> list[HouseNumber]:
        """Every address of the street with this number, whatever its suffix ("23", "23 bis")."""
        ix = self._ix
        start, end = int(ix.offsets[street]), int(ix.offsets[street + 1])
        numeros = ix.numero[start:end]
        lo = int(np.searchsorted(numeros, number, side="left"))
        hi = int(np.searchsorted(numeros, number, side="right"))
        return [
            HouseNumber(
                number=number,
                rep=ix.rep_values[int(ix.rep[j])],
                lon=float(ix.lon[j]),
                lat=float(ix.lat[j]),
                ban_id=ix.ban_id[j].decode(),
            )
            for j in range(start + lo, start + hi)
        ]

    def has_number(self, street: int, number: int, rep: str) -> bool:
        return self.find_number(street, number, rep) is not None

    def street_names(self) -> list[str]:
        """Distinct street names, e.g. for transcription hotwords."""
        return sorted(set(self._ix.name))

    def search_streets(self, text: str, limit: int = 5) -> list[tuple[str, str, float]]:
        """(street name, postcode, score) for free text; handy for hotwords and debugging."""
        q = geotext.street_key(text)
        hits = process.extract(q.key, self.keys, scorer=fuzz.ratio, limit=limit)
        return [(self.name(i), self.postcode(i), score / 100) for _, score, i in hits]


def _group(values: Sequence[str]) -> dict[str, np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        groups.setdefault(value, []).append(i)
    return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
