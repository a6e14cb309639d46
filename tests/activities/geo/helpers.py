"""Files the geocoding tests build: BAN rows, sector polygons, spoken addresses."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from activities.geo.gazetteer import Gazetteer
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from corpus import DEMO_DIR
from domain.address_models import AddressCandidates, AddressSearchInput
from domain.models import SpokenAddress
from domain.understanding import Territory

GEODATA = Path(__file__).resolve().parents[3].parent / "shared" / "geodata"
BIG_BAN = GEODATA / "adresses-13-marseille-synthetique.csv.gz"
ARRONDISSEMENTS = GEODATA / "marseille-arrondissements-osm-20160128.geojson"
COMMUNES = GEODATA / "communes-metropole-aix-marseille-provence.geojson"
needs_shared = pytest.mark.skipif(not BIG_BAN.exists(), reason="../shared/geodata not available")

DEMO_BAN = DEMO_DIR / "adresses-demo.csv"
DEMO_SECTORS = DEMO_DIR / "secteurs-demo.geojson"
MIN_SCORE = 0.82

BAN_HEADER = [
    *("id", "id_fantoir", "numero", "rep", "nom_voie", "code_postal", "code_insee"),
    *("nom_commune", "code_insee_ancienne_commune", "nom_ancienne_commune", "x", "y", "lon"),
    *("lat", "type_position", "alias", "nom_ld", "libelle_acheminement", "nom_afnor"),
    *("source_position", "source_nom_voie", "certification_commune", "cad_parcelles"),
]


def ban_row(
    number: int | str,
    street: str,
    postcode: str,
    citycode: str,
    lon: float,
    lat: float,
    rep: str = "",
    city: str = "Marseille",
) -> dict[str, str]:
    row = dict.fromkeys(BAN_HEADER, "")
    row.update(
        id=f"{citycode}_t_{number}{rep}",
        numero=str(number),
        rep=rep,
        nom_voie=street,
        code_postal=postcode,
        code_insee=citycode,
        nom_commune=city,
        lon=f"{lon:.6f}",
        lat=f"{lat:.6f}",
    )
    return row


def write_ban(
    path: Path, rows: list[dict[str, str]], header: list[str] | None = None, gz: bool = False
) -> Path:
    fields = header or BAN_HEADER
    opener: Any = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter=";", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in fields})
    return path


# Points well inside the demo sectors (Lambert-93 positions are not needed: lon/lat are read).
IN_13201 = (5.3790, 43.2975)  # Belsunce
IN_13206 = (5.3800, 43.2880)  # Préfecture
IN_13208 = (5.3900, 43.2600)  # Bonneveine


def spoken(street: str, number: str = "12", postcode: str = "", city: str = "") -> SpokenAddress:
    return SpokenAddress(housenumber=number, street=street, postcode=postcode, city=city)


def square(lon: float, lat: float, half: float) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def collection(*features: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
    }


# A small synthetic territory for the free-text search and the resolution: two sectors, a
# handful of streets whose names exercise the general rules (street types heard as other
# words, numbers glued to the type, the same name in two arrondissements).
SEARCH_HEADER = ["id", "numero", "rep", "nom_voie", "code_postal", "code_insee", "nom_commune"]
SEARCH_HEADER += ["lon", "lat"]

# Two square sectors side by side (WGS84), 13205 west of 13206.
SEARCH_SECTORS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"insee": code},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[x0, 43.28], [x0 + 0.02, 43.28], [x0 + 0.02, 43.30], [x0, 43.30], [x0, 43.28]]
                ],
            },
        }
        for code, x0 in (("13205", 5.38), ("13206", 5.40))
    ],
}


def street_rows(streets: Iterable[tuple[str, str, str, float]]) -> list[list[Any]]:
    """SEARCH_HEADER rows for `streets` (name, postcode, citycode, lon): numbers 1 to 30 each,
    in Marseille, a few metres apart."""
    return [
        [f"{s}_{n}", n, "", name, postcode, citycode, "Marseille", lon, 43.285 + 0.0003 * n]
        for s, (name, postcode, citycode, lon) in enumerate(streets)
        for n in range(1, 31)
    ]


def search_activities(
    tmp: Path, rows: Iterable[list[Any]], sectors: dict[str, Any], territory: Territory
) -> GeocodeActivities:
    """The activities over a small synthetic gazetteer: `rows` in SEARCH_HEADER's columns,
    `sectors` a GeoJSON FeatureCollection."""
    ban = tmp / "adresses-test.csv"
    with ban.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(SEARCH_HEADER)
        writer.writerows(rows)
    path = tmp / "sectors.geojson"
    path.write_text(json.dumps(sectors), encoding="utf-8")
    gz = Gazetteer.load(ban, tmp / "cache")
    return GeocodeActivities(gz, SectorIndex.load(path), min_score=MIN_SCORE, territory=territory)


SEARCH_STREETS = [
    # name, postcode, citycode, lon of the street
    ("Impasse des Lilas", "13005", "13205", 5.385),
    ("Impasse des Lilas", "13006", "13206", 5.405),
    ("Rue des Lilas", "13005", "13205", 5.386),
    ("Traverse du Moulin", "13005", "13205", 5.387),
    ("Boulevard Chave", "13005", "13205", 5.388),
    ("Avenue du Prado", "13006", "13206", 5.41),
    ("Rue Paradis", "13006", "13206", 5.411),
    ("Place Castellane", "13006", "13206", 5.412),
    ("Rue Breteuil", "13006", "13206", 5.413),
    ("Chemin de la Madrague", "13006", "13206", 5.414),
]


def names(cands: AddressCandidates) -> list[tuple[str, str]]:
    return [(c.street, c.postcode) for c in cands.candidates]


def propose(acts: GeocodeActivities, text: str, spoken: SpokenAddress | None = None):
    return acts.propose_addresses(AddressSearchInput(text=text, address=spoken))
