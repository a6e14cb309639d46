"""Reads the territory files (corpus/territory/, described in its README.md) into the
`Territory` value the understanding and the address search receive.

Any problem raises ValueError naming the file and, where it applies, the line and the field:
like a broken catalogue, a broken territory must stop the worker at start-up, not fail every
call later."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import yaml

from corpus import TERRITORY_DIR
from domain.numbers import tokenize
from domain.understanding.territory import Arrondissement, Commune, StreetType, Territory

__all__ = ["DEFAULT_TERRITORY_DIR", "load_territory"]

DEFAULT_TERRITORY_DIR = TERRITORY_DIR

SETTINGS_FILE = "territory.yaml"
COMMUNES_FILE = "communes.csv"
ALIASES_FILE = "commune_aliases.csv"
STREET_TYPES_FILE = "street_types.csv"
ARRONDISSEMENTS_FILE = "arrondissements.csv"
# Optional: communes near the territory but outside it (scripts/make_outside_communes.py).
OUTSIDE_FILE = "outside_communes.csv"
# Optional: the main city's quartiers (scripts/make_quartiers.py).
QUARTIERS_FILE = "quartiers.csv"

_CITYCODE = re.compile(r"\d[\dAB]\d{3}")
_POSTCODE = re.compile(r"\d{5}")
_KINDS = {"": (False, False), "ambiguous": (True, False), "abbreviation": (False, True)}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: fichier du territoire illisible ({e.strerror or e})") from e


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for each row of a CSV file whose header holds `columns`."""
    reader = csv.DictReader(_read_text(path).splitlines())
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: colonnes manquantes {missing} (attendu : {list(columns)})")
    return [(reader.line_num, {c: (row.get(c) or "").strip() for c in columns}) for row in reader]


def _check(ok: bool, path: Path, line: int, column: str, problem: str) -> None:
    if not ok:
        raise ValueError(f"{path}: ligne {line}, champ « {column} » : {problem}")


def _communes(path: Path) -> tuple[Commune, ...]:
    communes: list[Commune] = []
    names: set[str] = set()
    for line, row in _rows(path, ("citycode", "name", "postcodes")):
        code, name, postcodes = row["citycode"], row["name"], tuple(row["postcodes"].split())
        _check(bool(_CITYCODE.fullmatch(code)), path, line, "citycode", f"« {code} »")
        _check(bool(name) and name not in names, path, line, "name", f"« {name} » vide ou répété")
        for postcode in postcodes:
            _check(bool(_POSTCODE.fullmatch(postcode)), path, line, "postcodes", f"« {postcode} »")
        names.add(name)
        communes.append(Commune(code, name, postcodes))
    if not communes:
        raise ValueError(f"{path}: aucune commune")
    return tuple(communes)


def _outside(path: Path, communes: tuple[Commune, ...]) -> tuple[Commune, ...]:
    """Communes outside the territory: `citycode,name` rows; none when the file is absent."""
    if not path.exists():
        return ()
    inside = {c.citycode for c in communes}
    out: list[Commune] = []
    for line, row in _rows(path, ("citycode", "name")):
        code, name = row["citycode"], row["name"]
        _check(bool(_CITYCODE.fullmatch(code)), path, line, "citycode", f"« {code} »")
        _check(code not in inside, path, line, "citycode", f"« {code} » est du territoire")
        _check(bool(name), path, line, "name", "vide")
        out.append(Commune(code, name, ()))
    return tuple(out)


def _quartiers(path: Path) -> tuple[tuple[str, str], ...]:
    """`name,citycode` rows; none when the file is absent."""
    if not path.exists():
        return ()
    out: list[tuple[str, str]] = []
    for line, row in _rows(path, ("name", "citycode")):
        name, code = row["name"], row["citycode"]
        _check(bool(tokenize(name)), path, line, "name", "vide")
        _check(bool(_CITYCODE.fullmatch(code)), path, line, "citycode", f"« {code} »")
        out.append((name, code))
    return tuple(out)


