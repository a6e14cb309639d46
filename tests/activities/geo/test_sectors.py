"""Collection sectors: point-in-polygon, nesting, tolerance (activities/geo/sectors.py)."""

from __future__ import annotations

from activities.geo.sectors import SectorIndex
from tests.activities.geo.helpers import ARRONDISSEMENTS, COMMUNES, collection, needs_shared, square


def test_smallest_containing_polygon_wins_whatever_the_file_order() -> None:
    commune = ({"code": "13055", "nom": "Marseille"}, square(5.40, 43.30, 0.10))
    arrondissement = ({"insee": "13201", "nom": "Marseille 1er"}, square(5.38, 43.30, 0.01))
    for layers in ([commune, arrondissement], [arrondissement, commune]):
        index = SectorIndex.from_geojson([collection(*layers)])
        assert index.locate(5.38, 43.30) == "13201"
        assert index.locate(5.45, 43.35) == "13055"
        assert index.locate(6.00, 44.00) == ""


def test_sector_id_and_name_properties() -> None:
    index = SectorIndex.from_geojson(
        [
            collection(
                ({"id": "S1", "insee": "13201", "name": "Nord"}, square(5.0, 43.0, 0.01)),
                ({"code": "13005", "nom": "Aubagne"}, square(5.5, 43.3, 0.01)),
                ({"nom": "sans id"}, square(5.7, 43.3, 0.01)),
            )
        ]
    )
    assert index.ids == ["13005", "S1"]
    sector = index.sector_at(5.0, 43.0)
    assert sector is not None and (sector.id, sector.name) == ("S1", "Nord")


def test_point_just_outside_a_polygon_goes_to_the_nearest_sector() -> None:
    index = SectorIndex.from_geojson(
        [collection(({"id": "A"}, square(5.38, 43.30, 0.01)))], tolerance_m=200
    )
    assert index.locate(5.38 + 0.0115, 43.30) == "A"  # ~120 m east of the edge
    assert index.locate(5.38 + 0.02, 43.30) == ""  # ~800 m: outside
    strict = SectorIndex.from_geojson([collection(({"id": "A"}, square(5.38, 43.30, 0.01)))], 0)
    assert strict.locate(5.38 + 0.0115, 43.30) == ""


@needs_shared
def test_arrondissement_beats_the_commune_of_marseille_on_real_polygons() -> None:
    index = SectorIndex.load([COMMUNES, ARRONDISSEMENTS])
    assert index.locate(5.3800, 43.2880) == "13206"  # Préfecture, 6th
    assert index.locate(5.4207, 43.2590) == "13209"  # Boulevard Hodoul area, 9th
    assert index.locate(5.5706, 43.2925) == "13005"  # Aubagne, another commune
    only_communes = SectorIndex.load([COMMUNES])
    assert only_communes.locate(5.3800, 43.2880) == "13055"
