"""Départements outside the territory, as callers name them (« dans le Var », « dans les
Alpes-de-Haute-Provence »): the caller's place, weighed against the rest of what was said
(`domain.place_evidence`)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.address_models import PlaceEvidence
from domain.numbers import Token

__all__ = ["departments_named", "other_department"]

# Départements near the territory (name, number), as callers name them: the caller is outside
# whatever street name they give, unless they also name a place inside.
_OTHER_DEPARTMENTS = {
    ("var",): ("Var", "83"),
    ("vaucluse",): ("Vaucluse", "84"),
    ("gard",): ("Gard", "30"),
    ("alpes", "de", "haute", "provence"): ("Alpes-de-Haute-Provence", "04"),
    ("hautes", "alpes"): ("Hautes-Alpes", "05"),
    ("alpes", "maritimes"): ("Alpes-Maritimes", "06"),
    ("herault",): ("Hérault", "34"),
    ("drome",): ("Drôme", "26"),
    ("ardeche",): ("Ardèche", "07"),
}
# Whisper's spelling of a département's name where the spoken words are the same and the
# spelling names nothing a caller would be « dans le » (audio corpus 9898, never read: « Ausez,
# dans le gars » for « à Uzès, dans le Gard », an outside caller booked in Marseille at 0.99).
# Only after « dans le »: « le gars » alone is a man.
_HEARD_AFTER_DANS_LE: dict[tuple[str, ...], tuple[str, str]] = {("gars",): ("Gard", "30")}
_DEPARTMENT_ARTICLES = frozenset({("dans", "le"), ("dans", "la"), ("dans", "les"), ("dans", "l")})
# Every département called « les Alpes… » is outside the territory: « dans les Alpes »
# names the caller's place even when the rest is garbled (« dans les Alpes d'autres
# provinces », audio corpus 9393: a caller of Digne-les-Bains booked in Marseille at 1.0).
_ALPES = "alpes"


def other_department(tokens: Sequence[Token], i: int) -> tuple[str, str, int] | None:
    """(name, number, end) of a département outside the territory named at token i after
    « dans le / la / les / l' » or « en »."""
    before = tuple(t.folded for t in tokens[max(0, i - 2) : i])
    if before not in _DEPARTMENT_ARTICLES and before[-1:] != ("en",):
        return None
    named = _named_at(tokens, i, _OTHER_DEPARTMENTS)
    if named is None and before == ("dans", "le"):
        named = _named_at(tokens, i, _HEARD_AFTER_DANS_LE)
    if named is not None:
        return named
    if tokens[i].folded == _ALPES and before == ("dans", "les"):
        return "les Alpes", "", i + 1
    return None


def _named_at(
    tokens: Sequence[Token], i: int, names: dict[tuple[str, ...], tuple[str, str]]
) -> tuple[str, str, int] | None:
    for form, (name, number) in names.items():
        if tuple(t.folded for t in tokens[i : i + len(form)]) == form:
            return name, number, i + len(form)
    return None


def departments_named(
    found: list[tuple[str, str, int, int]], evidence: Sequence[PlaceEvidence]
) -> list[PlaceEvidence]:
    """The départements named, as evidence beside the rest: outside, unless the caller also
    named a place of the territory. A commune or postcode of the territory in that
    département (Pertuis, 84120, « dans le Vaucluse ») agrees with it; any other place said
    makes it a doubt, never a reason to send the caller away (« je déménage dans l'Hérault,
    j'habite au 12 rue Paradis, 13006 Marseille »): kind "unheard", booked by no one
    blindly."""
    places = [e for e in evidence if e.kind in ("commune", "postcode", "arrondissement")]
    out = []
    for name, number, start, end in found:
        if number and any(
            e.kind in ("commune", "postcode") and e.value.startswith(number) for e in places
        ):
            continue
        kind = "unheard" if places else "outside"
        out.append(PlaceEvidence(kind, "", start, end, name))
    return out
