"""The locality of an address: the postcode, the arrondissement, the commune of the territory
or another city said near the street, and how they fill the address."""

from __future__ import annotations

from rapidfuzz import fuzz

from domain.geotext import fold, phonetic
from domain.models import SpokenAddress
from domain.numbers import NumberSpan, Token, find_postcodes, number_or_word_of
from domain.understanding.lexicon import SENTENCE_END
from domain.understanding.streets import gap, hard_break
from domain.understanding.territory import Commune, Territory

# (postcode, arrondissement, commune of the territory, other city named)
Locality = tuple[str, int | None, Commune | None, str]


def sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    start = max((m.end() for m in SENTENCE_END.finditer(text, 0, pos)), default=0)
    end_match = SENTENCE_END.search(text, pos)
    return start, end_match.start() + 1 if end_match else len(text)


def _spans_within(spans: list[NumberSpan], start_char: int, end_char: int) -> list[NumberSpan]:
    """The number spans between two offsets, with offsets relative to the first."""
    return [
        NumberSpan(
            s.start - start_char,
            s.end - start_char,
            s.value,
            s.digits,
            s.spoken,
            s.first_token,
            s.last_token,
        )
        for s in spans
        if start_char <= s.start and s.end <= end_char
    ]


# Before a noun, never before a place's name (« un salon de jardin »).
_ARTICLES = frozenset(
    {"un", "une", "le", "les", "des", "du", "au", "mon", "ma", "mes", "son", "sa"}
)
# Words that begin a sentence, never a place's name: « Christine Roux à Je suis au … » is
# « à l'appareil » lost, not a city named « Je ».
_NO_PLACE = frozenset(
    {"je", "j", "il", "elle", "on", "nous", "vous", "ils", "elles", "c", "ce", "ca", "mon", "ma"}
)


def _letter(tokens: list[Token], j: int) -> bool:
    """Token j is a single letter, as in a spelled word."""
    return 0 <= j < len(tokens) and len(tokens[j].text) == 1 and tokens[j].text.isalpha()


