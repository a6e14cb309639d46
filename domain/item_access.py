"""Access details said beside the address (« code porte 1234 », « porte B », « 3e étage,
porte gauche »): words of the item catalogue that name where the door is, not something to
collect. Used by the catalogue's matching (catalogue.py)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.item_words import QUANTITY_CUES
from domain.numbers import Token

__all__ = ["access_detail"]

# Where the door is, not a door to take away: "code porte 1234", "porte B", "3e étage, porte
# gauche" (callers and their SMS give them with the address). And "étage" is a floor, never an
# "étagère" heard wrong.
_DOOR_CODES = frozenset({"code", "digicode"})
_DOOR_SIDES = frozenset({"gauche", "droite", "face", "fond", "paliere"})
_FLOORS = frozenset({"etage", "etages"})
# What makes "porte" a door to collect ("une porte palière", "la porte A").
_DOOR_DETERMINERS = QUANTITY_CUES | {"la", "le", "l", "les", "cette", "ces", "notre", "ta", "sa"}


def access_detail(
    text: str, tokens: Sequence[Token], first: int, after: int, item: str, *, fuzzy: bool
) -> bool:
    """Whether the mention of `item` at tokens first..after (exclusive) is where the door is
    (« code porte », « porte B », « 3e étage ») rather than something to collect. `fuzzy`:
    the mention was a near-miss of the item's words."""
    if fuzzy and any(t.folded in _FLOORS for t in tokens[first:after]):
        return True
    if item != "porte" or after - first != 1:
        return False
    if first > 0 and tokens[first - 1].folded in _DOOR_CODES:
        return True
    if (
        first > 0
        and (tokens[first - 1].folded in _DOOR_DETERMINERS or tokens[first - 1].is_digits)
        and not text[tokens[first - 1].end : tokens[first].start].strip()
    ):
        # "une porte palière", "deux portes 2 battants", "la porte A": a door to collect.
        return False
    if after >= len(tokens) or text[tokens[after - 1].end : tokens[after].start].strip():
        return False  # "une porte, 2 chaises": the list goes on
    nxt = tokens[after]
    elided = text[nxt.end : nxt.end + 1] in ("'", "’")  # "porte d'entrée"
    # One letter ("porte B"; not "à", "y"), a number, a side.
    return (
        (
            (len(nxt.folded) == 1 and nxt.folded.isalpha() and nxt.folded not in ("a", "y"))
            and not elided
        )
        or nxt.is_digits
        or nxt.folded in _DOOR_SIDES
    )
