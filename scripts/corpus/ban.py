"""Writers of the synthetic BAN extension and of the development gazetteer (Marseille file +
extension), both in the BAN CSV schema, under the output folder (never in the repository)."""

from __future__ import annotations

import gzip
from pathlib import Path

from . import places
from .geo import to_lambert93
from .spoken import strip_accents
from .territory import BAN_HEADER, Address, Territory

EXTENSION_FILE = "ban-extension.csv"
GAZETTEER_FILE = "ban-dev.csv.gz"


def _row(ident: str, fantoir: str, a: Address) -> list[str]:
    x, y = to_lambert93(a.lon, a.lat)
    values = {
        "id": ident,
        "id_fantoir": fantoir,
        "numero": str(a.number),
        "rep": a.rep,
        "nom_voie": a.street,
        "code_postal": a.postcode,
        "code_insee": a.citycode,
        "nom_commune": a.city,
        "x": f"{x:.2f}",
        "y": f"{y:.2f}",
        "lon": f"{a.lon:.6f}",
        "lat": f"{a.lat:.6f}",
        "type_position": "entrée",
        "nom_ld": a.street if a.lieu_dit else "",
        "libelle_acheminement": strip_accents(a.city).upper(),
        "nom_afnor": strip_accents(a.street).upper().replace("'", " "),
        "source_position": "synthetique",
        "source_nom_voie": "corpus16",
        "certification_commune": "0",
    }
    return [values.get(col, "") for col in BAN_HEADER]


def extension_rows(territory: Territory) -> list[list[str]]:
    rows: list[list[str]] = []
    fantoirs: dict[tuple[str, str], str] = {}
    for i, st in enumerate(territory.extension):
        fantoir = f"{st.citycode}_X{i:03d}"
        fantoirs[(st.name, st.citycode)] = fantoir
        for n, (lon, lat, _) in sorted(st.numbers.items()):
            a = Address(n, "", st.name, st.postcode, st.citycode, st.city, lon, lat, st.lieu_dit)
            rows.append(_row(f"{fantoir}_{n:05d}", fantoir, a))
    for key in sorted(territory.extra_rows):
        a = territory.extra_rows[key]
        fantoir = fantoirs.get((a.street, a.citycode))
        if fantoir is None:  # a Marseille street: its own FANTOIR-like id
            base_id = territory.marseille[a.street].numbers[a.number][2]
            fantoir = base_id.rsplit("_", 1)[0]
        rows.append(_row(f"{fantoir}_{a.number:05d}_{a.rep}", fantoir, a))
    return rows


def write_gazetteers(territory: Territory, out: Path) -> tuple[Path, Path, int]:
    """`ban-extension.csv` and `ban-dev.csv.gz` (byte-reproducible: gzip mtime 0)."""
    rows = extension_rows(territory)
    source = territory.geodata / places.BAN_FILE
    with gzip.open(source, "rt", encoding="utf-8", newline="") as src:
        first = src.readline()
    eol = "\r\n" if first.endswith("\r\n") else "\n"  # the source's line ends
    body = "".join(";".join(r) + eol for r in rows)
    ext = out / EXTENSION_FILE
    ext.write_bytes((";".join(BAN_HEADER) + eol + body).encode("utf-8"))
    combined = out / GAZETTEER_FILE
    with gzip.open(source, "rb") as src:
        data = src.read()
    with open(combined, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
        gz.write(data if data.endswith(b"\n") else data + eol.encode())
        gz.write(body.encode("utf-8"))
    return ext, combined, len(rows)