# Whisper lowercases a commune it cannot spell (« le 3 place Castellane à l'ascensionner, »
# for « à la Seyne-sur-Mer ») and writes « à Saint-… » as « assez » (« 29 place de la Marie,
# …, assez en dehors, » for « à Saint-Andiol »): audio corpus 9595, the three callers from
# outside it booked in Marseille at 0.99 and more. After a street, « à » (or « assez » opening
# a clause) then a few words up to a punctuation mark that name nothing known, are no word
# of a request and sound like no place inside, are a place said: unrecognised, so the
# address is never booked blindly (activities/geo/resolver.py).
GARBLED_PLACE_OPENERS = ("à", "assez")
_GARBLED_PLACE_WORDS = 4
# Sounds (geotext.phonetic) this close to the main city's are its name misheard: « mancer »
# 67, « ma ceil » 80; « la seyne » (la Seyne-sur-Mer, outside) 60.
_MAIN_CITY_SOUND_RATIO = 65
_GARBLED_PLACE_LETTERS = 6
_SAINT_RATIO = 65
# Articles that may start a place's name (« à la Seyne », « à l'Estaque »).
_ARTICLES_OF_NAMES = frozenset({"la", "le", "les", "l"})
# First words of « à … » / « assez … » that name no place: where in the building or the
# street, when, how, and the verbs of a request (« à jeter », « assez rapidement »).
_NOT_A_PLACE = frozenset(
    {
        *("cote", "gauche", "droite", "angle", "proximite", "partir", "peu", "moins", "cause"),
        *("part", "tous", "toutes", "monde", "suite", "etage", "interieur", "exterieur", "fond"),
        *("bout", "bientot", "tres", "heure", "heures", "prochain", "prochaine", "semaine"),
        *("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "maison"),
        *("porte", "entree", "sortie", "arriere", "avant", "cave", "interphone", "residence"),
        *("cite", "immeuble", "appartement", "attention", "conciergerie", "gardien", "poubelle"),
        *("dechetterie", "decheterie", "retraite", "hopital", "retirer", "evacuer", "emmener"),
        *("rappeler", "deposer", "recycler", "manger", "coudre", "repasser", "coucher"),
        *("adresse", "habituelle", "encombrant", "encombrants", "meme"),
        *("coin", "pied", "hauteur", "niveau", "domicile", "jeter", "enlever", "debarrasser"),
        *("recuperer", "ramasser", "prendre", "emporter", "vider", "donner", "faire", "venir"),
        *("passer", "demain", "midi", "vite", "rapidement", "urgent", "grand", "grande", "gros"),
        *("grosse", "lourd", "lourde", "souvent", "tot", "tard", "bien", "loin", "pres", "long"),
        *("longue", "un", "une", "des", "mon", "ma", "mes", "votre", "vos", "ce", "cette"),
        *("ces", "nous", "vous", "moi", "lui", "eux", "quelle", "quel", "chaque", "propos"),
    }
)


# What may stand between the street and a place garbled after it: the building, the floor
# (« place de la Marie, bâtiment des. Au septième étage, assez en dehors »), no more than
# this many characters. Further on, « à » is the request's (« … un sac de bronchage, à
# ferron ver » for « à faire enlever », same corpus).
_NEAR_STREET_CHARS = 60
_BUILDING_WORDS = frozenset(
    {
        *("batiment", "bat", "escalier", "etage", "residence", "appartement", "porte", "numero"),
        *("au", "a", "de", "des", "du", "la", "le", "l", "d", "bis", "ter", "euh", "rez"),
        *("chaussee", "code", "interphone"),
    }
)


def near_street(tokens: list[Token], after: int, i: int) -> bool:
    """Whether token i follows the street (ending at character `after`) with nothing but the
    building and the floor between them."""
    if tokens[i].start - after > _NEAR_STREET_CHARS:
        return False
    return all(number_or_word_of(t, _BUILDING_WORDS) for t in tokens[:i] if t.start >= after)


def garbled_city(
    text: str,
    tokens: list[Token],
    i: int,
    end_char: int,
    territory: Territory,
    *,
    in_name: bool = False,
) -> str | None:
    """A place said after the street and lost to the transcription, from token i (« à » or
    « assez »), as heard; None when the words are anything else."""
    word = tokens[i].text.lower()
    if word == "assez":
        # « assez » for « à Saint »: only where a clause starts, never « c'est assez lourd »
        # (a street's name that took it in has none: `in_name`).
        if i == 0 or not (in_name or hard_break(gap(text, tokens, i - 1, i))):
            return None
    elif word != "à" or i + 1 >= len(tokens):
        return None
    else:
        # Whisper writes the names it knows with a capital (« à la Busserine », « à Toulon »:
        # `_other_city`); its garble of one it does not, in lower case.
        first = next((t for t in tokens[i + 1 : i + 3] if t.folded not in _ARTICLES_OF_NAMES), None)
        if first is None or not first.text[:1].islower():
            return None
    j = i + 1
    while (
        j < len(tokens)
        and tokens[j].end <= end_char
        and j - i <= _GARBLED_PLACE_WORDS
        and not hard_break(gap(text, tokens, j - 1, j))
    ):
        j += 1
    words = tokens[i + 1 : j]
    ends = j >= len(tokens) or tokens[j].end > end_char or hard_break(gap(text, tokens, j - 1, j))
    if (
        not words
        or not ends
        or words[0].folded in _NOT_A_PLACE
        or words[0].folded in _NO_PLACE
        or any(not t.text.isalpha() or t.folded in _NOT_A_PLACE for t in words)
        or len("".join(t.folded for t in words)) < _GARBLED_PLACE_LETTERS
        or territory.find_commune(tokens, i + 1) is not None
        or territory.find_quartier(tokens, i + 1) is not None
    ):
        return None
    name = " ".join(t.folded for t in words)
    if territory.sounds_inside(name if word == "à" else f"saint {name}"):
        return None
    if word == "assez" and territory.outside_likeness(f"saint {name}", "saint") < _SAINT_RATIO:
        # « Assez pressé », « assez volumineux »: no Saint-… of outside (« saint en dehors »,
        # Saint-Andiol, 71; « saint pressé » 60 at best).
        return None
    main = phonetic(fold(territory.main_city.name))
    if word == "à" and fuzz.ratio(phonetic(name), main) >= _MAIN_CITY_SOUND_RATIO:
        # « à mancer ? » for « à Marseille » (same corpus, 67): the main city, misheard.
        return None
    return text[words[0].start : words[-1].end]


def _other_city(
    text: str, tokens: list[Token], i: int, end_char: int, territory: Territory
) -> str | None:
    """ "à Toulon" at token i: a city outside the territory is still worth reporting."""
    if not (
        tokens[i].folded == "a"
        and i + 1 < len(tokens)
        and tokens[i + 1].text[:1].isupper()
        and tokens[i + 1].folded not in _NO_PLACE
        and not territory.find_commune(tokens, i + 1)
    ):
        return None
    if tokens[i].text.lower() != "à" and (
        (_letter(tokens, i - 1) and _letter(tokens, i + 1))
        or (_letter(tokens, i + 1) and _letter(tokens, i + 2))
    ):
        # « Martial, M A R T I A L »: an A among spelled letters, no « à » before a city.
        return None
    words = []
    j = i + 1
    while (
        j < len(tokens)
        and tokens[j].end <= end_char
        and (
            tokens[j].text[:1].isupper()
            or tokens[j].folded in ("sur", "en", "de", "la", "le", "les")
        )
        and not hard_break(gap(text, tokens, j - 1, j))
    ):
        words.append(j)
        j += 1
    if words and tokens[words[0]].folded not in ("la", "le", "les"):
        quartier = territory.find_quartier(tokens, words[0])
        if quartier is not None and quartier[1] == words[-1] + 1:
            # "à Saint-Henri": the whole name is a quartier of the main city, no commune.
            return None
        return text[tokens[words[0]].start : tokens[words[-1]].end]
    return None


def locality(
    text: str,
    tokens: list[Token],
    start_char: int,
    end_char: int,
    spans: list[NumberSpan],
    territory: Territory,
    *,
    introduced_only: bool = False,
    after_street: bool = False,
) -> Locality:
    """(postcode, arrondissement, commune, other city) said between two offsets.

    `introduced_only`: with no street to anchor on, a city counts only when introduced as a
    place ("à Aubagne", "sur Marseille"), not whenever it is named ("la déchèterie de
    Marseille"). `after_street`: the words follow the street, where « à » opens a place even
    when the transcription garbled it (`garbled_city`)."""
    window = text[start_char:end_char]
    local_spans = _spans_within(spans, start_char, end_char)
    postcodes = [
        p.postcode
        for p in find_postcodes(
            window, in_address=True, spans=local_spans, districts=territory.districts
        )
    ]
    # A transcription can turn other numbers into a plausible postcode ("dix cent" → 10100);
    # one of the territory's own postcodes is the better bet.
    postcodes.sort(key=lambda p: not territory.in_territory(p))
    postcode = postcodes[0] if postcodes else ""
    arrondissement = territory.find_arrondissement(window, in_address=True)
    commune: Commune | None = None
    other = garbled = ""
    for i, tok in enumerate(tokens):
        if tok.start < start_char or tok.end > end_char:
            continue
        found = territory.find_commune(tokens, i)
        if found and not (introduced_only and (i == 0 or tokens[i - 1].folded not in ("a", "sur"))):
            if (
                i > 0
                and tokens[i - 1].folded in _ARTICLES
                and found[1] == i + 1
                and tok.text[:1].islower()
            ):
                # « me débarrasser d'un salon de jardin »: a noun in lower case after its
                # article is an item, not Salon-de-Provence (« le Plan-de-Cuques » is a name).
                continue
            commune = found[0]
            break
        misheard = territory.misheard_commune_after(text, tokens, i)
        if misheard is not None and tokens[misheard[1] - 1].end <= end_char:
            commune = misheard[0]
            break
        city = _other_city(text, tokens, i, end_char, territory)
        if (
            city is None
            and after_street
            and not garbled
            and tok.text.lower() in GARBLED_PLACE_OPENERS
            and near_street(tokens, start_char, i)
        ):
            # Kept only if nothing known is said after it (« à la savine, Marseille »).
            garbled = garbled_city(text, tokens, i, end_char, territory) or ""
        if city is not None:
            other = city
            break
    return postcode, arrondissement, commune, other or garbled


def locality_after(
    text: str, tokens: list[Token], after: int, numbers: list[NumberSpan], territory: Territory
) -> Locality:
    """The locality that follows offset `after` in the same sentence, or in the next one
    ("... Rue Julia. Treize mille cinq Marseille.")."""
    _, end = sentence_bounds(text, after)
    _, end_next = sentence_bounds(text, min(end + 1, len(text)))
    found = locality(text, tokens, after, end, numbers, territory, after_street=True)
    if not any(found):
        found = locality(text, tokens, after, end_next, numbers, territory, after_street=True)
    return found


def fill_locality(
    address: SpokenAddress, found: Locality, notes: list[str], territory: Territory
) -> None:
    postcode, arrondissement, commune, other_city = found
    main = territory.main_city
    from_postcode = territory.arrondissement_of_postcode(postcode) if postcode else None
    if from_postcode is not None:
        address.postcode, address.citycode = territory.arrondissement_codes(from_postcode)
        address.city = main.name
        if arrondissement and arrondissement != from_postcode:
            notes.append(
                f"code postal {postcode} et {arrondissement}e arrondissement incohérents :"
                " le code postal est retenu"
            )
        return
    if postcode and postcode == territory.generic_postcode:
        # The generic "13000 Marseille" names no arrondissement.
        postcode = ""
        commune = commune or main
        notes.append(f"code postal {territory.generic_postcode} : arrondissement inconnu")
    if arrondissement and (commune is None or commune == main) and not postcode:
        address.postcode, address.citycode = territory.arrondissement_codes(arrondissement)
        address.city = main.name
        return
    if postcode:
        _fill_from_postcode(address, postcode, commune, other_city, notes, territory)
        return
    if commune is not None:
        address.city = commune.name
        if not territory.is_divided(commune):
            address.citycode = commune.citycode
            if len(commune.postcodes) == 1:
                address.postcode = commune.postcodes[0]
        else:
            notes.append(f"{commune.name} sans arrondissement ni code postal")
        return
    if other_city:
        address.city = other_city
        notes.append(f"commune « {other_city} » hors de la liste de la métropole")


def _fill_from_postcode(
    address: SpokenAddress,
    postcode: str,
    commune: Commune | None,
    other_city: str,
    notes: list[str],
    territory: Territory,
) -> None:
    address.postcode = postcode
    candidates = territory.communes_for_postcode(postcode)
    if commune is not None and commune in candidates:
        candidates = [commune]
    if len(candidates) == 1:
        address.citycode, address.city = candidates[0].citycode, candidates[0].name
    elif commune is not None:
        address.city = commune.name
        notes.append(f"le code postal {postcode} ne correspond pas à {commune.name}")
    elif candidates:
        notes.append(f"code postal {postcode} partagé par plusieurs communes")
    elif other_city:
        address.city = other_city
