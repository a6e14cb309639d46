"""Where each message's caller is: a bookable address of the gazetteer (Marseille, or a
commune of the BAN extension), a commune outside the métropole, or an invented street."""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import lexicon, places, templates
from .templates import Said
from .territory import Address, Territory

COMMUNE_SHARE = 0.3  # bookable addresses drawn from the other communes of the métropole
MARSEILLE_FORMS = (
    ("ordinal",) * 3
    + ("postcode_digits",) * 2
    + ("postcode_thousands",) * 2
    + (
        "city",
        "none",
    )
)
COMMUNE_FORMS = ("city",) * 3 + ("postcode_digits", "postcode_thousands")


@dataclass
class Placed:
    said: Said
    locality_form: str
    territory: str  # "marseille" | "commune" | "outside"
    address: Address | None = None  # the ground truth (None: nothing to book)
    spoken: dict | None = None  # what was said, when it is not in the gazetteer
    homonyms: list[str] | None = None
    in_extension: bool = False


def fits(street: str, phrasing: str) -> bool:
    if phrasing == "au_de_la":
        return templates.of_street(street) is not None
    if phrasing == "spelled":
        return templates.spelled_word(street) is not None
    return True


def _wrong_number(number: int, rng: random.Random) -> int:
    options = [n for n in (number - 2, number + 2, number + 10, rng.randint(1, 60)) if n > 0]
    return rng.choice([n for n in options if n != number] or [number + 1])


def _said(street: str, number: int, rep: str, locality: str, rng: random.Random, **kw) -> Said:
    return Said(
        number,
        rep,
        street,
        locality,
        wrong=_wrong_number(number, rng),
        residence=rng.choice(lexicon.RESIDENCES),
        **kw,
    )


def _draw(phrasing: str, t: Territory, rng: random.Random) -> Address:
    for _ in range(500):
        if phrasing == "lieu_dit":
            a = t.sample_commune(rng, lieu_dit=True)
        elif phrasing == "quartier":
            a = t.sample_marseille(rng, with_quartier=True)
        elif rng.random() < COMMUNE_SHARE:
            a = t.sample_commune(rng)
        else:
            a = t.sample_marseille(rng)
        if fits(a.street, phrasing):
            return a
    raise RuntimeError(f"no address fits {phrasing}")


def bookable_address(phrasing: str, t: Territory, rng: random.Random) -> Placed:
    a = _draw(phrasing, t, rng)
    if phrasing == "bis_ter":
        a = t.with_rep(a, rng.choice(("bis", "bis", "ter")), rng)
    homonyms = t.homonyms(a.street, a.citycode)
    if a.citycode.startswith("132"):
        form = rng.choice(MARSEILLE_FORMS)
        if form == "none" and homonyms:
            form = "ordinal"  # a street of several communes is always placed by the caller
        loc = templates.marseille_locality(form, a.postcode, rng)
        territory = "marseille"
    else:
        form = rng.choice(COMMUNE_FORMS)
        loc = templates.commune_locality(form, a.city, a.postcode, rng)
        territory = "commune"
    said = _said(a.street, a.number, a.rep, loc, rng, quartier=t.quartier(a), lieu_dit=a.lieu_dit)
    in_extension = bool(a.rep) or territory == "commune"
    spoken = None
    if in_extension:  # what was said, for an evaluation without the BAN extension
        spoken = {k: v for k, v in a.expected().items() if k not in ("lon", "lat")}
        spoken["city"] = a.city
    return Placed(said, form, territory, a, spoken, homonyms, in_extension)


def outside_address(phrasing: str, t: Territory, rng: random.Random) -> Placed:
    """A commune outside the métropole; half the time a street name Marseille also has."""
    commune = rng.choice(t.outside)
    elsewhere = [s for s in places.COMMON_STREETS if not t.exists(s)]
    for _ in range(500):
        marseille_name = rng.random() < 0.5
        street = rng.choice(t.lived if marseille_name else elsewhere)
        if fits(street, phrasing):
            break
    number = rng.randint(1, 40)
    loc = templates.outside_locality(commune.name, commune.department, rng)
    spoken = {
        "housenumber": str(number),
        "street": street,
        "postcode": None,
        "citycode": commune.code,
        "city": commune.name,
    }
    said = _said(street, number, "", loc, rng)
    return Placed(said, "city", "outside", None, spoken, t.homonyms(street, commune.code))


def invented_streets(t: Territory) -> list[str]:
    """Invented names whose name part exists in no street of the gazetteer."""
    bodies = [b for b in places.INVENTED_NAMES if not t.body_exists(b)]
    return [f"{kind} {body}" for body in bodies for kind in places.INVENTED_TYPES]


def invented_address(phrasing: str, t: Territory, rng: random.Random) -> Placed:
    """A street of Marseille that is not in the BAN, placed like a real one."""
    candidates = [s for s in invented_streets(t) if fits(s, phrasing)]
    street = rng.choice(candidates)
    anchor = t.sample_marseille(rng, with_quartier=phrasing == "quartier")
    number = rng.randint(1, 40)
    form = rng.choice(MARSEILLE_FORMS)
    loc = templates.marseille_locality(form, anchor.postcode, rng)
    placed_by = form not in ("city", "none")
    spoken = {
        "housenumber": str(number),
        "street": street,
        "postcode": anchor.postcode if placed_by else None,
        "citycode": anchor.citycode if placed_by else ("13055" if form == "city" else None),
        "city": "Marseille" if form != "none" else None,
    }
    said = _said(street, number, "", loc, rng, quartier=t.quartier(anchor))
    return Placed(said, form, "marseille", None, spoken, [])
