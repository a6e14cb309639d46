"""The BAN address file (the official `adresses-XX.csv[.gz]` schema, `;`-separated) read into a
street index of plain lists and numpy arrays, and the pickle cache that makes a worker restart
fast."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import math
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from activities.geo.projection import L93_TO_WGS84
from domain import geotext

log = logging.getLogger(__name__)

# "2": the index class moved to this module (BanIndex), so caches pickled before do not load.
_CACHE_FORMAT = "2"
_PROGRESS_EVERY = 25_000


class GazetteerError(ValueError):
    """The BAN file cannot be read (missing columns, unreadable file)."""


@dataclass
class BanIndex:
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


@dataclass(frozen=True)
class _Columns:
    """Where each field is in the file's rows (-1: the column is absent)."""

    id: int
    numero: int
    rep: int
    voie: int
    ld: int
    postcode: int
    insee: int
    city: int
    old_city: int
    lon: int
    lat: int
    x: int
    y: int
    width: int

    @classmethod
    def of(cls, header: list[str], path: Path) -> _Columns:
        col = {name: i for i, name in enumerate(header)}
        missing = [c for c in _REQUIRED_COLUMNS if c not in col]
        if missing:
            raise GazetteerError(f"{path}: not a BAN CSV file, missing columns {missing}")
        if not ({"lon", "lat"} <= col.keys() or {"x", "y"} <= col.keys()):
            raise GazetteerError(f"{path}: no position columns (lon/lat or x/y)")
        return cls(
            id=col.get("id", -1),
            numero=col["numero"],
            rep=col.get("rep", -1),
            voie=col["nom_voie"],
            ld=col.get("nom_ld", -1),
            postcode=col["code_postal"],
            insee=col["code_insee"],
            city=col["nom_commune"],
            old_city=col.get("nom_ancienne_commune", -1),
            lon=col.get("lon", -1),
            lat=col.get("lat", -1),
            x=col.get("x", -1),
            y=col.get("y", -1),
            width=len(header),
        )


@dataclass
class _Rows:
    """What the reader accumulates: one entry per street (name, postcode, citycode), one per
    address in file order."""

    street_ids: dict[tuple[str, str, str], int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    postcodes: list[str] = field(default_factory=list)
    citycodes: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    old_cities: list[str] = field(default_factory=list)
    rep_ids: dict[str, int] = field(default_factory=lambda: {"": 0})
    a_street: list[int] = field(default_factory=list)
    a_num: list[int] = field(default_factory=list)
    a_rep: list[int] = field(default_factory=list)
    a_lon: list[float] = field(default_factory=list)
    a_lat: list[float] = field(default_factory=list)
    a_x: list[float] = field(default_factory=list)
    a_y: list[float] = field(default_factory=list)
    a_id: list[str] = field(default_factory=list)

    def add(self, row: list[str], col: _Columns) -> None:
        name = row[col.voie].strip() or (row[col.ld].strip() if col.ld >= 0 else "")
        if not name:
            return
        try:
            number = int(row[col.numero])
        except ValueError:
            return
        skey = (name, row[col.postcode].strip(), row[col.insee].strip())
        sid = self.street_ids.get(skey)
        if sid is None:
            sid = self.street_ids[skey] = len(self.names)
            self.names.append(name)
            self.postcodes.append(skey[1])
            self.citycodes.append(skey[2])
            self.cities.append(row[col.city].strip())
            self.old_cities.append(row[col.old_city].strip() if col.old_city >= 0 else "")
        rep_text = row[col.rep].strip().lower() if col.rep >= 0 else ""
        rid = self.rep_ids.get(rep_text)
        if rid is None:
            rid = self.rep_ids[rep_text] = len(self.rep_ids)
        self.a_street.append(sid)
        self.a_num.append(number)
        self.a_rep.append(rid)
        self.a_lon.append(_float(row[col.lon]) if col.lon >= 0 else math.nan)
        self.a_lat.append(_float(row[col.lat]) if col.lat >= 0 else math.nan)
        self.a_x.append(_float(row[col.x]) if col.x >= 0 else math.nan)
        self.a_y.append(_float(row[col.y]) if col.y >= 0 else math.nan)
        self.a_id.append(row[col.id] if col.id >= 0 else "")

    def drop_addresses(self) -> None:
        """Frees the per-address lists once they are arrays (a large file holds millions)."""
        self.a_street, self.a_num, self.a_rep, self.a_id = [], [], [], []
        self.a_lon, self.a_lat, self.a_x, self.a_y = [], [], [], []


def parse_ban(path: Path, progress: Callable[[int], None] | None) -> BanIndex:
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=";")
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration as exc:
            raise GazetteerError(f"{path}: empty file") from exc
        col = _Columns.of(header, path)
        acc = _Rows()
        rows = 0
        for row in reader:
            rows += 1
            if progress is not None and rows % _PROGRESS_EVERY == 0:
                progress(rows)
            if len(row) < col.width:
                if not row:
                    continue
                row = row + [""] * (col.width - len(row))
            acc.add(row, col)
    if progress is not None:
        progress(rows)
    if not acc.names:
        raise GazetteerError(f"{path}: no address rows")
    return _index(path, rows, acc)


