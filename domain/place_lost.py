"""Places the caller said and the transcription lost or garbled: « à » before the next
clause, a name no list knows that sounds like a commune outside, « à » glued to the name
(« Acavallons », « Asseante-Marie de la Mer »). domain.place_evidence gathers them with the
places heard as such; none is ever booked blindly, none sent out on a guess."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz

from domain.address_models import PlaceEvidence
from domain.numbers import Token, parse_cardinal, tokenize
from domain.understanding.item_takebacks import punctuated
from domain.understanding.territory import MISHEARD_NAME_RATIO, Commune, Territory


def name_forms(communes: Sequence[Commune]) -> dict[tuple[str, ...], Commune]:
    return {tuple(t.folded for t in tokenize(c.name)): c for c in communes}


# What follows « à » when the transcription lost the place it introduced: the next clause
# (« à je voudrais », « à c'est pour », « à merci »).
_CLAUSE_STARTS = frozenset({"je", "j", "merci", "c"})


def places_lost(tokens: Sequence[Token]) -> list[PlaceEvidence]:
    """« … rue de la Capitale, à je voudrais … »: a place was said and lost; whatever it was
    (an outside commune?) cannot be checked against the address found (kind "unheard")."""
    return [
        PlaceEvidence("unheard", "", tok.start, tokens[i + 1].end)
        for i, tok in enumerate(tokens[:-1])
        if tok.text.lower() == "à"
        and tokens[i + 1].folded in _CLAUSE_STARTS
        and (tokens[i + 1].folded != "c" or (i + 2 < len(tokens) and tokens[i + 2].folded == "est"))
    ]


# « 15 places de la Marie. À tout l'un, je voudrais … » (à Toulon; audio corpus 5757, booked
# in Marseille at 0.987): « à » and at most this many words, up to a punctuation mark, that no
# list knows and that sound like an outside commune more than like anything inside
# (`Territory.sounds_outside`), of at least this many letters (« à tous, » is no place). No
# address cue says these words are a place, so their sound must be closer than a city's after
# « j'habite à » (« à l'intérieur, » is 67 from Verquières; « À tout l'un, » 75 from Toulon).
_UNKNOWN_PLACE_WORDS = 3
_UNKNOWN_PLACE_LETTERS = 6
_UNKNOWN_PLACE_RATIO = 70
# « aux Baux-de-Provence » heard « ou beau de provoci » (audio corpus 7979, booked in
# Marseille at 0.999).
_UNKNOWN_PLACE_INTRODUCERS = frozenset({"à", "aux", "ou"})
# First words of « à … » phrases that name no place (« à ma fille », « à part ça », « à moins
# que »).
_NOT_A_PLACE = frozenset(
    {
        *("ma", "mon", "mes", "ta", "ton", "tes", "sa", "son", "ses", "notre", "nos", "votre"),
        *("vos", "leur", "leurs", "ce", "cet", "cette", "ces", "part", "moins", "peu", "cause"),
        *("propos", "tous", "toutes", "chaque", "quelle", "quel"),
    }
)


def places_unknown(text: str, tokens: Sequence[Token], territory: Territory) -> list[PlaceEvidence]:
    """« …, à Tout l'un, … »: a place said and garbled, closer to an outside commune than to
    the territory; lost, like `places_lost`'s (kind "unheard": never booked blindly, never
    sent out on a guess)."""
    found: list[PlaceEvidence] = []
    for i, tok in enumerate(tokens):
        if (
            tok.text.lower() not in _UNKNOWN_PLACE_INTRODUCERS
            or i + 1 >= len(tokens)
            or punctuated(text, tokens, i + 1)
            # A clause of its own (« …. À tout l'un, »), not a noun's complement (« un vélo à
            # pédales », « merci à tout le monde »).
            or (i > 0 and not punctuated(text, tokens, i))
        ):
            continue
        end = i + 2
        while (
            end < len(tokens)
            and end - i <= _UNKNOWN_PLACE_WORDS
            and not punctuated(text, tokens, end)
        ):
            end += 1
        words = [t.folded for t in tokens[i + 1 : end]]
        if (
            # More words than a place's before the next punctuation mark.
            (end < len(tokens) and not punctuated(text, tokens, end))
            or words[0] in _CLAUSE_STARTS
            or words[0] in _NOT_A_PLACE
            or words == ["tout", "le", "monde"]
            # A number is an address's (« à 3 rues d'ici »); « l'un » is no number.
            or any(
                t.is_digits or (parse_cardinal(t.text) is not None and t.folded != "un")
                for t in tokens[i + 1 : end]
            )
            or len("".join(words)) < _UNKNOWN_PLACE_LETTERS
            or territory.find_commune(list(tokens), i + 1) is not None
        ):
            continue
        if territory.sounds_outside(" ".join(words), _UNKNOWN_PLACE_RATIO):
            found.append(PlaceEvidence("unheard", "", tok.start, tokens[end - 1].end))
    return found


# Whisper writes « à Cavaillon » as one word (« Acavallons »; « Amarseille »): audio corpus
# 5757, an outside caller booked at 0.999 in Marseille. The name after the « a » is this
# close to a commune's (letters, as `_misheard_outside`), and closer than to any of the other
# list; the word itself no commune (« Aubagne », « Avignon »).
_GLUED_SHORTEST = 6
_NAME_OF = frozenset({"d", "de", "du", "des"})


def glued_places(
    tokens: Sequence[Token], territory: Territory, outside_forms: dict[tuple[str, ...], Commune]
) -> list[PlaceEvidence]:
    """« …, avanie de l'île. Acavallons, c'est pour … »: a place said and misspelled in one
    word with its « à ». One outside is a place lost (kind "unheard": never booked blindly,
    never sent out on a guess); one inside is "misheard" (confirmed there, a conflict
    elsewhere)."""
    inside = {" ".join(f): c for f, c in name_forms(territory.communes).items()}
    outside = {" ".join(f): c for f, c in outside_forms.items()}
    found: list[PlaceEvidence] = []
    for i, tok in enumerate(tokens):
        word = tok.folded
        if (
            i == 0
            or len(word) <= _GLUED_SHORTEST
            or not word.startswith("a")
            # « rue d'Aubagnes »: a name of the street, not a place said.
            or tokens[i - 1].folded in _NAME_OF
            or territory.find_commune(list(tokens), i) is not None
        ):
            continue
        best_in = _closest(word[1:], inside)
        best_out = _closest(word[1:], outside)
        # « Aubagnes », « Avignons »: a commune starting with « A », misspelled as a whole.
        if max(_closest(word, inside)[0], _closest(word, outside)[0]) >= max(
            best_in[0], best_out[0]
        ):
            continue
        if best_out[0] >= MISHEARD_NAME_RATIO and best_out[0] > best_in[0]:
            found.append(PlaceEvidence("unheard", "", tok.start, tok.end))
        elif best_in[0] >= MISHEARD_NAME_RATIO and best_in[0] > best_out[0]:
            commune = inside[best_in[1]]
            found.append(
                PlaceEvidence("misheard", commune.citycode, tok.start, tok.end, commune.name)
            )
    return found


# « Asseante-Marie de la Mer » for « à Saintes-Maries-de-la-Mer » (audio corpus 9797, never
# read: booked in Marseille at 1.0): the « à » glued to the first word of a name of several
# words. The clause's words up to the next punctuation mark, the « a » taken off, sound like
# an outside commune more than like anything inside; with no « à » standing alone to say
# they are a place, closer than `_UNKNOWN_PLACE_RATIO` asks.
_GLUED_PHRASE_WORDS = 5
_GLUED_PHRASE_RATIO = 80
_GLUED_PHRASE_FIRST = 4  # letters of the first word, its « a » with them


def glued_phrases(text: str, tokens: Sequence[Token], territory: Territory) -> list[PlaceEvidence]:
    """« …, place de la Marie, Asseante-Marie de la Mer. »: a place of several words said
    and misspelled, its « à » glued to the first (kind "unheard": never booked blindly)."""
    found: list[PlaceEvidence] = []
    for i, tok in enumerate(tokens):
        if (
            not punctuated(text, tokens, i)
            or not tok.folded.startswith("a")
            or len(tok.folded) < _GLUED_PHRASE_FIRST
            or territory.find_commune(list(tokens), i) is not None
        ):
            continue
        end = i + 1
        while (
            end < len(tokens)
            and end - i < _GLUED_PHRASE_WORDS
            and not punctuated(text, tokens, end)
        ):
            end += 1
        # One word is `glued_places`'; more than a place's up to the punctuation, a clause.
        if end == i + 1 or (end < len(tokens) and not punctuated(text, tokens, end)):
            continue
        phrase = " ".join([tok.folded[1:], *(t.folded for t in tokens[i + 1 : end])])
        if territory.sounds_outside(phrase, _GLUED_PHRASE_RATIO):
            found.append(PlaceEvidence("unheard", "", tok.start, tokens[end - 1].end))
    return found


def _closest(said: str, names: dict[str, Commune]) -> tuple[float, str]:
    # Letters only: by their sounds « faire amasser » (ramasser) is « à Marseille ».
    return max(((fuzz.ratio(said, n), n) for n in names), default=(0.0, ""))
