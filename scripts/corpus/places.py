"""Where callers live: Marseille addresses from the BAN file of ../shared/geodata (read in
place, never copied), communes of the métropole and outside it, invented street names.

Ground truth for Marseille: an address row of the BAN file whose point lies in the
arrondissement polygon of its own `code_insee` (2–3 % of the synthetic points fall in a
neighbouring arrondissement or outside every polygon: those rows are never drawn, so the
arrondissement the caller names, the postcode of the row and the sector of the point agree).
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

from .spoken import strip_accents

BAN_FILE = "adresses-13-marseille-synthetique.csv.gz"
ARRONDISSEMENTS = "marseille-arrondissements-osm-20160128.geojson"
METROPOLE = "communes-metropole-aix-marseille-provence.geojson"
DEPARTEMENT = "communes-13-bouches-du-rhone.geojson"
POSTCODES = "amp-communes-codes-postaux.csv"
STREET_CENTROIDS = "marseille-voies-osm-centroides.csv"

# Street types people live on (no tunnels, slip roads, roundabouts, stairs...).
LIVED_TYPES = frozenset(
    [
        "Rue",
        "Boulevard",
        "Impasse",
        "Traverse",
        "Avenue",
        "Place",
        "Chemin",
        "Allée",
        "Montée",
        "Square",
        "Passage",
        "Quai",
        "Route",
        "Cours",
        "Corniche",
        "Clos",
        "Promenade",
        "Allées",
        "Vallon",
    ]
)
_UNSPEAKABLE = re.compile(r"[\d.()/]|\b[IVX]{1,4}\b|\b[A-Z]\b")

# Neighbouring départements (hand-made list of real communes and their INSEE codes).
NEIGHBOURS: tuple[tuple[str, str, str], ...] = (
    ("Toulon", "83137", "dans le Var"),
    ("Hyères", "83069", "dans le Var"),
    ("La Seyne-sur-Mer", "83126", "dans le Var"),
    ("Fréjus", "83061", "dans le Var"),
    ("Draguignan", "83050", "dans le Var"),
    ("Brignoles", "83023", "dans le Var"),
    ("Saint-Maximin-la-Sainte-Baume", "83116", "dans le Var"),
    ("Bandol", "83009", "dans le Var"),
    ("Sanary-sur-Mer", "83123", "dans le Var"),
    ("Six-Fours-les-Plages", "83129", "dans le Var"),
    ("Avignon", "84007", "dans le Vaucluse"),
    ("Carpentras", "84031", "dans le Vaucluse"),
    ("Orange", "84087", "dans le Vaucluse"),
    ("Cavaillon", "84035", "dans le Vaucluse"),
    ("Apt", "84003", "dans le Vaucluse"),
    ("L'Isle-sur-la-Sorgue", "84054", "dans le Vaucluse"),
    ("Nîmes", "30189", "dans le Gard"),
    ("Alès", "30007", "dans le Gard"),
    ("Beaucaire", "30032", "dans le Gard"),
    ("Bagnols-sur-Cèze", "30028", "dans le Gard"),
    ("Uzès", "30334", "dans le Gard"),
    ("Manosque", "04112", "dans les Alpes-de-Haute-Provence"),
    ("Digne-les-Bains", "04070", "dans les Alpes-de-Haute-Provence"),
    ("Sisteron", "04209", "dans les Alpes-de-Haute-Provence"),
    ("Forcalquier", "04088", "dans les Alpes-de-Haute-Provence"),
)

# Street names said by callers from outside (common French names, some also in Marseille).
COMMON_STREETS = (
    "Rue de la République",
    "Avenue Jean Jaurès",
    "Rue Pasteur",
    "Avenue de la Gare",
    "Rue Émile Zola",
    "Boulevard Gambetta",
    "Rue Nationale",
    "Chemin des Vignes",
    "Avenue Frédéric Mistral",
    "Rue de l'Église",
    "Place de la Mairie",
    "Rue Voltaire",
    "Avenue Victor Hugo",
    "Rue Jules Ferry",
    "Rue de Provence",
)

# Invented names for "not in the BAN": type + name, kept only when the name part (without the
# type) is in no street of the gazetteer.
INVENTED_TYPES = ("Rue", "Impasse", "Traverse", "Avenue", "Chemin", "Allée", "Boulevard")
INVENTED_NAMES = (
    "des Amandiers Blancs",
    "Honorine Baptistin",
    "Marius Estrangin",
    "du Vieux Moulin à Huile",
    "des Cigales Chantantes",
    "Louis Rebuffat",
    "de la Bastide Haute",
    "Félicien Castagne",
    "des Trois Figuiers",
    "Augustin Roubion",
    "du Grand Micocoulier",
    "des Jardins d'Hélène",
    "Victorin Garcin",
    "de la Source Fraîche",
    "Joséphine Maurel",
    "des Pins Parasols",
    "Clovis Hugues Aîné",
    "du Petit Canal",
    "Emilien Fabrégoule",
    "des Roses Trémières",
)

_QUARTIER_ACCENTS = {
    "BARNABE": "Barnabé",
    "BARTHELEMY": "Barthélémy",
    "JEROME": "Jérôme",
    "ANDRE": "André",
    "DESERT": "Désert",
    "CHATEAU": "Château",
    "HOTEL": "Hôtel",
    "PERIER": "Périer",
    "OPERA": "Opéra",
    "PREFECTURE": "Préfecture",
    "MEDECINS": "Médecins",
    "FOURRAGERE": "Fourragère",
    "MILLIERE": "Millière",
    "VAUFREGES": "Vaufrèges",
    "EOURES": "Éoures",
    "ILES": "Îles",
}
_SMALL = {"DE", "DU", "DES", "LA", "LE", "LES"}


def quartier_name(raw: str) -> str:
    """ "SAINT-BARNABE" → "Saint-Barnabé", "LES ACCATES" → "Les Accates"."""
    words = re.split(r"([ \-'])", raw.strip())
    out = []
    for i, w in enumerate(words):
        if w in " -'":
            out.append(w)
        elif w in _QUARTIER_ACCENTS:
            out.append(_QUARTIER_ACCENTS[w])
        elif w in _SMALL and i > 0:
            out.append(w.lower())
        else:
            out.append(w.capitalize())
    name = "".join(out)
    return re.sub(r"^(Sainte?) ", r"\1-", name)


def fold(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", strip_accents(text).lower()).split())


def street_type(name: str) -> str:
    return name.split()[0]


def street_body(name: str) -> str:
    """The name without its type: "Rue de la République" → "de la République"."""
    parts = name.split(maxsplit=1)
    return parts[1] if len(parts) == 2 else name


@dataclass
class Street:
    name: str
    postcode: str
    citycode: str  # arrondissement (132xx) or commune INSEE code
    city: str  # "Marseille", "Aubagne", ...
    numbers: dict[int, tuple[float, float, str]] = field(default_factory=dict)  # n → lon, lat, id
    quartier: str = ""
    lieu_dit: bool = False
    synthetic: bool = False  # from the BAN extension


@dataclass(frozen=True)
class Commune:
    code: str
    name: str  # official name, with its article ("La Ciotat")
    postcodes: tuple[str, ...]
    department: str = ""  # "dans le Var" for neighbours, "" in Bouches-du-Rhône


def read_ban_streets(path: Path) -> dict[str, Street]:
    """Street name → Street with its numbers (Marseille file: one row per name)."""
    streets: dict[str, Street] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            if row["rep"].strip():
                continue
            st = streets.get(row["nom_voie"])
            if st is None:
                st = streets[row["nom_voie"]] = Street(
                    row["nom_voie"], row["code_postal"], row["code_insee"], row["nom_commune"]
                )
            st.numbers[int(row["numero"])] = (float(row["lon"]), float(row["lat"]), row["id"])
    return streets


def speakable(name: str) -> bool:
    return street_type(name) in LIVED_TYPES and not _UNSPEAKABLE.search(name)


def read_postcodes(path: Path) -> dict[str, tuple[str, ...]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {r["code_insee"]: tuple(r["codes_postaux"].split()) for r in csv.DictReader(handle)}


def read_quartiers(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {r["nom_voie"]: quartier_name(r["quartier"]) for r in csv.DictReader(handle)}
