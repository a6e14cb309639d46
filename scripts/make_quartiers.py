"""Writes corpus/territory/quartiers.csv: the quartiers of the main city, each with the INSEE
code of the arrondissement most of its streets lie in, so that a caller naming their quartier
(« j'habite à Endoume », « au Pharo ») is not taken for a caller from another commune.

Deterministic (sorted by name), from offline data only: the `quartier` column of the shared
geodata's street centroids (OpenStreetMap, `marseille-voies-osm-centroides.csv`).

    python scripts/make_quartiers.py --geodata ../shared/geodata
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from pathlib import Path

CENTROIDS = "marseille-voies-osm-centroides.csv"


def quartiers(geodata: Path) -> list[tuple[str, str]]:
    """(name as the file writes it, in title case; arrondissement's INSEE code)."""
    codes: dict[str, Counter[str]] = defaultdict(Counter)
    with open(geodata / CENTROIDS, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["quartier"].strip()
            if name:
                codes[name][row["code_insee_arrondissement"]] += 1
    return [(name.title(), codes[name].most_common(1)[0][0]) for name in sorted(codes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geodata", type=Path, default=Path("../shared/geodata"))
    parser.add_argument("--out", type=Path, default=Path("corpus/territory/quartiers.csv"))
    args = parser.parse_args()
    rows = quartiers(args.geodata)
    with open(args.out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("name", "citycode"))
        writer.writerows(rows)
    print(f"{len(rows)} quartiers → {args.out}")


if __name__ == "__main__":
    main()
