"""Writes corpus/territory/outside_communes.csv: the communes near the métropole that it does
not serve, so that a caller naming one is never booked (issue 16).

Deterministic (sorted by INSEE code, no randomness), from offline data only:
- the Bouches-du-Rhône communes of the shared geodata (IGN Admin Express 2018,
  `communes-13-bouches-du-rhone.geojson`) that are not communes of the métropole
  (`communes-metropole-aix-marseille-provence.geojson`);
- NEIGHBOURS below, the main towns of the neighbouring départements (Var, Vaucluse, Gard,
  Alpes-de-Haute-Provence), curated by hand from the INSEE Code officiel géographique (COG):
  the geodata holds no commune list for those départements.

    python scripts/make_outside_communes.py --geodata ../shared/geodata
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

NEIGHBOURS: tuple[tuple[str, str], ...] = (
    ("04070", "Digne-les-Bains"),
    ("04088", "Forcalquier"),
    ("04112", "Manosque"),
    ("04209", "Sisteron"),
    ("30007", "Alès"),
    ("30028", "Bagnols-sur-Cèze"),
    ("30032", "Beaucaire"),
    ("30189", "Nîmes"),
    ("30334", "Uzès"),
    ("83009", "Bandol"),
    ("83023", "Brignoles"),
    ("83050", "Draguignan"),
    ("83061", "Fréjus"),
    ("83069", "Hyères"),
    ("83116", "Saint-Maximin-la-Sainte-Baume"),
    ("83118", "Saint-Raphaël"),
    ("83123", "Sanary-sur-Mer"),
    ("83126", "La Seyne-sur-Mer"),
    ("83129", "Six-Fours-les-Plages"),
    ("83137", "Toulon"),
    ("84003", "Apt"),
    ("84007", "Avignon"),
    ("84031", "Carpentras"),
    ("84035", "Cavaillon"),
    ("84054", "L'Isle-sur-la-Sorgue"),
    ("84087", "Orange"),
)


def outside_communes(geodata: Path) -> list[tuple[str, str]]:
    def names(file: str) -> dict[str, str]:
        data = json.loads((geodata / file).read_text(encoding="utf-8"))
        return {f["properties"]["code"]: f["properties"]["nom"] for f in data["features"]}

    department = names("communes-13-bouches-du-rhone.geojson")
    metropole = names("communes-metropole-aix-marseille-provence.geojson")
    rows = {code: name for code, name in department.items() if code not in metropole}
    rows.update(NEIGHBOURS)
    return sorted(rows.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geodata", type=Path, default=Path("../shared/geodata"))
    parser.add_argument("--out", type=Path, default=Path("corpus/territory/outside_communes.csv"))
    args = parser.parse_args()
    rows = outside_communes(args.geodata)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["citycode", "name"])
        writer.writerows(rows)
    print(f"{len(rows)} communes -> {args.out}")


if __name__ == "__main__":
    main()
