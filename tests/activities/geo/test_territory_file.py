"""The territory files (corpus/territory/) read by activities/geo/territory_file.py: they hold
exactly what the code held before they existed, and a broken file stops the worker at start
with the file and the field named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from activities.geo.territory_file import DEFAULT_TERRITORY_DIR, load_territory
from domain.numbers import tokenize
from domain.understanding import Territory

# The aliases and street types as the code held them (domain/understanding.py before the move).
ALIASES = {
    "aix": "Aix-en-Provence",
    "salon": "Salon-de-Provence",
    "berre": "Berre-l'Étang",
    "les pennes": "Les Pennes-Mirabeau",
    "la penne": "La Penne-sur-Huveaune",
    "port saint louis": "Port-Saint-Louis-du-Rhône",
    "fos": "Fos-sur-Mer",
    "la roque": "La Roque-d'Anthéron",
    "carnoux": "Carnoux-en-Provence",
    "septemes": "Septèmes-les-Vallons",
    "gignac": "Gignac-la-Nerthe",
    "sausset": "Sausset-les-Pins",
    "carry": "Carry-le-Rouet",
    "ensues": "Ensuès-la-Redonne",
    "cuges": "Cuges-les-Pins",
    "la fare": "La Fare-les-Oliviers",
    "bouc bel air": "Bouc-Bel-Air",
    "simiane": "Simiane-Collongue",
    "roquefort": "Roquefort-la-Bédoule",
    "peyrolles": "Peyrolles-en-Provence",
    "lancon": "Lançon-Provence",
    "le puy sainte reparade": "Le Puy-Sainte-Réparade",
    "saint mitre": "Saint-Mitre-les-Remparts",
}
STREET_TYPES = {
    "rue": "Rue",
    "ruelle": "Ruelle",
    "avenue": "Avenue",
    "av": "Avenue",
    "boulevard": "Boulevard",
    "bd": "Boulevard",
    "bld": "Boulevard",
    "bvd": "Boulevard",
    "impasse": "Impasse",
    "allee": "Allée",
    "allees": "Allées",
    "chemin": "Chemin",
    "traverse": "Traverse",
    "place": "Place",
    "placette": "Placette",
    "cours": "Cours",
    "quai": "Quai",
    "montee": "Montée",
    "route": "Route",
    "square": "Square",
    "residence": "Résidence",
    "lotissement": "Lotissement",
    "cite": "Cité",
    "passage": "Passage",
    "corniche": "Corniche",
    "esplanade": "Esplanade",
    "parc": "Parc",
    "domaine": "Domaine",
    "hameau": "Hameau",
    "vallon": "Vallon",
    "tunnel": "Tunnel",
    "escalier": "Escalier",
    "escaliers": "Escaliers",
    "clos": "Clos",
    "promenade": "Promenade",
    "plateau": "Plateau",
    "parvis": "Parvis",
    "rampe": "Rampe",
    "digue": "Digue",
    "voie": "Voie",
    "sentier": "Sentier",
    "faubourg": "Faubourg",
    "villa": "Villa",
    "carrefour": "Carrefour",
    "pont": "Pont",
}
AMBIGUOUS = {
    *("place", "cours", "route", "passage", "parc", "domaine", "voie", "plateau", "pont"),
    *("clos", "villa", "residence", "cite", "escalier", "escaliers", "promenade", "rampe"),
    *("carrefour", "sentier", "tunnel", "digue"),
}


def test_the_communes_of_the_metropole(territory: Territory) -> None:
    communes = {c.citycode: c for c in territory.communes}
    assert len(territory.communes) == len(communes) == 92
    assert communes["13001"].name == "Aix-en-Provence"
    assert communes["13001"].postcodes == ("13080", "13090", "13100", "13290", "13540")
    assert communes["13047"].postcodes == ("13118", "13800")
    assert communes["13055"].postcodes == ()  # Marseille: its arrondissements' postcodes
    assert (communes["83120"].name, communes["83120"].postcodes) == ("Saint-Zacharie", ("83640",))
    assert (communes["84089"].name, communes["84089"].postcodes) == ("Pertuis", ("84120",))
    assert [c.citycode for c in territory.communes] == sorted(communes)
    assert sum(len(c.postcodes) for c in territory.communes) == 97


def test_the_aliases_and_street_types(territory: Territory) -> None:
    assert dict(territory.aliases) == ALIASES
    assert list(dict(territory.aliases)) == list(ALIASES)
    assert territory.one_word_types == STREET_TYPES
    assert list(territory.one_word_types) == list(STREET_TYPES)  # order picks near-misses
    assert territory.two_word_types == {
        ("rond", "point"): "Rond-Point",
        ("lieu", "dit"): "Lieu-dit",
    }
    assert territory.ambiguous_types == AMBIGUOUS
    assert territory.abbreviated_types == {"bd", "bld", "bvd", "av"}


def test_the_marseille_rules(territory: Territory) -> None:
    assert territory.main_city.name == "Marseille" and territory.department == "13"
    assert territory.generic_postcode == "13000"
    assert [(a.number, a.postcode, a.citycode) for a in territory.arrondissements] == [
        (n, f"130{n:02d}", f"132{n:02d}") for n in range(1, 17)
    ]
    assert territory.districts is not None
    assert territory.districts.city == "marseille"
    assert territory.districts.department == "13"


def test_the_default_folder_is_the_shipped_one() -> None:
    assert load_territory() == load_territory(DEFAULT_TERRITORY_DIR)
    assert (DEFAULT_TERRITORY_DIR / "README.md").is_file()


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "territory"
    shutil.copytree(DEFAULT_TERRITORY_DIR, folder)
    return folder


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "communes.csv",
            "13005,Aubagne",
            "1300X,Aubagne",
            "communes.csv: ligne 5, champ « citycode »",
        ),
        ("communes.csv", "13005,Aubagne,13400", "13005,Aubagne,134", "champ « postcodes »"),
        ("communes.csv", "13005,Aubagne", "13005,Allauch", "champ « name »"),
        ("communes.csv", "citycode,name", "code,name", "colonnes manquantes ['citycode']"),
        ("commune_aliases.csv", "aix,Aix-en-Provence", "aix,Aix", "champ « commune »"),
        ("street_types.csv", "rue,Rue,", "Rue,Rue,", "champ « spoken »"),
        ("street_types.csv", "place,Place,ambiguous", "place,Place,odd", "champ « kind »"),
        ("street_types.csv", "rue,Rue,", "rue,,", "champ « written »"),
        ("arrondissements.csv", "2,13002", "3,13002", "champ « number »"),
        ("territory.yaml", 'main_city: "13055"', 'main_city: "13999"', "champ « main_city »"),
        ("territory.yaml", 'generic_postcode: "13000"', "generic_postcode: 1", "generic_postcode"),
        ("territory.yaml", 'main_city: "13055"', "main_city: [", "YAML invalide"),
        ("quartiers.csv", "Endoume,13207", "Endoume,132X7", "champ « citycode »"),
    ],
)
def test_a_broken_file_names_the_file_and_the_field(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    folder = _copy(tmp_path)
    _replace(folder / file, old, new)
    with pytest.raises(ValueError) as err:
        load_territory(folder)
    assert file in str(err.value)
    assert message in str(err.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "street_types.csv").unlink()
    with pytest.raises(ValueError, match=r"street_types\.csv"):
        load_territory(folder)


def test_a_city_in_one_piece(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "arrondissements.csv").write_text("number,postcode,citycode\n", encoding="utf-8")
    _replace(folder / "territory.yaml", 'generic_postcode: "13000"', 'generic_postcode: ""')
    territory = load_territory(folder)
    assert territory.districts is None and territory.find_arrondissement("Marseille 8e") is None


def test_the_quartiers_of_the_main_city(territory: Territory) -> None:
    def found(text: str) -> str | None:
        tokens = tokenize(text)
        hit = territory.find_quartier(tokens, 0)
        return hit[0] if hit is not None and hit[1] == len(tokens) else None

    assert found("Saint-Henri") == "13216"
    assert found("Endoume") == found("enodume") == "13207"  # a long name slightly misheard
    assert found("Le Pharo") == found("Pharo") == "13207"  # « au Pharo »
    assert found("Toulon") is None and found("Aubagne") is None
    # Outside communes that sound like a quartier (« Les Mourets ») are the commune.
    assert found("Mouriès") is None and found("Mourriès") is None


def test_the_quartiers_file_is_optional(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "quartiers.csv").unlink()
    assert load_territory(folder).find_quartier(tokenize("Endoume"), 0) is None
