"""Geometry without dependencies: GeoJSON polygons, point in polygon, WGS84 → Lambert-93.

The generator runs in the throw-away TTS venv (no shapely, no pyproj); the tests compare
these functions with shapely and pyproj in the project venv.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

Ring = list[tuple[float, float]]


@dataclass(frozen=True)
class Area:
    """A named polygon: an arrondissement (`code` 13201..13216) or a commune (INSEE code)."""

    code: str
    name: str
    polygons: tuple[tuple[Ring, ...], ...]  # each: outer ring, then holes
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

    def contains(self, lon: float, lat: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return False
        for rings in self.polygons:
            if _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, h) for h in rings[1:]):
                return True
        return False

    def random_point(self, rng: random.Random, tries: int = 10_000) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bbox
        for _ in range(tries):
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if self.contains(lon, lat):
                return lon, lat
        raise RuntimeError(f"no point found inside {self.name}")


def _in_ring(x: float, y: float, ring: Ring) -> bool:
    """Even-odd ray casting."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _polygons(geometry: dict) -> tuple[tuple[Ring, ...], ...]:
    kind, coords = geometry["type"], geometry["coordinates"]
    polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
    if polys is None:
        raise ValueError(f"unsupported geometry {kind}")
    return tuple(
        tuple([(float(p[0]), float(p[1])) for p in ring] for ring in poly) for poly in polys
    )


def load_areas(path: Path, code_key: str, name_key: str) -> list[Area]:
    """Features of a GeoJSON FeatureCollection in WGS84 lon/lat."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    areas = []
    for feature in data["features"]:
        props = feature["properties"]
        polys = _polygons(feature["geometry"])
        xs = [x for poly in polys for x, _ in poly[0]]
        ys = [y for poly in polys for _, y in poly[0]]
        bbox = (min(xs), min(ys), max(xs), max(ys))
        areas.append(Area(str(props[code_key]), str(props[name_key]), polys, bbox))
    return areas


def area_of(lon: float, lat: float, areas: list[Area]) -> str | None:
    """Code of the single area containing the point; None when none or several do."""
    found = [a.code for a in areas if a.contains(lon, lat)]
    return found[0] if len(found) == 1 else None


# ----------------------------------------------------------------------------- Lambert-93
_A = 6378137.0
_E = 0.0818191910428158  # GRS80 first eccentricity


def _m(phi: float) -> float:
    return math.cos(phi) / math.sqrt(1 - (_E * math.sin(phi)) ** 2)


def _t(phi: float) -> float:
    s = _E * math.sin(phi)
    return math.tan(math.pi / 4 - phi / 2) / ((1 - s) / (1 + s)) ** (_E / 2)


_P1, _P2, _P0 = math.radians(44.0), math.radians(49.0), math.radians(46.5)
_N = math.log(_m(_P1) / _m(_P2)) / math.log(_t(_P1) / _t(_P2))
_F = _m(_P1) / (_N * _t(_P1) ** _N)
_RHO0 = _A * _F * _t(_P0) ** _N


def to_lambert93(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 (≈ RGF93) lon/lat → Lambert-93 x/y in metres (conic conformal, 2 standard
    parallels 44° and 49°, origin 3° E 46.5° N, false easting 700 km, northing 6600 km)."""
    rho = _A * _F * _t(math.radians(lat)) ** _N
    theta = _N * math.radians(lon - 3.0)
    return 700_000.0 + rho * math.sin(theta), 6_600_000.0 + _RHO0 - rho * math.cos(theta)


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point moved by metres (local flat approximation, fine for a street's length)."""
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat
