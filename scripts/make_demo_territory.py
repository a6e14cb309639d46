"""Author the demo territory shipped in corpus/demo (run once by a developer; outputs committed).

    python scripts/make_demo_territory.py [--geodata ../shared/geodata] [--out corpus/demo]

Writes, from the open data in ../shared/geodata:
- adresses-demo.csv: a few dozen real Marseille street names (OpenStreetMap) in the 1st, 5th,
  6th and 8th arrondissements, in the BAN CSV schema (same header as the shared file). House
  numbers 1-60 (plus a few "bis") are synthetic, laid out along a short segment through each
  street's centroid: positions are approximate.
- secteurs-demo.geojson: one collection sector per arrondissement (OSM polygons, simplified).

`make demo` reads only these two files, never ../shared.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import random
import sys
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GEODATA = REPO.parent / "shared" / "geodata"

ARRONDISSEMENTS = {
    "13201": ("13001", "Marseille 1er"),
    "13205": ("13005", "Marseille 5e"),
    "13206": ("13006", "Marseille 6e"),
    "13208": ("13008", "Marseille 8e"),
}

# (name as spelt in marseille-voies-osm-centroides.csv, arrondissement INSEE code). The first
# seven are used by the demo voicemails. Where the OSM centroid lies in another arrondissement
# (Boulevard Chave crosses from the 5th into the 4th), the segment is moved into the one given.
STREETS: tuple[tuple[str, str], ...] = (
    ("Rue de Rome", "13206"),
    ("Boulevard Chave", "13205"),
    ("Avenue du Prado", "13208"),
    ("Rue Paradis", "13206"),
    ("Cours Lieutaud", "13206"),
    ("Boulevard Baille", "13205"),
    ("Rue Saint-Ferréol", "13201"),
    # 1st
    ("La Canebière", "13201"),
    ("Cours Belsunce", "13201"),
    ("Rue d'Aubagne", "13201"),
    ("Rue Longue des Capucins", "13201"),
    ("Boulevard Garibaldi", "13201"),
    ("Rue de la Palud", "13201"),
    ("Rue Thubaneau", "13201"),
    ("Boulevard Dugommier", "13201"),
    ("Rue Nationale", "13201"),
    ("Rue Curiol", "13201"),
    ("Rue Consolat", "13201"),
    ("Rue Grignan", "13201"),
    ("Tunnel Saint-Charles", "13201"),
    # 5th
    ("Rue Julia", "13205"),
    ("Rue des Saints Anges", "13205"),
    ("Boulevard Jeanne d'Arc", "13205"),
    ("Place Jean Jaurès", "13205"),
    ("Rue Saint-Savournin", "13205"),
    ("Rue Terrusse", "13205"),
    ("Rue Fernand Pauriol", "13205"),
    ("Rue Ferrari", "13205"),
    ("Rue Crillon", "13205"),
    ("Boulevard Eugène Pierre", "13205"),
    # 6th
    ("Cours Julien", "13206"),
    ("Place Castellane", "13206"),
    ("Rue Breteuil", "13206"),
    ("Rue Saint-Suffren", "13206"),
    ("Rue Edmond Rostand", "13206"),
    ("Rue Dragon", "13206"),
    ("Rue Montgrand", "13206"),
    ("Rue Fontange", "13206"),
    ("Rue Roux de Brignoles", "13206"),
    ("Rue Sainte-Victoire", "13206"),
    # 8th
    ("Rue Wulfran Puget", "13208"),
    ("Avenue d'Haïfa", "13208"),
    ("Avenue Guy de Maupassant", "13208"),
    ("Boulevard Rabatau", "13208"),
    ("Avenue de la Pointe Rouge", "13208"),
    ("Avenue de Hambourg", "13208"),
    ("Rue Borde", "13208"),
    ("Rue Jean Mermoz", "13208"),
    ("Rue Raymond Teisseire", "13208"),
    ("Avenue du Parc Borely", "13208"),
)

NUMBERS = range(1, 61)
BIS = (10, 21)  # a "bis" next to these numbers, so the demo exercises suffixes
STEP_M = 9.0  # along the street, per pair of numbers
SIDE_M = 8.0  # each side of the axis: odd numbers left, even numbers right
SIMPLIFY_M = 12.0
INSIDE_MARGIN_M = 25.0

TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def _project(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack((x, y))

    return shapely.transform(geom, apply)


def afnor(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = folded.upper().replace("'", " ").replace("-", " ")
    return " ".join(folded.split())[:32]


def load_centroids(path: Path) -> dict[tuple[str, str], tuple[float, float, str]]:
    """(name, arrondissement) -> (lon, lat, postcode); names may repeat across arrondissements."""
    out: dict[tuple[str, str], tuple[float, float, str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["nom_voie"], row["code_insee_arrondissement"])
            out[key] = (float(row["lon"]), float(row["lat"]), row["code_postal"])
    return out


def osm_arrondissement(
    centroids: dict[tuple[str, str], tuple[float, float, str]], name: str
) -> list[str]:
    return sorted(code for (n, code) in centroids if n == name)


def layout(
    name: str, anchor: tuple[float, float], polygon: BaseGeometry
) -> list[tuple[int, str, float, float]]:
    """(number, rep, x, y) in Lambert-93, all inside `polygon` (shrunk by a margin). Streets
    whose centroid sits near the boundary slide inwards until the segment fits."""
    inner = polygon.buffer(-INSIDE_MARGIN_M)
    rng = random.Random(zlib.crc32(name.encode()))
    centroid = shapely.Point(*anchor)
    for depth in (0.0, 50.0, 100.0, 150.0, 200.0, 300.0):
        if depth == 0.0:
            start = centroid
        else:
            region = polygon.buffer(-depth)
            if region.is_empty:
                break
            start = nearest_points(region, centroid)[0]
        for _attempt in range(36):
            points = _segment(start.x, start.y, rng.uniform(0, math.pi), rng)
            if all(inner.contains(shapely.Point(x, y)) for _, _, x, y in points):
                return points
    raise SystemExit(f"could not lay out {name} inside its arrondissement")


def _segment(
    ax: float, ay: float, angle: float, rng: random.Random
) -> list[tuple[int, str, float, float]]:
    ux, uy = math.cos(angle), math.sin(angle)
    middle = (len(NUMBERS) // 2 + 1) // 2
    points: list[tuple[int, str, float, float]] = []
    for number in NUMBERS:
        for rep in ("", "bis") if number in BIS else ("",):
            along = (((number + 1) // 2) - middle) * STEP_M + (3.0 if rep else 0.0)
            along += rng.uniform(-1.5, 1.5)
            side = SIDE_M if number % 2 else -SIDE_M
            points.append((number, rep, ax + ux * along - uy * side, ay + uy * along + ux * side))
    return points


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geodata", type=Path, default=DEFAULT_GEODATA)
    parser.add_argument("--out", type=Path, default=REPO / "corpus" / "demo")
    args = parser.parse_args(argv)
    geodata: Path = args.geodata
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    with gzip.open(
        geodata / "adresses-13-marseille-synthetique.csv.gz", "rt", encoding="utf-8"
    ) as f:
        header = f.readline().rstrip("\n").split(";")
    centroids = load_centroids(geodata / "marseille-voies-osm-centroides.csv")
    with (geodata / "marseille-arrondissements-osm-20160128.geojson").open(encoding="utf-8") as f:
        arr = json.load(f)

    # Sectors: simplified in metres, then back to WGS84 with 6 decimals (~0.1 m).
    polygons_l93: dict[str, BaseGeometry] = {}
    features = []
    for feature in arr["features"]:
        code = str(feature["properties"]["insee"])
        if code not in ARRONDISSEMENTS:
            continue
        geom = _project(shape(feature["geometry"]), TO_L93)
        simple = shapely.simplify(geom, SIMPLIFY_M, preserve_topology=True)
        polygons_l93[code] = simple
        wgs = shapely.set_precision(_project(simple, TO_WGS84), 1e-6)
        features.append(
            {
                "type": "Feature",
                "properties": {"id": code, "nom": ARRONDISSEMENTS[code][1]},
                "geometry": mapping(wgs),
            }
        )
    features.sort(key=lambda f: f["properties"]["id"])
    sectors = {
        "type": "FeatureCollection",
        "name": "secteurs-demo",
        "features": features,
    }
    sector_path = out / "secteurs-demo.geojson"
    sector_path.write_text(json.dumps(sectors, ensure_ascii=False, separators=(",", ":")) + "\n")

    rows: list[dict[str, str]] = []
    report: list[str] = []
    for index, (name, code) in enumerate(STREETS):
        postcode = ARRONDISSEMENTS[code][0]
        osm_codes = osm_arrondissement(centroids, name)
        if not osm_codes:
            raise SystemExit(f"{name!r} is not in marseille-voies-osm-centroides.csv")
        source = code if code in osm_codes else osm_codes[0]
        lon, lat, _ = centroids[(name, source)]
        anchor = TO_L93.transform(lon, lat)
        points = layout(name, anchor, polygons_l93[code])
        fantoir = f"{code}_{9000 + index:04d}"
        for number, rep, x, y in points:
            plon, plat = TO_WGS84.transform(x, y)
            suffix = f"_{rep}" if rep else ""
            row = dict.fromkeys(header, "")
            row.update(
                {
                    "id": f"{fantoir}_{number:05d}{suffix}",
                    "id_fantoir": fantoir,
                    "numero": str(number),
                    "rep": rep,
                    "nom_voie": name,
                    "code_postal": postcode,
                    "code_insee": code,
                    "nom_commune": "Marseille",
                    "x": f"{x:.2f}",
                    "y": f"{y:.2f}",
                    "lon": f"{plon:.6f}",
                    "lat": f"{plat:.6f}",
                    "type_position": "entrée",
                    "libelle_acheminement": "MARSEILLE",
                    "nom_afnor": afnor(name),
                    "source_position": "synthetique",
                    "source_nom_voie": "osm",
                    "certification_commune": "0",
                }
            )
            rows.append(row)
        moved = "" if source == code else f" (OSM centroid in {source}, moved into {code})"
        report.append(f"{name};{postcode};{code}{moved}")

    csv_path = out / "adresses-demo.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    print(f"{csv_path}: {len(rows)} addresses, {len(STREETS)} streets")
    print(f"{sector_path}: {len(features)} sectors, {sector_path.stat().st_size} bytes")
    for line in report:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
