"""Collection sectors: GeoJSON polygons, point → sector. Point-in-polygon with an STRtree over
prepared geometries in Lambert-93, the smallest containing polygon winning."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from activities.geo.projection import WGS84_TO_L93

__all__ = ["DEFAULT_SECTOR_TOLERANCE_M", "Sector", "SectorIndex"]

DEFAULT_SECTOR_TOLERANCE_M = 200.0


@dataclass(frozen=True)
class Sector:
    id: str
    name: str
    area_m2: float


def _to_l93(geom: BaseGeometry) -> BaseGeometry:
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = WGS84_TO_L93.transform(coords[:, 0], coords[:, 1])
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
        x, y = WGS84_TO_L93.transform(lon, lat)
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
        x, y = WGS84_TO_L93.transform(np.asarray(lons), np.asarray(lats))
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
