"""French wording for SMS and agent summaries. Pure functions, deterministic (usable in
workflows)."""

from __future__ import annotations

from datetime import date

from domain.models import AddressMatch, ItemCount

WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def date_label(iso_day: str) -> str:
    """'2026-12-08' -> 'mardi 8 décembre'; what is not a day is shown as it came ("(date
    inconnue)" when empty): a label shown in a workflow's details must never fail its task."""
    try:
        day = date.fromisoformat(iso_day)
    except ValueError:
        return iso_day or "(date inconnue)"
    number = "1er" if day.day == 1 else str(day.day)
    return f"{WEEKDAYS_FR[day.weekday()]} {number} {MONTHS_FR[day.month - 1]}"


def plural(name: str, count: int) -> str:
    """French plural of a catalogue name: the head noun (first word) takes the mark
    ("tables de chevet", "ballons d'eau chaude")."""
    if count <= 1:
        return name
    head, sep, rest = name.partition(" ")
    return _plural_word(head) + sep + rest


def _plural_word(word: str) -> str:
    # Verb+noun compounds of the catalogue ("lave-linge", "sèche-linge", "micro-ondes") are
    # invariable.
    if "-" in word or word.endswith(("s", "x", "z")):
        return word
    if word.endswith(("eau", "au")):
        return word + "x"
    return word + "s"


def items_label(items: list[ItemCount]) -> str:
    return ", ".join(f"{it.count} {plural(it.item, it.count)}" for it in items)


def address_label(match: AddressMatch) -> str:
    return match.label()
