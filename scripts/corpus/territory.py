"""The territory as the corpus sees it: Marseille's BAN streets, the communes (inside and
outside the métropole), and the seeded synthetic BAN extension.

The extension (`ban-extension.csv`, BAN schema, `source_position=synthetique`) holds what the
Marseille file lacks and the corpus needs for real bookings: streets and lieux-dits of other
communes of the métropole (positions inside the commune polygon), several of them with a name
that also exists in Marseille or in another commune, and the bis/ter numbers the messages use.
`ban-dev.csv.gz` = the Marseille file + the extension: the gazetteer the ground truth is
written for (`encombot eval var/corpus/dev --ban var/corpus/dev/ban-dev.csv.gz ...`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from . import places
from .geo import Area, area_of, load_areas, offset
from .places import Commune, Street, fold

# Streets of the extension, by commune (official name). Names are plausible, positions and
# numbers synthetic; several also exist in Marseille or in another commune of this list.
EXTENSION_STREETS: dict[str, tuple[str, ...]] = {
    "Aix-en-Provence": ("Cours Mirabeau", "Rue d'Italie", "Avenue Victor Hugo", "Avenue Pasteur"),
    "Aubagne": ("Rue de la République", "Cours Foch", "Avenue Jean Jaurès", "Rue Jules Ferry"),
    "La Ciotat": ("Boulevard Anatole France", "Avenue Frédéric Mistral", "Avenue de la Gare"),
    "Martigues": ("Quai Brescon", "Rue de la République", "Rue Émile Zola"),
    "Vitrolles": ("Avenue des Salyens", "Rue de Provence", "Boulevard de l'Europe"),
    "Marignane": ("Cours Mirabeau", "Avenue Jean Jaurès", "Rue Pasteur"),
    "Allauch": ("Rue de l'Église", "Chemin des Vignes", "Avenue des Pins"),
    "Salon-de-Provence": ("Cours Carnot", "Rue Nationale", "Boulevard Gambetta"),
    "Gardanne": ("Cours de la République", "Boulevard Carnot", "Rue Jules Ferry"),
    "Pertuis": ("Place Mirabeau", "Rue Voltaire", "Avenue de Verdun"),
}
# Lieux-dits (BAN rows whose nom_voie is the lieu-dit, no street type).
EXTENSION_LIEUX_DITS: dict[str, tuple[str, ...]] = {
    "Rognes": ("Les Bastidons", "La Quille"),
    "Trets": ("Les Naps", "Le Défens"),
    "Jouques": ("Les Gavots", "La Grande Bastide"),
    "Puyloubier": ("Les Bréguières",),
}

BAN_HEADER = [
    "id",
    "id_fantoir",
    "numero",
    "rep",
    "nom_voie",
    "code_postal",
    "code_insee",
    "nom_commune",
    "code_insee_ancienne_commune",
    "nom_ancienne_commune",
    "x",
    "y",
    "lon",
    "lat",
    "type_position",
    "alias",
    "nom_ld",
    "libelle_acheminement",
    "nom_afnor",
    "source_position",
    "source_nom_voie",
    "certification_commune",
    "cad_parcelles",
]


@dataclass(frozen=True)
class Address:
    """A point of the gazetteer the caller lives at (the ground truth)."""

    number: int
    rep: str
    street: str
    postcode: str
    citycode: str
    city: str
    lon: float
    lat: float
    lieu_dit: bool = False

    @property
    def housenumber(self) -> str:
        return f"{self.number} {self.rep}".strip()

    def expected(self) -> dict:
        return {
            "housenumber": self.housenumber,
            "street": self.street,
            "postcode": self.postcode,
            "citycode": self.citycode,
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
        }


class Territory:
    def __init__(self, geodata: Path, seed: int) -> None:
        self.geodata = geodata
        self.marseille = places.read_ban_streets(geodata / places.BAN_FILE)
        quartiers = places.read_quartiers(geodata / places.STREET_CENTROIDS)
        for name, st in self.marseille.items():
            st.quartier = quartiers.get(name, "")
        self.lived = sorted(n for n in self.marseille if places.speakable(n))
        self.arrondissements = load_areas(geodata / places.ARRONDISSEMENTS, "insee", "nom")
        metro = load_areas(geodata / places.METROPOLE, "code", "nom_officiel")
        self.metro = {a.code: a for a in metro}
        postcodes = places.read_postcodes(geodata / places.POSTCODES)
        self.communes = {a.code: Commune(a.code, a.name, postcodes.get(a.code, ())) for a in metro}
        self.by_name = {c.name: c for c in self.communes.values()}
        bdr = load_areas(geodata / places.DEPARTEMENT, "code", "nom_officiel")
        self.outside = [Commune(a.code, a.name, ()) for a in bdr if a.code not in self.metro]
        self.outside += [Commune(code, n, (), dep) for n, code, dep in places.NEIGHBOURS]
        self.extension = build_extension(self, random.Random(f"{seed}:extension"))
        self.extra_rows: dict[tuple[str, str, int, str], Address] = {}  # bis/ter numbers
        self._names = self._name_index()

    def _name_index(self) -> dict[str, set[str]]:
        """Folded street name → commune codes it exists in (Marseille: 13055)."""
        index: dict[str, set[str]] = {fold(n): {"13055"} for n in self.marseille}
        for st in self.extension:
            index.setdefault(fold(st.name), set()).add(st.citycode)
        return index

    def homonyms(self, street: str, citycode: str) -> list[str]:
        """Other communes (INSEE codes; Marseille = 13055) with a street of that name."""
        own = "13055" if citycode.startswith("132") else citycode
        return sorted(self._names.get(fold(street), set()) - {own})

    def exists(self, street: str) -> bool:
        return fold(street) in self._names

    def body_exists(self, body: str) -> bool:
        key = fold(body)
        return any(n.endswith(" " + key) or n == key for n in self._names)

    def sample_marseille(self, rng: random.Random, *, with_quartier: bool = False) -> Address:
        for _ in range(1000):
            st = self.marseille[rng.choice(self.lived)]
            if with_quartier and not st.quartier:
                continue
            number = rng.choice(sorted(st.numbers))
            lon, lat, _ = st.numbers[number]
            if area_of(lon, lat, self.arrondissements) != st.citycode:
                continue
            return Address(number, "", st.name, st.postcode, st.citycode, st.city, lon, lat)
        raise RuntimeError("no Marseille address found")

    def sample_commune(self, rng: random.Random, *, lieu_dit: bool = False) -> Address:
        pool = [s for s in self.extension if s.lieu_dit == lieu_dit]
        st = rng.choice(pool)
        number = rng.choice(sorted(st.numbers))
        lon, lat, _ = st.numbers[number]
        return Address(number, "", st.name, st.postcode, st.citycode, st.city, lon, lat, lieu_dit)

    def with_rep(self, address: Address, rep: str, rng: random.Random) -> Address:
        """The same entrance with a bis/ter suffix: a new row of the extension, a few metres
        from the plain number, in the same arrondissement or commune."""
        areas = self.arrondissements if address.citycode.startswith("132") else None
        for _ in range(100):
            lon, lat = offset(address.lon, address.lat, rng.uniform(-6, 6), rng.uniform(-6, 6))
            inside = (
                area_of(lon, lat, areas) == address.citycode
                if areas
                else self.metro[address.citycode].contains(lon, lat)
            )
            if inside:
                break
        else:
            lon, lat = address.lon, address.lat
        new = Address(
            address.number,
            rep,
            address.street,
            address.postcode,
            address.citycode,
            address.city,
            round(lon, 6),
            round(lat, 6),
            address.lieu_dit,
        )
        key = (new.street, new.citycode, new.number, rep)
        return self.extra_rows.setdefault(key, new)

    def quartier(self, address: Address) -> str:
        st = self.marseille.get(address.street)
        return st.quartier if st is not None and address.citycode.startswith("132") else ""


def _street_numbers(area: Area, rng: random.Random) -> dict[int, tuple[float, float, str]]:
    """Numbers 1..n along a straight street inside the polygon: odd on one side, even on the
    other, 12 m apart."""
    for _ in range(200):
        lon0, lat0 = area.random_point(rng)
        bearing = rng.uniform(0, math.pi)
        count = rng.randint(12, 40)
        numbers: dict[int, tuple[float, float, str]] = {}
        for n in range(1, count + 1):
            along = (n - 1) // 2 * 12.0 - count * 3.0
            side = 8.0 if n % 2 else -8.0
            east = along * math.cos(bearing) - side * math.sin(bearing)
            north = along * math.sin(bearing) + side * math.cos(bearing)
            lon, lat = offset(lon0, lat0, east, north)
            if area.contains(lon, lat):
                numbers[n] = (round(lon, 6), round(lat, 6), "")
        if len(numbers) >= 6:
            return numbers
    raise RuntimeError(f"no room for a street in {area.name}")


def build_extension(territory: Territory, rng: random.Random) -> list[Street]:
    streets: list[Street] = []
    groups = [(EXTENSION_STREETS, False), (EXTENSION_LIEUX_DITS, True)]
    for table, lieu_dit in groups:
        for commune_name, names in table.items():
            commune = territory.by_name[commune_name]
            area = territory.metro[commune.code]
            for name in names:
                postcode = rng.choice(commune.postcodes)
                st = Street(name, postcode, commune.code, commune.name, lieu_dit=lieu_dit)
                st.numbers = _street_numbers(area, rng)
                st.synthetic = True
                streets.append(st)
    return streets
