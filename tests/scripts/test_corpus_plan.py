"""The corpus plan: reproducible from its seed, spread over kinds, phrasings, speakers and
conditions, and its ground truth consistent with the gazetteer and the polygons."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from scripts.corpus import ban, conditions
from scripts.corpus.addresses import invented_streets
from scripts.corpus.geo import load_areas, to_lambert93
from scripts.corpus.plan import allocate, build_plan, stratified_sample
from scripts.corpus.templates import at_place
from scripts.corpus.territory import Territory
from scripts.corpus.voices import SPEAKERS


def test_same_seed_same_plan_other_seed_other_plan(territory: Territory) -> None:
    first = json.dumps(build_plan(7, 60, territory), ensure_ascii=False)
    again = json.dumps(build_plan(7, 60, territory), ensure_ascii=False)
    other = json.dumps(build_plan(8, 60, territory), ensure_ascii=False)
    assert first == again
    assert first != other


def test_gazetteers_are_byte_reproducible(geodata: Path, tmp_path: Path) -> None:
    digests = []
    for run in ("a", "b"):
        t = Territory(geodata, 5)
        build_plan(5, 40, t)
        out = tmp_path / run
        out.mkdir()
        ext, gaz, _ = ban.write_gazetteers(t, out)
        digests.append((ext.read_bytes(), gaz.read_bytes()))
    assert digests[0] == digests[1]


def test_allocation() -> None:
    weights = {"a": 3, "b": 1, "c": 1}
    assert allocate(10, weights) == {"a": 6, "b": 2, "c": 2}
    assert sum(allocate(401, weights).values()) == 401


def test_spread_for_400(plan400: list[dict]) -> None:
    kinds = Counter(e["kind"] for e in plan400)
    assert len(kinds) == 10 and min(kinds.values()) >= 25, kinds
    phrasings = Counter(e["phrasing"] for e in plan400)
    assert min(phrasings.values()) >= 15, phrasings
    speakers = Counter(e["speaker"] for e in plan400)
    assert len(speakers) == len(SPEAKERS) >= 15
    assert {e["condition"] for e in plan400} == set(conditions.CONDITIONS)
    for sid in speakers:  # leave-one-voice-out: every speaker says most kinds
        assert len({e["kind"] for e in plan400 if e["speaker"] == sid}) >= 7, sid
    assert len({e["id"] for e in plan400}) == 400


def test_sample_spreads_over_kinds(plan400: list[dict]) -> None:
    chosen = stratified_sample(plan400, 20, 16)
    assert len(chosen) == 20 and len({e["kind"] for e in chosen}) == 10
    assert chosen == stratified_sample(plan400, 20, 16)


def _rows(geodata: Path, territory: Territory, tmp_path: Path) -> dict[tuple, dict]:
    ban.write_gazetteers(territory, tmp_path)
    rows = {}
    with open(tmp_path / ban.EXTENSION_FILE, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f, delimiter=";"):
            rows[(r["nom_voie"], r["code_insee"], r["numero"], r["rep"])] = r
    for name, st in territory.marseille.items():
        for n, (lon, lat, _) in st.numbers.items():
            rows[(name, st.citycode, str(n), "")] = {
                "lon": f"{lon:.6f}",
                "lat": f"{lat:.6f}",
                "code_postal": st.postcode,
            }
    return rows


def test_expected_addresses_are_in_the_gazetteer(
    plan400: list[dict], territory: Territory, geodata: Path, tmp_path: Path
) -> None:
    pytest.importorskip("shapely")
    from shapely.geometry import Point, shape
    from shapely.prepared import prep

    rows = _rows(geodata, territory, tmp_path)
    polygons = {}
    for name, key in (
        ("marseille-arrondissements-osm-20160128.geojson", "insee"),
        ("communes-metropole-aix-marseille-provence.geojson", "code"),
    ):
        for f in json.loads((geodata / name).read_text("utf-8"))["features"]:
            polygons[str(f["properties"][key])] = prep(shape(f["geometry"]))
    for e in plan400:
        exp = e["expected"]
        a = exp["address"]
        if a is None:
            continue
        number, _, rep = a["housenumber"].partition(" ")
        row = rows[(a["street"], a["citycode"], number, rep)]
        assert (row["lon"], row["lat"]) == (f"{a['lon']:.6f}", f"{a['lat']:.6f}"), e["id"]
        assert row["code_postal"] == a["postcode"], e["id"]
        assert exp["sector"] == a["citycode"], e["id"]
        assert polygons[a["citycode"]].contains(Point(a["lon"], a["lat"])), e["id"]
        assert e["ban_extension"] == (bool(rep) or not a["citycode"].startswith("132"))


def test_ground_truth_matches_the_words(plan400: list[dict], territory: Territory) -> None:
    from scripts.corpus.spoken import housenumber_words, phone_digits, phone_pairs

    metro = set(territory.metro)
    invented = set(invented_streets(territory))
    for e in plan400:
        exp, text, kind = e["expected"], e["text"], e["kind"]
        said = exp["address"] or e["spoken_address"]
        if said:
            number, _, rep = said["housenumber"].partition(" ")
            assert housenumber_words(int(number), rep) in text, e["id"]
        if exp["callback_number"] != e["caller_number"]:
            cb = exp["callback_number"]
            assert phone_pairs(cb) in text or phone_digits(cb) in text, e["id"]
        if kind == "outside":
            assert exp["address"] is None and e["spoken_address"]["citycode"] not in metro
            assert at_place(e["spoken_address"]["city"]) in text
        if kind == "not_in_ban":
            assert exp["address"] is None and e["spoken_address"]["street"] in invented
            assert not territory.exists(e["spoken_address"]["street"])
        if kind in ("question", "no_address"):
            assert exp["address"] is None
        if kind == "question":
            assert exp["intent"] == "question" and exp["topic"]
        if kind in ("refused", "refused_only"):
            assert exp["refused_items"]
        assert exp["outcome"] and exp["name"] in text, e["id"]


def test_geometry_helpers(geodata: Path) -> None:
    pyproj = pytest.importorskip("pyproj")
    pytest.importorskip("shapely")
    from shapely.geometry import Point, shape

    t = pyproj.Transformer.from_crs(4326, 2154, always_xy=True)
    for lon, lat in ((5.38, 43.29), (4.80, 43.95), (5.45, 43.53)):
        x, y = to_lambert93(lon, lat)
        tx, ty = t.transform(lon, lat)
        assert abs(x - tx) < 0.01 and abs(y - ty) < 0.01
    name = "marseille-arrondissements-osm-20160128.geojson"
    areas = load_areas(geodata / name, "insee", "nom")
    features = json.loads((geodata / name).read_text("utf-8"))["features"]
    shapes = {str(f["properties"]["insee"]): shape(f["geometry"]) for f in features}
    rng = random.Random(4)
    for _ in range(300):
        lon, lat = rng.uniform(5.30, 5.55), rng.uniform(43.20, 43.40)
        for a in areas:
            assert a.contains(lon, lat) == shapes[a.code].contains(Point(lon, lat))
