"""Geocoding: a spoken address -> a gazetteer address (BAN CSV) and its collection sector.

- `Gazetteer`: in-process street index built from a BAN CSV file (the official
  `adresses-XX.csv[.gz]` schema), cached on disk so a worker restart is fast.
- `SectorIndex`: collection-sector polygons (GeoJSON), point-in-polygon with an STRtree over
  prepared geometries in Lambert-93, the smallest containing polygon winning.
- `Geocoder` / `match_address`: street matching tolerant of transcription errors (text +
  phonetic keys, rapidfuzz), then the house number, then the sector.
- `GeocodeActivities`: the Temporal activities.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import math
import os
import pickle
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from rapidfuzz import fuzz, process
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from temporalio import activity

from domain import geotext
from domain.address_models import (
    AddressCandidates,
    AddressScores,
    AddressSearchInput,
    ResolveAddressInput,
    StreetCandidate,
)
from domain.models import (
    AddressMatch,
    GeocodeInput,
    GeocodeResult,
    GeocodeStatus,
    SpokenAddress,
    TerritoryReference,
    TerritoryReferenceInput,
)
from domain.numbers import normalize_housenumber
from domain.understanding import locate_address

log = logging.getLogger(__name__)

_CACHE_FORMAT = "1"
_PROGRESS_EVERY = 25_000

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


def _department(code: str) -> str:
    if len(code) != 5:
        return ""
    return code[:3] if code.startswith("97") else code[:2]


DEFAULT_SECTOR_TOLERANCE_M = 200.0


class GazetteerError(ValueError):
    """The BAN file cannot be read (missing columns, unreadable file)."""


_WGS84_TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
_L93_TO_WGS84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


# --------------------------------------------------------------------------- gazetteer


@dataclass
class _Index:
    """What the cache stores: plain lists and numpy arrays, one entry per street
    (unique name, postcode, citycode) and one per address, addresses grouped by street."""

    source: str
    rows: int
    # per street
    name: list[str]
    postcode: list[str]
    citycode: list[str]
    city: list[str]
    old_city: list[str]
    street_type: list[str]
    key: list[str]
    key_name: list[str]
    key_name_articles: list[str]
    phon: list[str]
    phon_name: list[str]
    phon_name_bare: list[str]
    centroid_lon: np.ndarray
    centroid_lat: np.ndarray
    offsets: np.ndarray  # street i owns addresses offsets[i]:offsets[i+1]
    # per address
    numero: np.ndarray
    rep: np.ndarray  # index into rep_values
    rep_values: list[str]
    lon: np.ndarray
    lat: np.ndarray
    ban_id: np.ndarray  # bytes


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


_REQUIRED_COLUMNS = ("numero", "nom_voie", "code_postal", "code_insee", "nom_commune")


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    stream: Any = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
    # utf-8-sig: some exports carry a BOM that would otherwise glue itself to the first column.
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def _float(text: str) -> float:
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan


def _parse_ban(path: Path, progress: Callable[[int], None] | None) -> _Index:
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=";")
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration as exc:
            raise GazetteerError(f"{path}: empty file") from exc
        col = {name: i for i, name in enumerate(header)}
        missing = [c for c in _REQUIRED_COLUMNS if c not in col]
        if missing:
            raise GazetteerError(f"{path}: not a BAN CSV file, missing columns {missing}")
        if not ({"lon", "lat"} <= col.keys() or {"x", "y"} <= col.keys()):
            raise GazetteerError(f"{path}: no position columns (lon/lat or x/y)")

        i_id = col.get("id", -1)
        i_num, i_rep = col["numero"], col.get("rep", -1)
        i_voie, i_ld = col["nom_voie"], col.get("nom_ld", -1)
        i_cp, i_insee, i_city = col["code_postal"], col["code_insee"], col["nom_commune"]
        i_old_city = col.get("nom_ancienne_commune", -1)
        i_lon, i_lat = col.get("lon", -1), col.get("lat", -1)
        i_x, i_y = col.get("x", -1), col.get("y", -1)
        width = len(header)

        street_ids: dict[tuple[str, str, str], int] = {}
        names: list[str] = []
        postcodes: list[str] = []
        citycodes: list[str] = []
        cities: list[str] = []
        old_cities: list[str] = []
        rep_ids: dict[str, int] = {"": 0}
        a_street: list[int] = []
        a_num: list[int] = []
        a_rep: list[int] = []
        a_lon: list[float] = []
        a_lat: list[float] = []
        a_x: list[float] = []
        a_y: list[float] = []
        a_id: list[str] = []
        rows = 0
        for row in reader:
            rows += 1
            if progress is not None and rows % _PROGRESS_EVERY == 0:
                progress(rows)
            if len(row) < width:
                if not row:
                    continue
                row = row + [""] * (width - len(row))
            name = row[i_voie].strip() or (row[i_ld].strip() if i_ld >= 0 else "")
            if not name:
                continue
            try:
                number = int(row[i_num])
            except ValueError:
                continue
            skey = (name, row[i_cp].strip(), row[i_insee].strip())
            sid = street_ids.get(skey)
            if sid is None:
                sid = street_ids[skey] = len(names)
                names.append(name)
                postcodes.append(skey[1])
                citycodes.append(skey[2])
                cities.append(row[i_city].strip())
                old_cities.append(row[i_old_city].strip() if i_old_city >= 0 else "")
            rep_text = row[i_rep].strip().lower() if i_rep >= 0 else ""
            rid = rep_ids.get(rep_text)
            if rid is None:
                rid = rep_ids[rep_text] = len(rep_ids)
            a_street.append(sid)
            a_num.append(number)
            a_rep.append(rid)
            a_lon.append(_float(row[i_lon]) if i_lon >= 0 else math.nan)
            a_lat.append(_float(row[i_lat]) if i_lat >= 0 else math.nan)
            a_x.append(_float(row[i_x]) if i_x >= 0 else math.nan)
            a_y.append(_float(row[i_y]) if i_y >= 0 else math.nan)
            a_id.append(row[i_id] if i_id >= 0 else "")
    if progress is not None:
        progress(rows)
    if not names:
        raise GazetteerError(f"{path}: no address rows")

    street = np.asarray(a_street, dtype=np.int64)
    lon = np.asarray(a_lon, dtype=np.float64)
    lat = np.asarray(a_lat, dtype=np.float64)
    missing_pos = np.isnan(lon) | np.isnan(lat)
    if missing_pos.any():
        # Rows with only Lambert-93 x/y (older exports): derive lon/lat.
        x = np.asarray(a_x, dtype=np.float64)[missing_pos]
        y = np.asarray(a_y, dtype=np.float64)[missing_pos]
        lon[missing_pos], lat[missing_pos] = _L93_TO_WGS84.transform(x, y)
    numero = np.asarray(a_num, dtype=np.int32)
    rep = np.asarray(a_rep, dtype=np.int16)
    ban_id = np.asarray(a_id, dtype=np.bytes_)
    del a_street, a_num, a_rep, a_lon, a_lat, a_x, a_y, a_id

    valid = ~(np.isnan(lon) | np.isnan(lat))
    # Group addresses by street, numbers ascending inside a street.
    order = np.lexsort((rep, numero, street))
    order = order[valid[order]]
    street, numero, rep = street[order], numero[order], rep[order]
    lon, lat, ban_id = lon[order], lat[order], ban_id[order]
    n_streets = len(names)
    counts = np.bincount(street, minlength=n_streets)
    offsets = np.zeros(n_streets + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid_lon = np.bincount(street, weights=lon, minlength=n_streets) / counts
        centroid_lat = np.bincount(street, weights=lat, minlength=n_streets) / counts

    keys = [geotext.street_key(n) for n in names]
    rep_values = [""] * len(rep_ids)
    for value, rid in rep_ids.items():
        rep_values[rid] = value
    return _Index(
        source=str(path),
        rows=rows,
        name=names,
        postcode=postcodes,
        citycode=citycodes,
        city=cities,
        old_city=old_cities,
        street_type=[k.street_type for k in keys],
        key=[k.key for k in keys],
        key_name=[k.name for k in keys],
        key_name_articles=[k.name_with_articles for k in keys],
        phon=[k.phonetic for k in keys],
        phon_name=[k.name_phonetic for k in keys],
        phon_name_bare=[k.name_phonetic_bare for k in keys],
        centroid_lon=centroid_lon,
        centroid_lat=centroid_lat,
        offsets=offsets,
        numero=numero,
        rep=rep,
        rep_values=rep_values,
        lon=lon,
        lat=lat,
        ban_id=ban_id,
    )


def _cache_path(path: Path, cache_dir: Path) -> Path:
    stat = path.stat()
    ident = "|".join(
        (
            str(path.resolve()),
            str(stat.st_size),
            str(stat.st_mtime_ns),
            _CACHE_FORMAT,
            # A change of the index layout or of the normalisation rules invalidates caches.
            ",".join(f.name for f in fields(_Index)),
            geotext.VERSION,
        )
    )
    digest = hashlib.sha256(ident.encode()).hexdigest()[:20]
    return cache_dir / f"gazetteer-{path.name.split('.')[0]}-{digest}.pickle"


class Gazetteer:
    """Street index over a BAN CSV file. Build with `Gazetteer.load`."""

    def __init__(self, index: _Index) -> None:
        self._ix = index
        ix = index
        self.street_count = len(ix.name)
        self.address_count = len(ix.numero)
        self.postcodes: frozenset[str] = frozenset(ix.postcode)
        self.citycodes: frozenset[str] = frozenset(ix.citycode)
        self.departments: frozenset[str] = frozenset(
            d for d in (_department(c) for c in self.citycodes | self.postcodes) if d
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
            cached = _cache_path(path, Path(cache_dir))
            index = _read_cache(cached)
            if index is not None:
                if progress is not None:
                    progress(index.rows)
                return cls(index)
        started = time.perf_counter()
        index = _parse_ban(path, progress)
        log.info(
            "gazetteer %s: %d rows, %d streets in %.1f s",
            path.name,
            index.rows,
            len(index.name),
            time.perf_counter() - started,
        )
        if cached is not None:
            _write_cache(cached, index)
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


def _read_cache(path: Path) -> _Index | None:
    try:
        with path.open("rb") as handle:
            index = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file: rebuild rather than fail the worker
        log.warning("ignoring unreadable gazetteer cache %s", path)
        return None
    return index if isinstance(index, _Index) else None


def _write_cache(path: Path, index: _Index) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a worker killed mid-write never leaves a half file behind, and two
        # workers building at once each rename a complete file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gazetteer-", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(index, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; other worker users read it too
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write gazetteer cache %s: %s", path, exc)


# --------------------------------------------------------------------------- sectors


@dataclass(frozen=True)
class Sector:
    id: str
    name: str
    area_m2: float


def _to_l93(geom: BaseGeometry) -> BaseGeometry:
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = _WGS84_TO_L93.transform(coords[:, 0], coords[:, 1])
        return np.column_stack((x, y))

    return shapely.transform(geom, project)


def _feature_crs_is_l93(collection: dict[str, Any]) -> bool:
    crs = collection.get("crs") or {}
    name = str((crs.get("properties") or {}).get("name", ""))
    return "2154" in name


class SectorIndex:
    """Collection sectors: point -> sector. Geometries are kept in Lambert-93 so areas and
    distances are in metres.

    Layers may overlap (the commune of Marseille and its arrondissements): the smallest
    containing polygon wins. `tolerance_m`: a point just outside every polygon (a simplified
    coastline, a quay, a boundary drawn a few metres off) goes to the nearest sector within
    that distance, and a point inside a big polygon but just outside the small ones nested in
    it goes to the nearest small one."""

    def __init__(
        self,
        sectors: Sequence[Sector],
        geometries: Sequence[BaseGeometry],
        tolerance_m: float = DEFAULT_SECTOR_TOLERANCE_M,
    ) -> None:
        if len(sectors) != len(geometries):
            raise ValueError("one geometry per sector")
        if not sectors:
            raise ValueError("no sector polygons")
        self.sectors = list(sectors)
        self._geoms = np.asarray(geometries, dtype=object)
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self._area = np.asarray([s.area_m2 for s in self.sectors], dtype=np.float64)
        self.tolerance_m = tolerance_m
        self._parents = self._nesting()

    def _nesting(self) -> list[frozenset[int]]:
        """For each polygon, the bigger polygons it mostly lies in (half its area or more:
        layers drawn from different sources disagree on the coastline and the port)."""
        parents: list[frozenset[int]] = []
        for j, geom in enumerate(self._geoms):
            found = set()
            for i in self._tree.query(geom, predicate="intersects"):
                i = int(i)
                if i == j or self._area[i] <= self._area[j]:
                    continue
                shared = shapely.intersection(geom, self._geoms[i]).area
                if shared >= 0.5 * self._area[j]:
                    found.add(i)
            parents.append(frozenset(found))
        return parents

    @classmethod
    def load(
        cls,
        paths: str | Path | Iterable[str | Path],
        tolerance_m: float = DEFAULT_SECTOR_TOLERANCE_M,
    ) -> SectorIndex:
        """Read GeoJSON FeatureCollections (WGS84, or Lambert-93 when the legacy `crs` member
        says EPSG:2154)."""
        if isinstance(paths, str | Path):
            paths = [paths]
        collections = []
        for path in paths:
            with Path(path).open(encoding="utf-8") as handle:
                collections.append(json.load(handle))
        return cls.from_geojson(collections, tolerance_m=tolerance_m)

    @classmethod
    def from_geojson(
        cls,
        collections: Iterable[dict[str, Any]],
        tolerance_m: float = DEFAULT_SECTOR_TOLERANCE_M,
    ) -> SectorIndex:
        sectors: list[Sector] = []
        geoms: list[BaseGeometry] = []
        for collection in collections:
            l93 = _feature_crs_is_l93(collection)
            features = collection.get("features", [collection])
            for feature in features:
                geometry = feature.get("geometry")
                if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
                    continue
                props = feature.get("properties") or {}
                sector_id = next(
                    (
                        str(props[k])
                        for k in ("id", "insee", "code")
                        if props.get(k) not in (None, "")
                    ),
                    "",
                )
                if not sector_id:
                    continue
                name = str(props.get("nom") or props.get("name") or sector_id)
                geom = shape(geometry)
                if not l93:
                    geom = _to_l93(geom)
                if not geom.is_valid:
                    geom = shapely.make_valid(geom)
                sectors.append(Sector(id=sector_id, name=name, area_m2=float(geom.area)))
                geoms.append(geom)
        if not sectors:
            raise ValueError("no sector polygons (Polygon/MultiPolygon with id/insee/code)")
        return cls(sectors, geoms, tolerance_m)

    def __len__(self) -> int:
        return len(self.sectors)

    @property
    def ids(self) -> list[str]:
        return sorted({s.id for s in self.sectors})

    def sector_at(self, lon: float, lat: float) -> Sector | None:
        x, y = _WGS84_TO_L93.transform(lon, lat)
        point = shapely.Point(x, y)
        hits = [int(i) for i in self._tree.query(point, predicate="intersects")]
        near: list[int] = []
        if self.tolerance_m > 0:
            near = [
                int(i)
                for i in self._tree.query(point, predicate="dwithin", distance=self.tolerance_m)
                if int(i) not in hits
            ]
        if hits:
            best = min(hits, key=lambda i: self._area[i])
            nested = [i for i in near if best in self._parents[i]]
            if not nested:
                return self.sectors[best]
            near = nested
        if not near:
            return None
        distances = shapely.distance(self._geoms[near], point)
        chosen = min(range(len(near)), key=lambda k: (distances[k], self._area[near[k]]))
        return self.sectors[near[chosen]]

    def locate(self, lon: float, lat: float) -> str:
        sector = self.sector_at(lon, lat)
        return sector.id if sector else ""

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> list[str]:
        """Vectorised `locate` (no tolerance snapping): "" for points in no sector."""
        x, y = _WGS84_TO_L93.transform(np.asarray(lons), np.asarray(lats))
        points = shapely.points(x, y)
        pairs = self._tree.query(points, predicate="intersects")
        best = np.full(len(points), -1, dtype=np.int64)
        best_area = np.full(len(points), np.inf)
        for p, s in zip(pairs[0], pairs[1], strict=True):
            if self._area[s] < best_area[p]:
                best[p], best_area[p] = s, self._area[s]
        return [self.sectors[int(b)].id if b >= 0 else "" for b in best]

    def names(self) -> set[str]:
        return {s.name for s in self.sectors}


# --------------------------------------------------------------------------- matching


@dataclass
class _Candidate:
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
class _Locality:
    postcode: str = ""
    citycode: str = ""
    city_keys: frozenset[str] = frozenset()
    # streets of the heard area, searched separately so the right one is never crowded out
    local: np.ndarray | None = None


# Locality evidence, added to the name similarity. Bounded so that a garbled or misremembered
# postcode can separate equal names but cannot make a poor name match win.
_AREA_BONUS = 0.08
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
        self._local_cache: dict[bytes, tuple[list[int], list[str], list[str]]] = {}

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
        locality = self._locality(spoken)
        uncovered_city = self._city_without_addresses(spoken, locality)
        if uncovered_city:
            # A commune of the territory the gazetteer has no address for: a street of the
            # same name elsewhere would be a wrong guess.
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value,
                reason=f"the gazetteer has no address in {uncovered_city}",
            )

        candidates = self._rank(query, locality)
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

    def _known_city(self, city: str) -> str | None:
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
        if city_heard and self._known_city(spoken.city) is None:
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
                and _department(code) not in self.gz.departments
            ):
                return f"{label} {code} is not in the territory"
        return ""

    def _city_without_addresses(self, spoken: SpokenAddress, loc: _Locality) -> str:
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

    def _locality(self, spoken: SpokenAddress) -> _Locality:
        loc = _Locality()
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
        city = self._known_city(spoken.city or "") if spoken.city else None
        if city:
            loc.city_keys = frozenset({city})
            if not local and city in self.gz.by_city:
                local.append(self.gz.by_city[city])
        if local:
            loc.local = np.unique(np.concatenate(local))
        return loc

    def _locality_score(self, street: int, loc: _Locality) -> float:
        gz = self.gz
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
            return _AREA_BONUS if not contradiction else _COMMUNE_BONUS
        if commune:
            return _COMMUNE_BONUS if not contradiction else _CONTRADICTION + _COMMUNE_BONUS
        return _CONTRADICTION if contradiction else 0.0

    # ------------------------------------------------------------------ street ranking

    def _rank(self, q: geotext.StreetKey, loc: _Locality) -> list[_Candidate]:
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
            local_ids, local_names, local_phons = self._local_choices(loc.local)
            for text, choices in ((q.name, local_names), (q.phonetic, local_phons)):
                if text:
                    for _, _, j in process.extract(
                        text, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=45
                    ):
                        pool.add(local_ids[j])

        candidates = []
        for i in pool:
            base = self._street_similarity(q, i)
            cand = _Candidate(street=i, base=base, exact=gz.keys[i] == q.key)
            if base >= self.floor - _AREA_BONUS:
                cand.locality = self._locality_score(i, loc)
            candidates.append(cand)
        candidates.sort(key=lambda c: (-c.rank, gz.name(c.street), gz.postcode(c.street)))
        return candidates

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

    def _local_choices(self, ids: np.ndarray) -> tuple[list[int], list[str], list[str]]:
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

    def _street_similarity(self, q: geotext.StreetKey, i: int) -> float:
        """0..1: how well the heard street matches street i. Several readings of the heard
        text are scored and the best kept; each reading is conservative on its own."""
        gz = self.gz
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
            # No type recognised: perhaps the type itself was garbled ("en passe" for
            # "impasse"): read the heard phonetics as the candidate's type followed by a name.
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
                reading = (
                    _WEIGHT_NAME * _stretch(_PHONETIC_WEIGHT * tail / 100) + _WEIGHT_TYPE * head
                )
                # A reading the caller did not literally say: slightly discounted.
                best = max(best, 0.97 * reading)
        return min(best, 0.99)

    # ------------------------------------------------------------------ decision

    def _decide(
        self, ranked: list[_Candidate], spoken: SpokenAddress, q: geotext.StreetKey
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
        match = self._address(street, found, best.score)
        if not match.sector:
            return GeocodeResult(
                status=GeocodeStatus.OUT_OF_TERRITORY.value,
                candidates=[match],
                reason="the address lies in no collection sector",
            )
        return GeocodeResult(status=GeocodeStatus.MATCHED.value, match=match)

    def _same_street_tiebreak(
        self,
        close: list[_Candidate],
        parsed: tuple[int, str],
        q: geotext.StreetKey,
        spoken: str,
    ) -> list[_Candidate]:
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

    def _address(self, street: int, number: HouseNumber | None, score: float) -> AddressMatch:
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
            sector=self.sectors.locate(lon, lat),
            ban_id=ban_id,
        )

    def _street_candidates(
        self, ranked: list[_Candidate], parsed: tuple[int, str] | None
    ) -> list[AddressMatch]:
        out = []
        for cand in ranked[: self.max_candidates]:
            number = self.gz.find_number(cand.street, *parsed) if parsed else None
            out.append(self._address(cand.street, number, cand.score))
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
        return [self._address(street, h, score) for h in chosen]


@lru_cache(maxsize=256)
def _type_phonetic(street_type: str) -> str:
    return geotext.phonetic(street_type)


def match_address(
    spoken: SpokenAddress, gazetteer: Gazetteer, sectors: SectorIndex, min_score: float
) -> GeocodeResult:
    return Geocoder(gazetteer, sectors, min_score).geocode(spoken)


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


# --------------------------------------------------------------------------- free-text search
#
# Whisper garbles street names ("Impasse Dupré" → "en passe du prêt") so that the parser often
# cannot even tell where the street is. The search works on the words of the address region
# (between the address cue and the locality, see `domain.understanding.locate_address`): their
# phonetic key is aligned against the phonetic key of every street of the gazetteer, the street
# having to fit somewhere in what was heard (semi-global edit distance: free start and end, so
# that the garbled house number before the street and leftovers after it cost nothing). The
# arrondissement or postcode heard adds a bounded bonus. The audio then decides among the
# candidates (`activities.transcribe.TranscribeActivities.score_address_candidates`).

_PREFILTER = 120  # streets kept by the fast fuzzy prefilter, per probe
_LOCAL_PREFILTER = 40
_TYPE_MISSING_PENALTY = 0.08  # the name alone fits: the type was not heard
_SHORT_KEY = 0.6  # / key length: a short key fits somewhere in any long text
_HEARD_AREA_BONUS = 0.08  # per unit of evidence weight
_MAX_NUMBERS = 80
DEFAULT_MAX_CANDIDATES = 16


# What a heard character after the street costs (a street is the last thing said before the
# locality or the end of the sentence, so leftovers after it are suspicious, but the region's
# end is not always exact).
_TRAILING_COST = 0.5


def _fit(pattern: str, text: np.ndarray, idx: np.ndarray) -> float:
    """Edit distance of `pattern` against the heard text with a free start (the house number
    and the words before the street cost nothing) and a cheap end (what is left after the
    street costs `_TRAILING_COST` a character). One numpy pass per pattern character; the
    insertions along a row are a running minimum."""
    prev = np.zeros(len(text) + 1, dtype=np.int32)
    for i, ch in enumerate(pattern, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        np.minimum(prev[1:] + 1, prev[:-1] + (text != ord(ch)), out=cur[1:])
        prev = np.minimum.accumulate(cur - idx) + idx
    return float((prev + _TRAILING_COST * (len(text) - idx)).min())


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


@dataclass
class _Evidence:
    """What the transcript says about the place, with how much it is trusted (0..1)."""

    postcodes: dict[str, float]
    citycodes: dict[str, float]


class AddressSearch:
    """Gazetteer streets that could have been said, from a (garbled) transcript."""

    def __init__(self, geocoder: Geocoder, max_candidates: int = DEFAULT_MAX_CANDIDATES) -> None:
        self.geocoder = geocoder
        self.gz = geocoder.gz
        self.max_candidates = max_candidates
        self._ids: dict[tuple[str, str, str], int] = {}
        for i in range(self.gz.street_count):
            self._ids.setdefault((self.gz.name(i), self.gz.postcode(i), self.gz.citycode(i)), i)

    def street_id(self, name: str, postcode: str, citycode: str) -> int | None:
        return self._ids.get((name, postcode, citycode))

    # ------------------------------------------------------------------ propose

    def propose(
        self, text: str, spoken: SpokenAddress | None, max_candidates: int = 0
    ) -> AddressCandidates:
        limit = max_candidates or self.max_candidates
        region = locate_address(text)
        typed = self._typed_span(text, spoken)
        heard_words = ""
        out = AddressCandidates()
        if region is not None and (
            typed is None or (region.start < typed[1] and typed[0] < region.end)
        ):
            out.region_start, out.region_end = region.start, region.end
            out.determiner = region.determiner
            heard_words = text[region.start : region.end]
        elif typed is not None:
            # The street the parser found elsewhere than after the first address cue
            # ("j'habite à Aubagne, au 3 rue …"): its words, the number said before them.
            out.region_start, out.region_end = typed
            heard_words = text[typed[0] : typed[1]]
        elif region is not None:
            out.region_start, out.region_end = region.start, region.end
            out.determiner = region.determiner
            heard_words = text[region.start : region.end]
        elif spoken is not None and spoken.street:
            heard_words = spoken.street
        if not heard_words.strip():
            out.reason = "aucune adresse localisée dans le message"
            return out

        evidence = self._evidence(text, out.region_end, spoken)
        out.postcodes = [p for p, _ in sorted(evidence.postcodes.items(), key=lambda x: -x[1])]
        numbers = self._heard_numbers(heard_words, spoken)
        out.housenumbers = [geotext.format_housenumber(n, rep) for n, rep, _ in numbers]
        if numbers and numbers[0][2] >= 1.0:
            out.parsed_housenumber = out.housenumbers[0]

        ranked = self._rank(heard_words, evidence)
        if spoken is not None and spoken.street:
            # The street as parsed, through the historical matcher: keeps what it did well
            # (clean transcripts, SMS replies) among the candidates.
            for street, score in self._parsed_candidates(spoken):
                if street not in ranked or ranked[street] < score:
                    ranked[street] = score
        order = sorted(ranked.items(), key=lambda kv: (-kv[1], self.gz.name(kv[0])))
        for street, score in order[:limit]:
            locality = self._area_bonus(street, evidence)
            out.candidates.append(
                StreetCandidate(
                    street=self.gz.name(street),
                    postcode=self.gz.postcode(street),
                    citycode=self.gz.citycode(street),
                    city=self.gz.city(street),
                    text_score=round(max(0.0, min(1.0, score - locality)), 3),
                    locality=round(locality, 3),
                    numbers=self._numbers_for(street, numbers),
                )
            )
        if not out.candidates:
            out.reason = f"aucune voie proche de « {heard_words.strip()} »"
        return out

    @staticmethod
    def _typed_span(text: str, spoken: SpokenAddress | None) -> tuple[int, int] | None:
        """Span of the typed street the parser found ("rue Paradis"), with the house number
        said just before it, when it can be found in the text."""
        if spoken is None or not spoken.street:
            return None
        if not geotext.street_key(spoken.street).street_type:
            return None
        at = text.lower().find(spoken.street.lower())
        if at < 0:
            return None
        start, end = at, at + len(spoken.street)
        if spoken.housenumber:
            before = text[:at].rstrip()
            words = re.findall(r"[\w'-]+", before)[-3:]
            for n in range(len(words), 0, -1):
                tail = " ".join(words[-n:])
                if normalize_housenumber(tail) == spoken.housenumber:
                    found = before.rfind(words[-n])
                    start = found if found >= 0 else start
                    break
        return start, end

    def _heard_numbers(
        self, heard: str, spoken: SpokenAddress | None
    ) -> list[tuple[int, str, float]]:
        found: list[tuple[int, str, float]] = []
        if spoken is not None and spoken.housenumber:
            parsed = geotext.parse_housenumber(spoken.housenumber)
            if parsed is not None:
                found.append((parsed[0], parsed[1], 1.0))
        for n, sim in geotext.number_guesses(heard):
            if sim >= 0.6 and all(f[0] != n for f in found):
                found.append((n, "", sim))
        return found

    def _numbers_for(self, street: int, heard: list[tuple[int, str, float]]) -> list[str]:
        labels = [h.label for h in self.gz.numbers(street)]
        first = [
            geotext.format_housenumber(n, rep)
            for n, rep, _ in heard
            if self.gz.has_number(street, n, rep)
        ]
        rest = [label for label in labels if label not in first]
        return (first + rest)[:_MAX_NUMBERS]

    # ------------------------------------------------------------------ evidence

    def _evidence(self, text: str, after: int, spoken: SpokenAddress | None) -> _Evidence:
        ev = _Evidence({}, {})
        if spoken is not None:
            if spoken.postcode in self.gz.by_postcode:
                ev.postcodes[spoken.postcode] = 1.0
            if spoken.citycode in self.gz.by_citycode or spoken.citycode in (
                self.gz.by_parent_citycode
            ):
                ev.citycodes[spoken.citycode] = 1.0
        if after >= 0:
            tail = text[after : after + 80]
            for postcode, weight in postcode_hints(tail):
                if postcode in self.gz.by_postcode:
                    ev.postcodes[postcode] = max(ev.postcodes.get(postcode, 0.0), weight)
        return ev

    def _area_bonus(self, street: int, ev: _Evidence) -> float:
        gz = self.gz
        bonus = 0.0
        for postcode, weight in ev.postcodes.items():
            if gz.postcode(street) == postcode:
                bonus = max(bonus, _HEARD_AREA_BONUS * weight)
        for citycode, weight in ev.citycodes.items():
            code = gz.citycode(street)
            if code == citycode or parent_citycode(code) == citycode:
                bonus = max(bonus, _HEARD_AREA_BONUS * weight * (1.0 if code == citycode else 0.3))
        return bonus

    # ------------------------------------------------------------------ ranking

    def _rank(self, heard: str, ev: _Evidence) -> dict[int, float]:
        gz = self.gz
        key = geotext.phonetic(heard)
        if len(key) < 3:
            return {}
        pool: set[int] = set()
        for choices in (gz.phons, gz.phon_names):
            for _, _, i in process.extract(
                key, choices, scorer=fuzz.partial_ratio, limit=_PREFILTER, score_cutoff=50
            ):
                pool.add(int(i))
        local = self._local_ids(ev)
        if local is not None and len(local):
            ids, _, phons = self.geocoder._local_choices(local)
            for _, _, j in process.extract(
                key, phons, scorer=fuzz.partial_ratio, limit=_LOCAL_PREFILTER, score_cutoff=40
            ):
                pool.add(ids[j])
        text = _codes(key)
        idx = np.arange(len(text) + 1, dtype=np.int64)
        scores: dict[int, float] = {}
        for i in pool:
            full = gz.phons[i]
            name = gz.phon_names[i]
            sims = []
            if full:
                sims.append(1 - _fit(full, text, idx) / len(full) - _SHORT_KEY / len(full))
            if name and name != full:
                sims.append(
                    1
                    - _fit(name, text, idx) / len(name)
                    - _SHORT_KEY / len(name)
                    - _TYPE_MISSING_PENALTY
                )
            if not sims:
                continue
            scores[i] = max(sims) + self._area_bonus(i, ev)
        return scores

    def _local_ids(self, ev: _Evidence) -> np.ndarray | None:
        arrays: list[np.ndarray | None] = [
            self.gz.by_postcode[p] for p, w in ev.postcodes.items() if w >= 0.5
        ]
        arrays += [
            self.gz.by_citycode.get(c, self.gz.by_parent_citycode.get(c))
            for c, w in ev.citycodes.items()
            if w >= 0.5
        ]
        kept = [a for a in arrays if a is not None]
        return np.unique(np.concatenate(kept)) if kept else None

    def _parsed_candidates(self, spoken: SpokenAddress) -> list[tuple[int, float]]:
        q = geotext.street_key(spoken.street)
        if not q.street_type or not q.name:
            return []
        loc = self.geocoder._locality(spoken)
        ranked = self.geocoder._rank(q, loc)
        return [(c.street, c.rank) for c in ranked[:3] if c.rank >= self.geocoder.floor]


# ---------------------------------------------------------------------- hints of the place
#
# What the transcription makes of the locality said after the street: "treize mille quatre"
# → "13.4" or "13 000 quatre", "Marseille huitième" → "Marseille-Uicien", "dans le onzième" →
# "dans l'Ouzien". Each hint is weighted by how sure the reading is; they only boost streets.

_ORDINAL_KEYS = [
    (n, geotext.phonetic("premier" if n == 1 else geotext.number_to_words(n))) for n in range(1, 17)
]
_ORDINAL_SUFFIX = re.compile(r"(?:i[eè]me|ienne|iene|ien|iem|ième|eme|ème)$")


def postcode_hints(text: str) -> list[tuple[str, float]]:
    """Marseille postcodes suggested by the words after the street, with a weight (1: read
    cleanly; below: read through a transcription artefact)."""
    from domain.numbers import find_arrondissement, find_postcodes, fold

    hints: dict[str, float] = {}

    def add(code: str, weight: float) -> None:
        if re.fullmatch(r"130(0[1-9]|1[0-6])", code):
            hints[code] = max(hints.get(code, 0.0), weight)

    first_sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    for p in find_postcodes(first_sentence, in_address=True):
        add(p.postcode, 1.0)
    arr = find_arrondissement(first_sentence, in_address=True)
    if arr:
        add(f"130{arr:02d}", 1.0)
    folded = fold(first_sentence)
    # "13.4", "13,7", "13.07": "treize mille quatre" written as a decimal number.
    for m in re.finditer(r"\b13[.,]0?(\d{1,2})\b", folded):
        add(f"130{int(m.group(1)):02d}", 0.7)
    # "2014 Marseille": "treize mille quatorze" heard as a year.
    for m in re.finditer(r"\b(?:19|20)(0[1-9]|1[0-6])\b", folded):
        add(f"130{m.group(1)}", 0.4)
    # Ordinals heard wrongly: a word ending like "-ième" after "Marseille" or "dans le".
    for m in re.finditer(
        r"(?:marseille|mars\w*|dans l[ae]?|dans)[\s'-]+(?:et\s+)?([a-z]+)", folded
    ):
        word = m.group(1)
        if not _ORDINAL_SUFFIX.search(word) or len(word) < 4:
            continue
        key = geotext.phonetic(word)
        best = max(
            _ORDINAL_KEYS,
            key=lambda nk: fuzz.ratio(key, geotext.phonetic(geotext._ordinal_words(nk[0]))),
        )
        ratio = fuzz.ratio(key, geotext.phonetic(geotext._ordinal_words(best[0]))) / 100
        if ratio >= 0.5:
            add(f"130{best[0]:02d}", 0.5 * ratio)
    return sorted(hints.items(), key=lambda kv: -kv[1])


# --------------------------------------------------------------------------- resolution
#
# Combining the evidence into one address and a confidence. With audio scores, each candidate
# street gets the evidence sum `geotext.combined_street_score` (audio log-likelihood ratio +
# words heard + locality, in nats) and the probabilities are its softmax; the house numbers of
# the best street get the softmax of their own audio scores. The confidence of an address is
# P(street) × P(number). The temperatures are calibrated on the development set (maximum
# likelihood of the right street / number, see README "Accuracy"): with them, a confidence of
# 0.9 is right about 9 times out of 10 on that set.

STREET_TEMPERATURE = 1.1  # nats
NUMBER_TEMPERATURE = 1.1  # nats
TEXT_TEMPERATURE = 1.0  # nats, when no audio score is available (text evidence only)
# Without audio, how far a house number read from the transcript is trusted: parsed as a
# number (digits, number words) or only guessed from words that sound like one.
PARSED_NUMBER_CONFIDENCE = 0.95
GUESSED_NUMBER_CONFIDENCE = 0.5
# A number the transcript reads as a number ("11", "quarante") is evidence too: Whisper seldom
# turns a number into another valid one (on the development set, never), while the forced
# scores of close numbers ("un" / "onze") differ by a few nats only.
PARSED_NUMBER_NATS = 4.0
# A street said that is not in the gazetteer: every candidate matches the words poorly, and
# the words as transcribed explain the audio far better than any candidate.
NOVEL_TEXT_MAX = 0.45
NOVEL_GAP_NATS = 20.0


def _softmax(values: Sequence[float], temperature: float) -> list[float]:
    top = max(values)
    weights = [math.exp((v - top) / temperature) for v in values]
    total = sum(weights)
    return [w / total for w in weights]


class AddressResolver:
    def __init__(self, search: AddressSearch) -> None:
        self.search = search
        self.geocoder = search.geocoder
        self.gz = search.gz

    def resolve(
        self,
        cands: AddressCandidates,
        scores: AddressScores | None,
        spoken: SpokenAddress | None,
    ) -> GeocodeResult:
        if not cands.candidates:
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value,
                reason=cands.reason or "aucune voie candidate",
            )
        # A city named outside the territory ("à Toulon") outweighs streets that merely sound
        # alike; a postcode alone does not (transcriptions make up postcodes: "treize mille
        # dix" → "10 000").
        if (
            spoken is not None
            and spoken.city
            and self.geocoder._known_city(spoken.city) is None
            and max(c.text_score for c in cands.candidates) < 0.9
        ):
            return GeocodeResult(
                status=GeocodeStatus.OUT_OF_TERRITORY.value,
                reason=f"city '{spoken.city}' is not in the territory",
            )
        audio = scores is not None and bool(scores.street_scores)
        keys: list[int] = []
        streets: list[int] = []
        values: list[float] = []
        for k, cand in enumerate(cands.candidates):
            street = self.search.street_id(cand.street, cand.postcode, cand.citycode)
            if street is None:
                continue
            heard = 0.0
            if audio:
                assert scores is not None
                if k >= len(scores.street_scores):
                    continue
                heard = scores.street_scores[k]
            keys.append(k)
            streets.append(street)
            values.append(geotext.combined_street_score(heard, cand.text_score, cand.locality))
        if not keys:
            return GeocodeResult(status=GeocodeStatus.NOT_FOUND.value, reason="aucune voie")
        p_street = _softmax(values, STREET_TEMPERATURE if audio else TEXT_TEMPERATURE)
        order = sorted(range(len(keys)), key=lambda j: -p_street[j])
        top = order[0]
        if (
            audio
            and scores is not None
            and scores.heard_score is not None
            and cands.candidates[keys[top]].text_score <= NOVEL_TEXT_MAX
            and scores.heard_score - scores.street_scores[keys[top]] >= NOVEL_GAP_NATS
        ):
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value,
                candidates=[
                    self.geocoder._address(streets[j], None, round(p_street[j], 3))
                    for j in order[: self.geocoder.max_candidates]
                ],
                reason="la voie entendue ne ressemble à aucune voie connue",
            )
        numbers = self._numbers(cands, scores, keys[top], spoken)
        if not numbers:
            return GeocodeResult(
                status=GeocodeStatus.NUMBER_NOT_FOUND.value,
                candidates=[
                    self.geocoder._address(streets[j], None, round(p_street[j], 3))
                    for j in order[: self.geocoder.max_candidates]
                ],
                reason=f"aucun numéro entendu pour {self.gz.name(streets[top])}",
            )
        best_number, p_number = numbers[0]
        match = self._match(streets[top], best_number, p_street[top] * p_number)
        if match is None:
            return GeocodeResult(
                status=GeocodeStatus.NUMBER_NOT_FOUND.value,
                candidates=[
                    self.geocoder._address(streets[j], None, round(p_street[j], 3))
                    for j in order[: self.geocoder.max_candidates]
                ],
                reason=f"pas de numéro {best_number} dans {self.gz.name(streets[top])}",
            )
        if not match.sector:
            return GeocodeResult(
                status=GeocodeStatus.OUT_OF_TERRITORY.value,
                candidates=[match],
                reason="l'adresse n'est dans aucun secteur de collecte",
            )
        # Runners-up, most probable first: other numbers of the best street, the best number
        # in the other streets.
        alternatives: list[AddressMatch] = []
        for number, p in numbers[1:3]:
            alt = self._match(streets[top], number, p_street[top] * p)
            if alt is not None:
                alternatives.append(alt)
        for j in order[1 : self.geocoder.max_candidates]:
            alt = self._match(streets[j], best_number, p_street[j] * p_number)
            alternatives.append(
                alt
                if alt is not None
                else self.geocoder._address(streets[j], None, round(p_street[j] * p_number, 3))
            )
        alternatives.sort(key=lambda m: -m.score)
        reason = ""
        status = GeocodeStatus.MATCHED
        if p_street[top] < 0.5:
            status = GeocodeStatus.AMBIGUOUS
            reason = "plusieurs voies possibles"
        elif p_number < 0.5:
            reason = "numéro incertain"
        return GeocodeResult(
            status=status.value,
            match=match,
            candidates=alternatives[: self.geocoder.max_candidates - 1],
            reason=reason,
        )

    def _numbers(
        self,
        cands: AddressCandidates,
        scores: AddressScores | None,
        k: int,
        spoken: SpokenAddress | None,
    ) -> list[tuple[str, float]]:
        """House numbers of candidate k with their probabilities, most probable first."""
        if (
            scores is not None
            and scores.number_street == k
            and scores.number_scores
            and len(scores.number_scores) == len(scores.numbers)
        ):
            parsed = geotext.parse_housenumber(cands.parsed_housenumber or "")
            values = [
                v + (PARSED_NUMBER_NATS if geotext.parse_housenumber(n) == parsed else 0.0)
                for n, v in zip(scores.numbers, scores.number_scores, strict=True)
            ]
            probs = _softmax(values, NUMBER_TEMPERATURE)
            ranked = sorted(zip(scores.numbers, probs, strict=True), key=lambda t: -t[1])
            return list(ranked)
        said = geotext.parse_housenumber(spoken.housenumber if spoken is not None else "")
        out: list[tuple[str, float]] = []
        for label in cands.housenumbers:
            sure = said is not None and geotext.parse_housenumber(label) == said
            out.append((label, PARSED_NUMBER_CONFIDENCE if sure else GUESSED_NUMBER_CONFIDENCE / 2))
        out.sort(key=lambda t: -t[1])
        return out

    def _match(self, street: int, number: str, score: float) -> AddressMatch | None:
        parsed = geotext.parse_housenumber(number)
        if parsed is None:
            return None
        found = self.gz.find_number(street, *parsed)
        if found is None:
            return None
        return self.geocoder._address(street, found, round(score, 3))


# --------------------------------------------------------------------------- activities


class GeocodeActivities:
    def __init__(
        self,
        gazetteer: Gazetteer,
        sectors: SectorIndex,
        min_score: float,
        *,
        book_threshold: float = 0.0,
        confirm_threshold: float = 0.0,
    ) -> None:
        self.geocoder = Geocoder(gazetteer, sectors, min_score)
        # Passed on with each resolved address (0: the calibrated defaults of domain.decision).
        self.book_threshold = book_threshold
        self.confirm_threshold = confirm_threshold
        self._territory: TerritoryReference | None = None
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
            self._search = AddressSearch(self.geocoder)
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
        result = AddressResolver(self.search).resolve(inp.candidates, inp.scores, inp.address)
        result.book_threshold = self.book_threshold
        result.confirm_threshold = self.confirm_threshold
        log.info(
            "resolve_address status=%s in %.1f ms",
            result.status,
            (time.perf_counter() - started) * 1000,
        )
        return result

    @activity.defn(name="territory_reference")
    def territory_reference(self, inp: TerritoryReferenceInput) -> TerritoryReference:
        if self._territory is None:
            self._territory = territory_reference(self.geocoder.gz, self.geocoder.sectors)
        ref = self._territory
        return TerritoryReference(postcodes=list(ref.postcodes), citycodes=list(ref.citycodes))