def _aliases(path: Path, communes: tuple[Commune, ...]) -> tuple[tuple[str, str], ...]:
    names = {c.name for c in communes}
    aliases = []
    for line, row in _rows(path, ("spoken", "commune")):
        spoken, name = row["spoken"], row["commune"]
        _check(bool(tokenize(spoken)), path, line, "spoken", "vide")
        _check(name in names, path, line, "commune", f"« {name} » absente de {COMMUNES_FILE}")
        aliases.append((spoken, name))
    return tuple(aliases)


def _street_types(path: Path) -> tuple[StreetType, ...]:
    types: list[StreetType] = []
    seen: set[str] = set()
    for line, row in _rows(path, ("spoken", "written", "kind")):
        spoken, written, kind = row["spoken"], row["written"], row["kind"]
        folded = " ".join(t.folded for t in tokenize(spoken))
        _check(
            folded == spoken and 1 <= len(spoken.split()) <= 2 and spoken not in seen,
            path,
            line,
            "spoken",
            f"« {spoken} » : un ou deux mots, en minuscules sans accents, une seule fois",
        )
        _check(bool(written), path, line, "written", "vide")
        _check(kind in _KINDS, path, line, "kind", f"« {kind} » (attendu : {sorted(_KINDS)})")
        ambiguous, abbreviation = _KINDS[kind]
        seen.add(spoken)
        types.append(StreetType(spoken, written, ambiguous, abbreviation))
    return tuple(types)


def _arrondissements(path: Path) -> tuple[Arrondissement, ...]:
    found: list[Arrondissement] = []
    for line, row in _rows(path, ("number", "postcode", "citycode")):
        number, postcode, code = row["number"], row["postcode"], row["citycode"]
        expected = str(len(found) + 1)
        _check(number == expected, path, line, "number", f"« {number} » (attendu : {expected})")
        _check(bool(_POSTCODE.fullmatch(postcode)), path, line, "postcode", f"« {postcode} »")
        _check(bool(_CITYCODE.fullmatch(code)), path, line, "citycode", f"« {code} »")
        found.append(Arrondissement(int(number), postcode, code))
    return tuple(found)


def _settings(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: YAML invalide: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: attendu un dictionnaire (main_city, generic_postcode)")
    unknown = set(data) - {"main_city", "generic_postcode"}
    if unknown:
        raise ValueError(f"{path}: champs inconnus {sorted(unknown)}")
    return data


def load_territory(directory: Path = DEFAULT_TERRITORY_DIR) -> Territory:
    """Reads and checks the territory files of `directory`."""
    directory = Path(directory)
    settings_path = directory / SETTINGS_FILE
    settings = _settings(settings_path)
    communes = _communes(directory / COMMUNES_FILE)
    arrondissements = _arrondissements(directory / ARRONDISSEMENTS_FILE)
    main_code = str(settings.get("main_city") or "")
    by_code = {c.citycode: c for c in communes}
    if main_code not in by_code:
        raise ValueError(
            f"{settings_path}: champ « main_city » : « {main_code} » absent de {COMMUNES_FILE}"
        )
    generic = str(settings.get("generic_postcode") or "")
    if generic and not (_POSTCODE.fullmatch(generic) and arrondissements):
        raise ValueError(
            f"{settings_path}: champ « generic_postcode » : « {generic} » (cinq chiffres, et "
            f"seulement avec des arrondissements dans {ARRONDISSEMENTS_FILE})"
        )
    return Territory(
        communes=communes,
        aliases=_aliases(directory / ALIASES_FILE, communes),
        street_types=_street_types(directory / STREET_TYPES_FILE),
        main_city=by_code[main_code],
        arrondissements=arrondissements,
        generic_postcode=generic,
        outside=_outside(directory / OUTSIDE_FILE, communes),
        quartiers=_quartiers(directory / QUARTIERS_FILE),
    )
