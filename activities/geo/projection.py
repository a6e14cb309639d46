"""WGS84 (the BAN's lon/lat, GeoJSON) ↔ Lambert-93 (metres: areas and distances in France)."""

from __future__ import annotations

from pyproj import Transformer

WGS84_TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
L93_TO_WGS84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
