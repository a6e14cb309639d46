"""The BAN file read into the gazetteer, its cache, and the committed demo territory
(activities/geo/ban.py, gazetteer.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.geo.ban import GazetteerError
from activities.geo.gazetteer import Gazetteer
from activities.geo.geocoder import Geocoder
from tests.activities.geo.helpers import (
    BAN_HEADER,
    DEMO_BAN,
    DEMO_SECTORS,
    IN_13201,
    IN_13206,
    ban_row,
    write_ban,
)

# --------------------------------------------------------------------------- demo territory


def test_demo_files_hold_the_streets_the_demo_voicemails_use(demo: Geocoder) -> None:
    names = set(demo.gz.street_names())
    for street in (
        "Rue de Rome",
        "Boulevard Chave",
        "Avenue du Prado",
        "Rue Paradis",
        "Cours Lieutaud",
        "Boulevard Baille",
        "Rue Saint-Ferréol",
    ):
        assert street in names
    assert demo.sectors.ids == ["13201", "13205", "13206", "13208"]
    assert DEMO_SECTORS.stat().st_size < 100_000
    with DEMO_BAN.open(encoding="utf-8") as handle:
        assert handle.readline().rstrip("\n").split(";") == BAN_HEADER


def test_every_demo_address_lies_in_the_sector_of_its_arrondissement(demo: Geocoder) -> None:
    for street in range(demo.gz.street_count):
        for house in demo.gz.numbers(street):
            assert demo.sectors.locate(house.lon, house.lat) == demo.gz.citycode(street)


# --------------------------------------------------------------------------- gazetteer file


def test_gazetteer_reads_any_column_order_gzip_and_caches(tmp_path: Path) -> None:
    rows = [ban_row(n, "Rue Paradis", "13006", "13206", *IN_13206) for n in range(1, 6)]
    rows.append(ban_row(4, "Rue Paradis", "13006", "13206", *IN_13206, rep="bis"))
    rows.append(ban_row("x", "Rue Paradis", "13006", "13206", *IN_13206))  # unreadable number
    shuffled = list(reversed(BAN_HEADER))
    path = write_ban(tmp_path / "adresses-13.csv.gz", rows, header=shuffled, gz=True)
    cache = tmp_path / "cache"

    seen: list[int] = []
    first = Gazetteer.load(path, cache, progress=seen.append)
    assert (first.street_count, first.address_count) == (1, 6)
    assert seen[-1] == 7
    assert len(list(cache.glob("gazetteer-*.pickle"))) == 1

    seen.clear()
    second = Gazetteer.load(path, cache, progress=seen.append)
    assert (second.street_count, second.address_count) == (1, 6)
    assert seen == [7]
    assert [h.label for h in second.numbers(0)] == ["1", "2", "3", "4", "4 bis", "5"]
    assert "6 addresses, 1 streets" in second.describe()


def test_gazetteer_derives_lon_lat_from_lambert93(tmp_path: Path) -> None:
    row = ban_row(1, "Rue de Rome", "13006", "13206", 0, 0)
    row.update(lon="", lat="", x="893278.75", y="6246204.00")
    gazetteer = Gazetteer.load(write_ban(tmp_path / "l93.csv", [row]))
    house = gazetteer.numbers(0)[0]
    assert house.lon == pytest.approx(5.380429, abs=1e-5)
    assert house.lat == pytest.approx(43.288785, abs=1e-5)


def test_gazetteer_rejects_a_file_that_is_not_ban(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    with pytest.raises(GazetteerError):
        Gazetteer.load(bad)
    with pytest.raises(GazetteerError):
        Gazetteer.load(tmp_path / "missing.csv")


def test_cache_is_invalidated_when_the_file_changes(tmp_path: Path) -> None:
    path = write_ban(tmp_path / "ban.csv", [ban_row(1, "Rue A", "13001", "13201", *IN_13201)])
    cache = tmp_path / "cache"
    assert Gazetteer.load(path, cache).address_count == 1
    write_ban(path, [ban_row(n, "Rue A", "13001", "13201", *IN_13201) for n in (1, 2, 3)])
    assert Gazetteer.load(path, cache).address_count == 3