def _index(path: Path, rows: int, acc: _Rows) -> BanIndex:
    street = np.asarray(acc.a_street, dtype=np.int64)
    lon = np.asarray(acc.a_lon, dtype=np.float64)
    lat = np.asarray(acc.a_lat, dtype=np.float64)
    missing_pos = np.isnan(lon) | np.isnan(lat)
    if missing_pos.any():
        # Rows with only Lambert-93 x/y (older exports): derive lon/lat.
        x = np.asarray(acc.a_x, dtype=np.float64)[missing_pos]
        y = np.asarray(acc.a_y, dtype=np.float64)[missing_pos]
        lon[missing_pos], lat[missing_pos] = L93_TO_WGS84.transform(x, y)
    numero = np.asarray(acc.a_num, dtype=np.int32)
    rep = np.asarray(acc.a_rep, dtype=np.int16)
    ban_id = np.asarray(acc.a_id, dtype=np.bytes_)
    acc.drop_addresses()

    valid = ~(np.isnan(lon) | np.isnan(lat))
    # Group addresses by street, numbers ascending inside a street.
    order = np.lexsort((rep, numero, street))
    order = order[valid[order]]
    street, numero, rep = street[order], numero[order], rep[order]
    lon, lat, ban_id = lon[order], lat[order], ban_id[order]
    n_streets = len(acc.names)
    counts = np.bincount(street, minlength=n_streets)
    offsets = np.zeros(n_streets + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid_lon = np.bincount(street, weights=lon, minlength=n_streets) / counts
        centroid_lat = np.bincount(street, weights=lat, minlength=n_streets) / counts

    keys = [geotext.street_key(n) for n in acc.names]
    rep_values = [""] * len(acc.rep_ids)
    for value, rid in acc.rep_ids.items():
        rep_values[rid] = value
    return BanIndex(
        source=str(path),
        rows=rows,
        name=acc.names,
        postcode=acc.postcodes,
        citycode=acc.citycodes,
        city=acc.cities,
        old_city=acc.old_cities,
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


# --------------------------------------------------------------------------- cache


def cache_path(path: Path, cache_dir: Path) -> Path:
    stat = path.stat()
    ident = "|".join(
        (
            str(path.resolve()),
            str(stat.st_size),
            str(stat.st_mtime_ns),
            _CACHE_FORMAT,
            # A change of the index layout or of the normalisation rules invalidates caches.
            ",".join(f.name for f in fields(BanIndex)),
            geotext.VERSION,
        )
    )
    digest = hashlib.sha256(ident.encode()).hexdigest()[:20]
    return cache_dir / f"gazetteer-{path.name.split('.')[0]}-{digest}.pickle"


def read_cache(path: Path) -> BanIndex | None:
    try:
        with path.open("rb") as handle:
            index = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file: rebuild rather than fail the worker
        log.warning("ignoring unreadable gazetteer cache %s", path)
        return None
    return index if isinstance(index, BanIndex) else None


def write_cache(path: Path, index: BanIndex) -> None:
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
