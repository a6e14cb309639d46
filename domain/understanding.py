"""Rule-based understanding of a French voicemail (or SMS) about bulky-waste pickup.

`understand()` turns a transcript into an `Understanding`: intent, address as heard, items and
their counts, caller name and callback number, with a confidence that says how complete the
extraction is and `notes` that tell an agent what was guessed. No LLM, no I/O: the catalogue is
passed in.

Whisper transcripts mix numbers in words and digits, drop or add punctuation and misspell
names; every rule here accepts both forms and prefers to leave a field empty over inventing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rapidfuzz import fuzz, process

from domain.address_models import ItemSlot
from domain.catalogue import Catalogue, ItemMention
from domain.models import Intent, ItemCount, SpokenAddress, Understanding
from domain.numbers import (
    HOUSE_SUFFIXES,
    NUMBER_WORDS,
    NumberSpan,
    PhoneSpan,
    Token,
    find_arrondissement,
    find_numbers,
    find_ordinals,
    find_phone_numbers,
    find_postcodes,
    fold,
    marseille_codes,
    tokenize,
)
from domain.phone import is_mobile_fr, to_e164

__all__ = ["COMMUNES", "STREET_TYPES", "Commune", "find_commune", "understand"]


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class Commune:
    citycode: str  # INSEE
    name: str
    postcodes: tuple[str, ...]


# The 92 communes of the Aix-Marseille-Provence métropole (INSEE COG, La Poste). Small and
# stable enough to live in code; it lets "à Aubagne" or "13400" give a citycode without I/O.
_COMMUNE_ROWS = (
    ("13001", "Aix-en-Provence", "13080 13090 13100 13290 13540"),
    ("13002", "Allauch", "13190"),
    ("13003", "Alleins", "13980"),
    ("13005", "Aubagne", "13400"),
    ("13007", "Auriol", "13390"),
    ("13008", "Aurons", "13121"),
    ("13009", "La Barben", "13330"),
    ("13012", "Beaurecueil", "13100"),
    ("13013", "Belcodène", "13720"),
    ("13014", "Berre-l'Étang", "13130"),
    ("13015", "Bouc-Bel-Air", "13320"),
    ("13016", "La Bouilladisse", "13720"),
    ("13019", "Cabriès", "13480"),
    ("13020", "Cadolive", "13950"),
    ("13021", "Carry-le-Rouet", "13620"),
    ("13022", "Cassis", "13260"),
    ("13023", "Ceyreste", "13600"),
    ("13024", "Charleval", "13350"),
    ("13025", "Châteauneuf-le-Rouge", "13790"),
    ("13026", "Châteauneuf-les-Martigues", "13220"),
    ("13028", "La Ciotat", "13600"),
    ("13029", "Cornillon-Confoux", "13250"),
    ("13030", "Cuges-les-Pins", "13780"),
    ("13031", "La Destrousse", "13112"),
    ("13032", "Éguilles", "13510"),
    ("13033", "Ensuès-la-Redonne", "13820"),
    ("13035", "Eyguières", "13430"),
    ("13037", "La Fare-les-Oliviers", "13580"),
    ("13039", "Fos-sur-Mer", "13270"),
    ("13040", "Fuveau", "13710"),
    ("13041", "Gardanne", "13120"),
    ("13042", "Gémenos", "13420"),
    ("13043", "Gignac-la-Nerthe", "13180"),
    ("13044", "Grans", "13450"),
    ("13046", "Gréasque", "13850"),
    ("13047", "Istres", "13118 13800"),
    ("13048", "Jouques", "13490"),
    ("13049", "Lamanon", "13113"),
    ("13050", "Lambesc", "13410"),
    ("13051", "Lançon-Provence", "13680"),
    ("13053", "Mallemort", "13370"),
    ("13054", "Marignane", "13700"),
    ("13055", "Marseille", ""),
    ("13056", "Martigues", "13117 13500"),
    ("13059", "Meyrargues", "13650"),
    ("13060", "Meyreuil", "13590"),
    ("13062", "Mimet", "13105"),
    ("13063", "Miramas", "13140"),
    ("13069", "Pélissanne", "13330"),
    ("13070", "La Penne-sur-Huveaune", "13821"),
    ("13071", "Les Pennes-Mirabeau", "13170"),
    ("13072", "Peynier", "13790"),
    ("13073", "Peypin", "13124"),
    ("13074", "Peyrolles-en-Provence", "13860"),
    ("13075", "Plan-de-Cuques", "13380"),
    ("13077", "Port-de-Bouc", "13110"),
    ("13078", "Port-Saint-Louis-du-Rhône", "13230"),
    ("13079", "Puyloubier", "13114"),
    ("13080", "Le Puy-Sainte-Réparade", "13610"),
    ("13081", "Rognac", "13340"),
    ("13082", "Rognes", "13840"),
    ("13084", "La Roque-d'Anthéron", "13640"),
    ("13085", "Roquefort-la-Bédoule", "13830"),
    ("13086", "Roquevaire", "13360"),
    ("13087", "Rousset", "13790"),
    ("13088", "Le Rove", "13740"),
    ("13090", "Saint-Antonin-sur-Bayon", "13100"),
    ("13091", "Saint-Cannat", "13760"),
    ("13092", "Saint-Chamas", "13250"),
    ("13093", "Saint-Estève-Janson", "13610"),
    ("13095", "Saint-Marc-Jaumegarde", "13100"),
    ("13098", "Saint-Mitre-les-Remparts", "13920"),
    ("13099", "Saint-Paul-lès-Durance", "13115"),
    ("13101", "Saint-Savournin", "13119"),
    ("13102", "Saint-Victoret", "13730"),
    ("13103", "Salon-de-Provence", "13300"),
    ("13104", "Sausset-les-Pins", "13960"),
    ("13105", "Sénas", "13560"),
    ("13106", "Septèmes-les-Vallons", "13240"),
    ("13107", "Simiane-Collongue", "13109"),
    ("13109", "Le Tholonet", "13100"),
    ("13110", "Trets", "13530"),
    ("13111", "Vauvenargues", "13126"),
    ("13112", "Velaux", "13880"),
    ("13113", "Venelles", "13770"),
    ("13114", "Ventabren", "13122"),
    ("13115", "Vernègues", "13116"),
    ("13117", "Vitrolles", "13127"),
    ("13118", "Coudoux", "13111"),
    ("13119", "Carnoux-en-Provence", "13470"),
    ("83120", "Saint-Zacharie", "83640"),
    ("84089", "Pertuis", "84120"),
)
COMMUNES: tuple[Commune, ...] = tuple(
    Commune(code, name, tuple(postcodes.split())) for code, name, postcodes in _COMMUNE_ROWS
)
MARSEILLE = next(c for c in COMMUNES if c.name == "Marseille")

# How callers shorten the longer names.
_COMMUNE_ALIASES = {
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


def _words(text: str) -> tuple[str, ...]:
    return tuple(t.folded for t in tokenize(text))


_COMMUNE_FORMS: dict[tuple[str, ...], Commune] = {_words(c.name): c for c in COMMUNES}
_COMMUNE_FORMS.update(
    {
        _words(alias): next(c for c in COMMUNES if c.name == name)
        for alias, name in _COMMUNE_ALIASES.items()
    }
)
_COMMUNE_FIRST_WORDS = {form[0] for form in _COMMUNE_FORMS}
_MAX_COMMUNE_WORDS = max(len(form) for form in _COMMUNE_FORMS)


def find_commune(tokens: list[Token], i: int) -> tuple[Commune, int] | None:
    """(commune, end token) when a commune of the métropole is named from token i."""
    if i >= len(tokens):
        return None
    if tokens[i].folded not in _COMMUNE_FIRST_WORDS:
        # "Marseilles", "Marsaille" and other transcriptions of the main city.
        word = tokens[i].folded
        if len(word) >= 7 and word.startswith("mars") and fuzz.ratio(word, "marseille") >= 80:
            return MARSEILLE, i + 1
        return None
    for n in range(min(_MAX_COMMUNE_WORDS, len(tokens) - i), 0, -1):
        form = tuple(t.folded for t in tokens[i : i + n])
        if form in _COMMUNE_FORMS:
            return _COMMUNE_FORMS[form], i + n
    return None


def _in_territory(postcode: str) -> bool:
    return (
        postcode == "13000"
        or bool(re.fullmatch(r"130(0[1-9]|1[0-6])", postcode))
        or any(postcode in c.postcodes for c in COMMUNES)
    )


def _communes_for_postcode(postcode: str) -> list[Commune]:
    return [c for c in COMMUNES if postcode in c.postcodes]


# Street types as the BAN writes them. Folded spoken form → written form.
STREET_TYPES: dict[str, str] = {
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
_TWO_WORD_TYPES = {("rond", "point"): "Rond-Point", ("lieu", "dit"): "Lieu-dit"}
# Types that are also everyday words ("sur place", "en cours", "en route", "de passage"):
# trusted only with a house number before them or a proper name after them.
_AMBIGUOUS_TYPES = frozenset(
    {
        "place",
        "cours",
        "route",
        "passage",
        "parc",
        "domaine",
        "voie",
        "plateau",
        "pont",
        "clos",
        "villa",
        "residence",
        "cite",
        "escalier",
        "escaliers",
        "promenade",
        "rampe",
        "carrefour",
        "sentier",
        "tunnel",
        "digue",
    }
)
_PARTICLES = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "a", "au", "aux", "et"})
# Words that end a street name: the rest of the sentence has started.
_NAME_STOPS = frozenset(
    {
        "dans",
        "pour",
        "je",
        "j",
        "nous",
        "on",
        "il",
        "elle",
        "ils",
        "vous",
        "c",
        "ce",
        "ca",
        "qui",
        "que",
        "qu",
        "mais",
        "car",
        "parce",
        "puis",
        "alors",
        "donc",
        "avec",
        "sans",
        "chez",
        "ou",
        "si",
        "code",
        "postal",
        "cedex",
        "merci",
        "bonjour",
        "svp",
        "batiment",
        "bat",
        "appartement",
        "appt",
        "etage",
        "quartier",
        "secteur",
        "arrondissement",
        "tel",
        "telephone",
        "numero",
        "portable",
        "mon",
        "ma",
        "mes",
        "ai",
        "suis",
        "voudrais",
        "souhaite",
        "aurais",
        "aimerais",
        "bis",
        "ter",
        "quater",
        "pres",
        "derriere",
        "devant",
        "juste",
        "vers",
        "en",
        "sur",
        "est",
    }
)
# Stops that are ordinary parts of names after a particle: "Rue de l'Est", "Rue de Marseille".
_STOP_UNLESS_AFTER_PARTICLE = frozenset({"est", "en", "sur", "marseille"})
_PRONOUNS_AFTER_ET = frozenset(
    {"je", "j", "nous", "on", "il", "elle", "c", "ca", "vous", "mon", "ma", "mes", "un", "une"}
)
_MAX_NAME_TOKENS = 10

_ADDRESS_CUES = re.compile(
    r"\b(?:j'?\s?habite|mon adresse|l'adresse|adresse|je suis au|je reside|je demeure|"
    r"domicilie|j'?\s?y suis|situe|c'est au|chez moi)\b"
)
_SENTENCE_END = re.compile(r"[.!?;]\s|[.!?]$|\n")


# --------------------------------------------------------------------------- address


@dataclass
class _Street:
    type_token: int
    name_end: int  # token index, exclusive
    display_type: str
    number: NumberSpan | None
    suffix: str
    score: float
    typed: bool = True
    guessed_type: bool = False


# Only long types are guessed from near-misses: short ones ("rue", "quai", "cours") are too
# close to ordinary words.
_ABBREVIATED_TYPES = frozenset({"bd", "bld", "bvd", "av"})
_GUESSABLE_TYPES = {k: v for k, v in STREET_TYPES.items() if len(k) >= 6}


def _guess_street_type(word: str) -> str | None:
    if len(word) < 6:
        return None
    choices = [k for k in _GUESSABLE_TYPES if k[0] == word[0]]
    best = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=85)
    return _GUESSABLE_TYPES[best[0]] if best else None


def _gap(text: str, tokens: list[Token], a: int, b: int) -> str:
    return text[tokens[a].end : tokens[b].start]


def _hard_break(gap: str) -> bool:
    """Punctuation that ends a street name. Apostrophes and hyphens belong to names."""
    return re.search(r"[,;:!?()\"«»]|\.(?:\s|$)", gap) is not None


def _street_name_end(
    text: str,
    tokens: list[Token],
    start: int,
    numbers_at: dict[int, NumberSpan],
    ordinals_at: dict[int, int],
) -> int:
    """Token index where the street name that starts at `start` stops."""
    j = start
    while j < len(tokens) and j - start < _MAX_NAME_TOKENS:
        if j > start and _hard_break(_gap(text, tokens, j - 1, j)):
            break
        f = tokens[j].folded
        prev = tokens[j - 1].folded if j > start else ""
        after_particle = prev in ("de", "du", "des", "d", "l")
        if j in numbers_at:
            # "Rue du 4 Septembre", "Route des Quatre Saisons": a number after a particle
            # is part of the name; anywhere else it is the postcode or the next sentence.
            if not after_particle or j == start:
                break
            j = numbers_at[j].last_token
            continue
        if j in ordinals_at:
            if not after_particle:
                break
            j = ordinals_at[j]
            continue
        if f in _NAME_STOPS and not (f in _STOP_UNLESS_AFTER_PARTICLE and after_particle):
            break
        if f in ("a",) or (f == "au" and j + 1 < len(tokens) and j + 1 in numbers_at):
            # "à Marseille", "à Aubagne" end the name; "Chemin du Merlan à La Rose" does not.
            nxt = tokens[j + 1].folded if j + 1 < len(tokens) else ""
            if f == "au" or find_commune(tokens, j + 1) or nxt not in ("la", "le", "les", "l"):
                break
        if f == "et" and j + 1 < len(tokens):
            nxt_tok = tokens[j + 1]
            if nxt_tok.folded in _PRONOUNS_AFTER_ET or j + 1 in numbers_at:
                break
        if find_commune(tokens, j) and not after_particle and j > start:
            break
        j += 1
    while j > start and tokens[j - 1].folded in _PARTICLES:
        j -= 1
    return j


def _number_before(
    text: str, tokens: list[Token], t: int, numbers_end_at: dict[int, NumberSpan]
) -> tuple[NumberSpan | None, str]:
    """The house number (and bis/ter) said just before token t, if any."""
    k = t
    suffix = ""
    if k > 0 and (
        tokens[k - 1].folded in HOUSE_SUFFIXES
        or (
            len(tokens[k - 1].folded) == 1
            and tokens[k - 1].folded in "abcdefgh"
            and k > 1
            and tokens[k - 2].is_digits
        )
    ):
        suffix = tokens[k - 1].folded
        k -= 1
    span = numbers_end_at.get(k)
    if span is None:
        return None, ""
    gap = text[span.end : tokens[t if not suffix else k].start]
    if re.search(r"[.;:!?]", gap):
        return None, ""
    if not 1 <= span.value <= 9999:
        return None, ""
    return span, suffix


def _find_streets(
    text: str, tokens: list[Token], numbers: list[NumberSpan], blocked: list[tuple[int, int]]
) -> list[_Street]:
    numbers_at = {n.first_token: n for n in numbers}
    numbers_end_at = {n.last_token: n for n in numbers}
    ordinals_at = {o.first_token: o.last_token for o in find_ordinals(text, tokens)}
    folded_text = fold(text)
    streets: list[_Street] = []
    for t, tok in enumerate(tokens):
        if any(s <= tok.start < e for s, e in blocked):
            continue
        f = tok.folded
        fuzzy = False
        pair = (f, tokens[t + 1].folded) if t + 1 < len(tokens) else None
        if pair in _TWO_WORD_TYPES:
            display, name_start = _TWO_WORD_TYPES[pair], t + 2
        elif f in STREET_TYPES:
            display, name_start = STREET_TYPES[f], t + 1
        else:
            guessed = _guess_street_type(f)
            if guessed is None:
                continue
            display, name_start, fuzzy = guessed, t + 1, True
        if name_start >= len(tokens):
            continue
        gap = _gap(text, tokens, name_start - 1, name_start)
        # "Bd. Michelet": the abbreviation's period is not the end of a sentence.
        if _hard_break(gap) and not (f in _ABBREVIATED_TYPES and gap.strip() == "."):
            continue
        end = _street_name_end(text, tokens, name_start, numbers_at, ordinals_at)
        if end <= name_start:
            continue
        number, suffix = _number_before(text, tokens, t, numbers_end_at)
        prev = tokens[t - 1].folded if t > 0 else ""
        first_name_tok = tokens[name_start]
        capitalised = first_name_tok.text[:1].isupper() or (
            first_name_tok.folded in _PARTICLES
            and name_start + 1 < end
            and tokens[name_start + 1].text[:1].isupper()
        )
        score = 1.0
        if number is not None:
            score += 3
        if prev in ("au", "le", "a", "la", "habite", "adresse", "sis", "situe") or (
            number is not None
            and number.first_token > 0
            and tokens[number.first_token - 1].folded in ("au", "le", "du", "numero")
        ):
            score += 1
        sentence_start = max(
            (m.end() for m in _SENTENCE_END.finditer(folded_text, 0, tok.start)), default=0
        )
        cue = _ADDRESS_CUES.search(folded_text, sentence_start, tok.start) is not None
        if cue:
            score += 1
        if capitalised:
            score += 0.5
        if number is None:
            if f in _AMBIGUOUS_TYPES and not capitalised:
                continue
            if prev in ("sur", "en", "de", "une", "un", "ma", "mon", "cette"):
                continue
            if not (capitalised or cue or prev in ("au", "a", "le", "du")):
                continue
        if fuzzy:
            # A street type heard slightly wrong ("tavers", "squadre") needs more evidence.
            if number is None and not cue:
                continue
            score -= 1
        streets.append(_Street(t, end, display, number, suffix, score, guessed_type=fuzzy))
    return streets


def _untyped_street(
    text: str, tokens: list[Token], numbers: list[NumberSpan], blocked: list[tuple[int, int]]
) -> _Street | None:
    """A street with no type: a house number after an address cue, then a proper name
    ("j'habite au 12 La Canebière")."""
    folded_text = fold(text)
    numbers_at = {n.first_token: n for n in numbers}
    ordinals_at = {o.first_token: o.last_token for o in find_ordinals(text, tokens)}
    for cue in _ADDRESS_CUES.finditer(folded_text):
        for n in numbers:
            if n.start < cue.end() or n.start - cue.end() > 20:
                continue
            if any(s <= n.start < e for s, e in blocked) or not 1 <= n.value <= 9999:
                continue
            k = n.last_token
            suffix = ""
            if k < len(tokens) and tokens[k].folded in HOUSE_SUFFIXES:
                suffix, k = tokens[k].folded, k + 1
            if k >= len(tokens) or _hard_break(text[n.end : tokens[k].start]):
                continue
            if not tokens[k].text[:1].isupper() and tokens[k].folded not in ("la", "le", "les"):
                continue
            end = _street_name_end(text, tokens, k, numbers_at, ordinals_at)
            if end > k:
                return _Street(k, end, "", n, suffix, 2.0, typed=False)
    return None


def _street_text(text: str, tokens: list[Token], street: _Street) -> str:
    if not street.typed:
        return text[tokens[street.type_token].start : tokens[street.name_end - 1].end]
    skip = 2 if street.display_type in _TWO_WORD_TYPES.values() else 1
    name = text[tokens[street.type_token + skip].start : tokens[street.name_end - 1].end]
    if name[:1].islower() and tokens[street.type_token + skip].folded not in _PARTICLES:
        # Whisper sometimes lower-cases proper names; the gazetteer is case-insensitive, but
        # agents read this.
        name = name[:1].upper() + name[1:]
    return f"{street.display_type} {name}"


def _locality(
    text: str,
    tokens: list[Token],
    start_char: int,
    end_char: int,
    spans: list[NumberSpan],
    *,
    introduced_only: bool = False,
) -> tuple[str, int | None, Commune | None, str]:
    """(postcode, arrondissement, commune, other city) said between two offsets.

    `introduced_only`: with no street to anchor on, a city counts only when introduced as a
    place ("à Aubagne", "sur Marseille"), not whenever it is named ("la déchèterie de
    Marseille")."""
    window = text[start_char:end_char]
    local_spans = [
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
    postcodes = [p.postcode for p in find_postcodes(window, in_address=True, spans=local_spans)]
    # A transcription can turn other numbers into a plausible postcode ("dix cent" → 10100);
    # one of the territory's own postcodes is the better bet.
    postcodes.sort(key=lambda p: not _in_territory(p))
    postcode = postcodes[0] if postcodes else ""
    arrondissement = find_arrondissement(window, in_address=True)
    commune: Commune | None = None
    other = ""
    for i, tok in enumerate(tokens):
        if tok.start < start_char or tok.end > end_char:
            continue
        found = find_commune(tokens, i)
        if found and not (introduced_only and (i == 0 or tokens[i - 1].folded not in ("a", "sur"))):
            commune = found[0]
            break
        if (
            tok.folded == "a"
            and i + 1 < len(tokens)
            and tokens[i + 1].text[:1].isupper()
            and not find_commune(tokens, i + 1)
        ):
            # "à Toulon": a city outside the métropole is still worth reporting.
            words = []
            j = i + 1
            while (
                j < len(tokens)
                and tokens[j].end <= end_char
                and (
                    tokens[j].text[:1].isupper()
                    or tokens[j].folded in ("sur", "en", "de", "la", "le", "les")
                )
                and not _hard_break(_gap(text, tokens, j - 1, j))
            ):
                words.append(j)
                j += 1
            if words and tokens[words[0]].folded not in ("la", "le", "les"):
                other = text[tokens[words[0]].start : tokens[words[-1]].end]
                break
    return postcode, arrondissement, commune, other


def _sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, pos)), default=0)
    end_match = _SENTENCE_END.search(text, pos)
    return start, end_match.start() + 1 if end_match else len(text)


# --------------------------------------------------------------------------- address region
#
# Whisper often garbles the street so badly that no street type survives ("le quatre Impasse
# Dupré" → "le cadre en passe du prêt"). What survives is the frame of the sentence: an
# address cue ("j'habite", "je suis", "mon adresse, c'est le"), then the number and the street,
# then the locality or the end of the sentence. That frame delimits the words the gazetteer
# search and the audio re-scoring work on.


@dataclass(frozen=True)
class AddressRegion:
    start: int  # character offsets in the text: the number and the street, as heard
    end: int
    determiner: str  # "au", "le" or "" (what introduced the number)
    first_token: int
    last_token: int  # exclusive


_CUE_PATTERNS: tuple[tuple[str, ...], ...] = (
    ("j", "habite"),
    ("habite",),
    ("je", "suis"),
    ("je", "reside"),
    ("je", "demeure"),
    ("domicilie",),
    ("domiciliee",),
    ("mon", "adresse"),
    ("l", "adresse"),
    ("notre", "adresse"),
    ("adresse",),
)
# Between the cue and the number: "c'est", "est", "t'es" (a transcription of "c'est"), "s'il
# est", "se trouve", "c'est au".
_CONNECTORS = frozenset(
    {"c", "est", "t", "es", "s", "il", "ce", "se", "trouve", "situe", "situee", "donc", "euh"}
)
_DETERMINERS = {"au": "au", "aux": "au", "le": "le", "du": "le"}
# Words that start the locality after the street.
_LOCALITY_STARTS = frozenset({"dans", "arrondissement", "code", "cedex", "quartier"})
_MAX_REGION_TOKENS = 14


def _is_address_word(word: str) -> bool:
    """ "adresse" as Whisper writes it on accented speech: "adhès", "adheus", "adresses"."""
    return word.startswith("ad") and len(word) >= 4 and fuzz.ratio(word, "adresse") >= 60


def _cue_end(tokens: list[Token], i: int) -> int | None:
    for pattern in _CUE_PATTERNS:
        n = len(pattern)
        if tuple(t.folded for t in tokens[i : i + n]) == pattern:
            return i + n
    if (
        tokens[i].folded in ("mon", "l", "notre")
        and i + 1 < len(tokens)
        and _is_address_word(tokens[i + 1].folded)
    ):
        return i + 2
    return None


def _is_marseille(word: str) -> bool:
    return len(word) >= 6 and word.startswith("mars") and fuzz.ratio(word, "marseille") >= 70


def _starts_locality(text: str, tokens: list[Token], k: int) -> bool:
    tok = tokens[k]
    f = tok.folded
    if f in _LOCALITY_STARTS or _is_marseille(f):
        return True
    if f in ("a", "sur") and k + 1 < len(tokens):
        nxt = tokens[k + 1].folded
        if _is_marseille(nxt) or find_commune(tokens, k + 1):
            return True
    if find_commune(tokens, k) and f not in ("la", "le", "les"):
        return True
    # A postcode ("13015", "13 000", "13h15", "13.4", "10 000") or a transcription of one.
    nxt = tokens[k + 1].text if k + 1 < len(tokens) else ""
    return tok.is_digits and (len(tok.text) >= 3 or tok.text == "13" or nxt == "000")


def _names_a_place(text: str, tokens: list[Token], k: int) -> bool:
    f = tokens[k].folded
    if f in ("a", "sur") and k + 1 < len(tokens):
        nxt = tokens[k + 1]
        return _is_marseille(nxt.folded) or find_commune(tokens, k + 1) is not None
    return _is_marseille(f)


def locate_address(text: str, tokens: list[Token] | None = None) -> AddressRegion | None:
    """Where the caller says the number and the street: after the first address cue, up to the
    locality, a sentence end or a comma (once two words are in). None without a cue."""
    tokens = tokenize(text) if tokens is None else tokens
    for i in range(len(tokens)):
        cue = _cue_end(tokens, i)
        if cue is None:
            continue
        k = cue
        determiner = ""
        skipped = 0
        if k < len(tokens) and _names_a_place(text, tokens, k):
            # "j'habite à Aubagne, au 3 rue …": the locality first, then the street.
            j = k + 1
            while (
                j < len(tokens)
                and j - k < 6
                and "," not in text[tokens[j - 1].end : tokens[j].start]
            ):
                j += 1
            k = j
        while k < len(tokens) and skipped < 4:
            f = tokens[k].folded
            if f in _CONNECTORS:
                k, skipped = k + 1, skipped + 1
                continue
            if f in _DETERMINERS and not determiner:
                determiner = _DETERMINERS[f]
                k, skipped = k + 1, skipped + 1
                continue
            break
        if k >= len(tokens) or (k > cue and _hard_stop(text, tokens, k - 1, k)):
            continue
        if tokens[k].folded in ("madame", "monsieur", "mademoiselle"):
            continue  # "je suis Madame Martin"
        first = k
        while k < len(tokens) and k - first < _MAX_REGION_TOKENS:
            if k > first:
                gap = text[tokens[k - 1].end : tokens[k].start]
                if re.search(r"[.!?;:]", gap) or ("," in gap and k - first >= 2):
                    break
                if _starts_locality(text, tokens, k):
                    break
            k += 1
        if k <= first:
            continue
        return AddressRegion(tokens[first].start, tokens[k - 1].end, determiner, first, k)
    return None


def _hard_stop(text: str, tokens: list[Token], a: int, b: int) -> bool:
    return bool(re.search(r"[.!?;]", text[tokens[a].end : tokens[b].start]))


def _extract_address(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    phones: list[PhoneSpan],
    blocked: list[tuple[int, int]],
    notes: list[str],
) -> tuple[SpokenAddress | None, tuple[int, int] | None, bool]:
    """(address, character span of the street, street had a type)."""
    address_numbers = [n for n in numbers if not any(p.start <= n.start < p.end for p in phones)]
    streets = _find_streets(text, tokens, address_numbers, blocked)
    street = max(streets, key=lambda s: s.score) if streets else None
    if street is None:
        street = _untyped_street(text, tokens, address_numbers, blocked)
        if street is not None:
            notes.append("adresse sans type de voie (rue, avenue...) : à vérifier")

    address = SpokenAddress()
    street_span: tuple[int, int] | None = None
    if street is not None and street.guessed_type:
        notes.append(f"type de voie deviné : « {tokens[street.type_token].text} »")
    if street is not None:
        address.street = _street_text(text, tokens, street)
        first = street.number.start if street.number else tokens[street.type_token].start
        street_span = (first, tokens[street.name_end - 1].end)
        if street.number is not None:
            address.housenumber = str(street.number.value) + (
                f" {street.suffix}" if street.suffix else ""
            )
        else:
            notes.append("numéro de rue non entendu")
        # The locality follows the street in the same sentence, or in the next one
        # ("... Rue Julia. Treize mille cinq Marseille.").
        after = street_span[1]
        _, end = _sentence_bounds(text, after)
        _, end_next = _sentence_bounds(text, min(end + 1, len(text)))
        postcode, arrondissement, commune, other = _locality(text, tokens, after, end, numbers)
        if not (postcode or arrondissement or commune or other):
            postcode, arrondissement, commune, other = _locality(
                text, tokens, after, end_next, numbers
            )
        # Or precedes it: "J'habite à Aubagne, au 3 rue ...".
        if not (postcode or arrondissement or commune or other):
            start, _ = _sentence_bounds(text, street_span[0])
            postcode, arrondissement, commune, other = _locality(
                text, tokens, start, street_span[0], numbers
            )
    else:
        postcode, arrondissement, commune, other = _locality(
            text, tokens, 0, len(text), numbers, introduced_only=True
        )
        postcode = postcode if re.fullmatch(r"\d{5}", postcode) else ""

    heard = None
    if street is None:
        heard = _heard_street(text, tokens, address_numbers, blocked)
    if heard is not None:
        address.housenumber, address.street, street_span = heard
        notes.append(
            f"rue mal transcrite (« {address.street} ») : recherchée dans la base d'adresses"
        )
        postcode, arrondissement, commune, other = _region_locality(
            text, tokens, street_span[1], numbers
        )
        if not address.housenumber:
            notes.append("numéro de rue non entendu")

    _fill_locality(address, postcode, arrondissement, commune, other, notes)
    if street is None and heard is None and not (address.postcode or address.city):
        return None, None, False
    if street is None and heard is None:
        notes.append("aucune rue reconnue")
    return address, street_span, bool(street and street.typed)


def _region_locality(
    text: str, tokens: list[Token], after: int, numbers: list[NumberSpan]
) -> tuple[str, int | None, Commune | None, str]:
    _, end = _sentence_bounds(text, after)
    _, end_next = _sentence_bounds(text, min(end + 1, len(text)))
    found = _locality(text, tokens, after, end, numbers)
    if not any(found):
        found = _locality(text, tokens, after, end_next, numbers)
    return found


def _heard_street(
    text: str, tokens: list[Token], numbers: list[NumberSpan], blocked: list[tuple[int, int]]
) -> tuple[str, str, tuple[int, int]] | None:
    """(house number, street words as heard, span) from the address region, when no street
    type survived the transcription: the gazetteer search works on these words."""
    region = locate_address(text, tokens)
    if region is None or any(s < region.end and region.start < e for s, e in blocked):
        return None
    k = region.first_token
    housenumber = ""
    starting = [n for n in numbers if n.first_token == k and 1 <= n.value <= 9999]
    # Right after "au" / "le" and before the street, even "un" is the number.
    if starting and starting[0].last_token < region.last_token:
        span = starting[0]
        k = span.last_token
        housenumber = str(span.value)
        if k < region.last_token and tokens[k].folded in HOUSE_SUFFIXES:
            housenumber += f" {tokens[k].folded}"
            k += 1
    if k >= region.last_token:
        return None
    words = text[tokens[k].start : tokens[region.last_token - 1].end]
    return housenumber, words, (region.start, region.end)


def _fill_locality(
    address: SpokenAddress,
    postcode: str,
    arrondissement: int | None,
    commune: Commune | None,
    other_city: str,
    notes: list[str],
) -> None:
    if postcode and re.fullmatch(r"130(0[1-9]|1[0-6])", postcode):
        arr_from_postcode = int(postcode[3:])
        address.postcode, address.citycode = marseille_codes(arr_from_postcode)
        address.city = MARSEILLE.name
        if arrondissement and arrondissement != arr_from_postcode:
            notes.append(
                f"code postal {postcode} et {arrondissement}e arrondissement incohérents :"
                " le code postal est retenu"
            )
        return
    if postcode == "13000":
        # The generic "13000 Marseille" names no arrondissement.
        postcode = ""
        commune = commune or MARSEILLE
        notes.append("code postal 13000 : arrondissement inconnu")
    if arrondissement and (commune is None or commune is MARSEILLE) and not postcode:
        address.postcode, address.citycode = marseille_codes(arrondissement)
        address.city = MARSEILLE.name
        return
    if postcode:
        address.postcode = postcode
        candidates = _communes_for_postcode(postcode)
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
        return
    if commune is not None:
        address.city = commune.name
        if commune is not MARSEILLE:
            address.citycode = commune.citycode
            if len(commune.postcodes) == 1:
                address.postcode = commune.postcodes[0]
        else:
            notes.append("Marseille sans arrondissement ni code postal")
        return
    if other_city:
        address.city = other_city
        notes.append(f"commune « {other_city} » hors de la liste de la métropole")


# --------------------------------------------------------------------------- caller name

_CIVILITY = {
    "madame": "Madame",
    "mme": "Madame",
    "monsieur": "Monsieur",
    "m": "Monsieur",
    "mr": "Monsieur",
    "mademoiselle": "Mademoiselle",
    "mlle": "Mademoiselle",
}
_NAME_PARTICLES = frozenset({"de", "du", "des", "le", "la", "el", "ben", "van", "da", "di", "d"})
_NOT_A_NAME = frozenset(
    {
        "le",
        "la",
        "les",
        "un",
        "une",
        "au",
        "a",
        "pour",
        "mon",
        "ma",
        "bien",
        "moi",
        "encore",
        "pas",
        "tres",
        "vraiment",
        "possible",
        "qui",
        "que",
        "ce",
        "ca",
        "l",
        "j",
        "je",
        "bonjour",
        "bonsoir",
        "allo",
        "oui",
        "merci",
        "aussi",
        "madame",
        "monsieur",
        "et",
        "ou",
        "mais",
        "donc",
        "alors",
        "car",
        "suis",
        "est",
        "habite",
        "voudrais",
        "souhaite",
        "appelle",
        "c",
        "s",
        "m",
        "n",
        "y",
        "en",
        "de",
        "du",
        "des",
    }
    | set(NUMBER_WORDS)
    | set(STREET_TYPES)
)
_NAME_CUES: tuple[tuple[re.Pattern[str], bool], ...] = (
    # (pattern ending right before the name, lower-case names allowed after it)
    (re.compile(r"\bje m'?\s?appelle\s+", re.IGNORECASE), True),
    (re.compile(r"\bmon nom(?: est| c'est|,? c'est)\s+", re.IGNORECASE), True),
    (re.compile(r"\bde la part de\s+", re.IGNORECASE), False),
    (re.compile(r"\bici,?\s+", re.IGNORECASE), False),
    (re.compile(r"\bc'est,?\s+", re.IGNORECASE), False),
    (re.compile(r"\bmoi c'est\s+", re.IGNORECASE), True),
    (re.compile(r"\bje suis\s+(?=(?:madame|monsieur|mademoiselle)\b)", re.IGNORECASE), True),
)
_NAME_WORD = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)
_UPPER = "A-ZÀ-ÖØ-ÞŒ"
# Civility in any case, then capitalised name words: "madame Amrani à l'appareil".
_APPAREIL_RE = re.compile(
    r"(?:\b((?i:madame|monsieur|mademoiselle|mme|mlle|mr|m))\.?\s+)?"
    rf"([{_UPPER}][\w'’\-]*(?:\s+(?:(?:de|du|des|la|le|d')\s*)*[{_UPPER}][\w'’\-]*){{0,4}})"
    r"\s+(?i:à l'appareil)"
)


def _read_name(text: str, pos: int, lower_ok: bool) -> tuple[str, int] | None:
    """The name starting at `pos`: an optional civility then one to three name words."""
    civility = ""
    m = re.match(r"(madame|monsieur|mademoiselle|mme|mlle|mr|m)\.?\s+", text[pos:], re.I)
    if m:
        civility = _CIVILITY[fold(m.group(1))]
        pos += m.end()
        lower_ok = True
    words: list[str] = []
    end = pos
    while len(words) < 4:
        m = _NAME_WORD.match(text, end)
        if not m:
            break
        word = m.group()
        f = fold(word)
        if f in _NAME_PARTICLES and words:
            # "Charles de Gaulle": a particle only counts if a name follows it.
            nxt = _NAME_WORD.match(text, m.end() + 1)
            if not nxt or not nxt.group()[:1].isupper():
                break
        elif f in _NOT_A_NAME or (not word[:1].isupper() and not lower_ok):
            break
        words.append(word)
        end = m.end()
        gap = re.match(r"[ \t]+", text[end:])
        if not gap:
            break
        end += gap.end()
    while words and fold(words[-1]) in _NAME_PARTICLES:
        words.pop()
    if not words:
        return None
    name = " ".join(
        w if w[:1].isupper() or fold(w) in _NAME_PARTICLES else w.capitalize() for w in words
    )
    return (f"{civility} {name}" if civility else name), end


def _caller_name(text: str) -> tuple[str, tuple[int, int] | None]:
    for pattern, lower_ok in _NAME_CUES:
        for m in pattern.finditer(text):
            found = _read_name(text, m.end(), lower_ok)
            if found:
                return found[0], (m.end(), found[1])
    # "François Chevalier à l'appareil", "madame Amrani à l'appareil"
    found_appareil = _APPAREIL_RE.search(text)
    if found_appareil:
        civility = _CIVILITY[fold(found_appareil.group(1))] if found_appareil.group(1) else ""
        words = found_appareil.group(2).split()
        # The capitalised run may start with a greeting: "Bonjour Madame Amrani".
        while words and (fold(words[0]) in _NOT_A_NAME or fold(words[0]) in _CIVILITY):
            civility = _CIVILITY.get(fold(words.pop(0)), civility)
        if words:
            name = " ".join(words)
            span = (found_appareil.start(), found_appareil.end(2))
            return (f"{civility} {name}" if civility else name), span
    return "", None


# --------------------------------------------------------------------------- items

_ADJECTIVES = frozenset(
    {
        "vieux",
        "vieil",
        "vieille",
        "vieilles",
        "grand",
        "grande",
        "grands",
        "grandes",
        "gros",
        "grosse",
        "grosses",
        "petit",
        "petite",
        "petits",
        "petites",
        "ancien",
        "ancienne",
        "anciens",
        "anciennes",
        "autre",
        "autres",
        "beau",
        "belle",
        "beaux",
        "belles",
        "tres",
        "tout",
        "toute",
        "enorme",
        "enormes",
        "immense",
        "lourd",
        "lourde",
    }
)
_APPROX_NOUNS = {
    "paire": 2,
    "dizaine": 10,
    "douzaine": 12,
    "quinzaine": 15,
    "vingtaine": 20,
}
_INDEFINITE_PLURAL = frozenset(
    {"des", "plusieurs", "quelques", "mes", "nos", "ces", "les", "leurs", "vos", "certains"}
)
_DEFINITE = frozenset({"le", "la", "l", "mon", "ma", "ce", "cet", "cette", "son", "sa", "notre"})
_NEGATIONS = (
    ("pas", "de"),
    ("pas", "d"),
    ("plus", "de"),
    ("plus", "d"),
    ("sans",),
    ("aucun",),
    ("aucune",),
)


@dataclass
class _Counted:
    name: str
    count: int
    accepted: bool


def _count_items(
    text: str,
    tokens: list[Token],
    numbers: list[NumberSpan],
    mentions: list[ItemMention],
    notes: list[str],
) -> tuple[list[ItemCount], list[ItemCount]]:
    numbers_end_at = {n.last_token: n for n in numbers}
    counted: dict[str, _Counted] = {}
    for mention in mentions:
        k = mention.first_token
        while k > 0 and tokens[k - 1].folded in _ADJECTIVES and mention.first_token - k < 3:
            k -= 1
        prev = [t.folded for t in tokens[max(0, k - 2) : k]]
        name = mention.item.name
        if any(tuple(prev[-len(neg) :]) == neg for neg in _NEGATIONS):
            notes.append(f"« {mention.heard} » cité à la forme négative : ignoré")
            continue
        if prev and prev[-1] in ("au", "aux"):
            # "je suis au bureau", "au lit": a place, not something to collect.
            continue
        count: int | None = None
        span = numbers_end_at.get(k)
        if span is not None and 1 <= span.value <= 999:
            count = span.value
            if not span.spoken and count >= 10 and not mention.plural:
                # "en 21 chaise": digits before a noun left in the singular are a
                # transcription artefact ("enlever une chaise"), not twenty-one chairs.
                count = 1
                notes.append(f"quantité « {span.digits} » douteuse pour {name} : 1 retenu")
            if span.first_token >= 2 and tokens[span.first_token - 1].folded == "ou":
                # "deux ou trois chaises": plan for the larger number.
                low = numbers_end_at.get(span.first_token - 1)
                count = max(count, low.value) if low is not None else count
                notes.append(f"quantité incertaine pour {name} : {count} retenu (le maximum)")
        elif len(prev) == 2 and prev[-1] in ("de", "d") and prev[0].rstrip("s") in _APPROX_NOUNS:
            count = _APPROX_NOUNS[prev[0].rstrip("s")]
            mult = numbers_end_at.get(k - 2)
            if mult is not None and not mult.is_article:
                count *= mult.value
            notes.append(f"quantité approximative pour {name} : {count}")
        elif prev and prev[-1] in _DEFINITE:
            if name in counted:
                continue  # "le frigo" again: the one already counted
            count = 1
        elif (prev and prev[-1] in _INDEFINITE_PLURAL) or mention.plural:
            count = 2 if mention.plural else 1
            notes.append(f"quantité non précisée pour {name} : {count} retenu")
        else:
            count = 1
            if mention.plural:
                notes.append(f"quantité non précisée pour {name} : 2 retenu")
                count = 2
        if mention.fuzzy:
            notes.append(f"« {mention.heard} » compris comme {name}")
        if name in counted:
            counted[name].count += count
        else:
            counted[name] = _Counted(name, count, mention.item.accepted)
    items = [ItemCount(c.name, c.count) for c in counted.values() if c.accepted]
    refused = [ItemCount(c.name, c.count) for c in counted.values() if not c.accepted]
    return items, refused


# --------------------------------------------------------------------------- intent

_CANCEL_RE = re.compile(r"\bannul\w*|\bdecommand\w*|\bdesist\w*")
_APPOINTMENT_RE = re.compile(r"\brendez[- ]vous\b|\brdv\b|\breservation\b|\bprevu\w*|\bpris\b")
_NO_LONGER_RE = re.compile(r"\b(?:n'?\s?en ai plus besoin|plus besoin|ne (?:plus|pas) venir)\b")
_RESCHEDULE_RE = re.compile(
    r"\b(?:reporter|decaler|changer (?:la |de )?date|modifier (?:le|mon) rendez[- ]vous|"
    r"deplacer (?:le|mon) rendez[- ]vous)\b"
)
_BOOKING_RE = re.compile(
    r"passer prendre|passiez prendre|passez prendre|venir (?:chercher|prendre|recuperer)|"
    r"\bque vous passiez\b|\bpasser chez moi\b|"
    r"rendez[- ]vous|\brdv\b|\benlev\w*|\benlevement|\brecuper\w*|\bdebarrass\w*|"
    r"\bramass\w*|\bcollect\w*|\breserv\w*|\bjeter\b|\bevacuer\b|\bencombrants?\b|"
    r"\bse separer\b|\bprendre en charge\b"
)
_WANT_RE = re.compile(r"\b(?:voudrais|souhaite|souhaiterais|aimerais|besoin)\b")
_QUESTION_RE = re.compile(
    r"\?|\bje (?:voudrais|voulais|souhaiterais|souhaite|aimerais) (?:savoir|connaitre|"
    r"me renseigner|un renseignement|une information|des informations)|"
    r"\best[- ]ce (?:que|qu)|\bou (?:se trouve|se situe|est|sont)\b|\bquel(?:le)?s? (?:sont|est)\b|"
    r"\bhoraires?\b|\bcomment (?:faire|faut|on|je|puis|proceder)\b|\bcombien\b|\bpourquoi\b|"
    r"\bsavoir si\b|\best-il possible\b|\bacceptez[- ]vous\b|\bprenez[- ]vous\b|"
    r"\bramassez[- ]vous\b|\brenseignements?\b"
)


_FILLERS = frozenset(
    {
        "allo",
        "bonjour",
        "bonsoir",
        "oui",
        "non",
        "euh",
        "hein",
        "madame",
        "monsieur",
        "merci",
        "au",
        "revoir",
        "bonne",
        "journee",
        "soiree",
        "ah",
        "ben",
        "bah",
        "hum",
        "hm",
        "voila",
    }
)


def _has_content(folded: str) -> bool:
    """More than greetings and fillers: "Allô ? Allô ?" asks nothing."""
    return sum(1 for w in re.findall(r"[^\W\d_]+", folded) if w not in _FILLERS) >= 3


def _intent(
    folded: str,
    has_street: bool,
    has_items: bool,
    notes: list[str],
) -> tuple[Intent, float]:
    """(intent, how sure) from cue words and what was extracted."""
    if _CANCEL_RE.search(folded) or (
        _NO_LONGER_RE.search(folded) and _APPOINTMENT_RE.search(folded)
    ):
        sure = 0.9 if _APPOINTMENT_RE.search(folded) else 0.7
        return Intent.CANCEL, sure
    if _RESCHEDULE_RE.search(folded):
        notes.append("demande de changement de date : à traiter par un agent")
        return Intent.OTHER, 0.6
    booking_cue = _BOOKING_RE.search(folded) is not None
    question_cue = _QUESTION_RE.search(folded) is not None and _has_content(folded)
    if has_street and (has_items or booking_cue):
        # Polite question phrasing around an address and items is still a booking.
        return Intent.BOOKING, 1.0 if has_items else 0.7
    if question_cue:
        return Intent.QUESTION, 0.9 if not (has_items or booking_cue) else 0.7
    if booking_cue or has_items:
        return Intent.BOOKING, 0.8 if has_items and booking_cue else 0.6
    if has_street and _WANT_RE.search(folded):
        # An address and "je voudrais que vous…": the request is a pickup even when the
        # transcription lost the verb and the items ("faire l'alvé intable").
        notes.append("demande comprise comme un enlèvement (adresse donnée, objets non compris)")
        return Intent.BOOKING, 0.5
    return Intent.OTHER, 0.3


# --------------------------------------------------------------------------- entry point


def _clean(text: str) -> str:
    text = text.replace("’", "'").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def understand(text: str, caller_number: str, catalogue: Catalogue) -> Understanding:
    """What the caller wants, from what they said. Never raises on odd input: an empty or
    unintelligible text gives intent "other" with confidence 0."""
    notes: list[str] = []
    clean = _clean(text)
    if not clean:
        return Understanding(
            intent=Intent.OTHER.value,
            callback_number=to_e164(caller_number) or "" if caller_number else "",
            notes=["message vide"],
        )
    folded = fold(clean)
    tokens = tokenize(clean)
    numbers = find_numbers(clean, tokens)
    phones = find_phone_numbers(clean, numbers)

    # Callback number: a number dictated in the message wins over the caller id.
    callback = ""
    for phone in phones:
        e164 = to_e164(phone.digits)
        if e164:
            callback = e164
            notes.append("numéro de rappel dicté dans le message")
            break
    if not callback:
        if phones:
            notes.append("numéro dicté illisible : numéro de l'appelant retenu")
        callback = (to_e164(caller_number) or "") if caller_number else ""
        if not callback:
            notes.append("aucun numéro de rappel utilisable")
    if callback and not is_mobile_fr(callback):
        notes.append("le numéro de rappel ne peut pas recevoir de SMS")

    name, name_span = _caller_name(clean)
    blocked = [(p.start, p.end) for p in phones]
    if name_span:
        blocked.append(name_span)

    address, street_span, typed = _extract_address(clean, tokens, numbers, phones, blocked, notes)

    excluded = list(blocked)
    if street_span:
        excluded.append(street_span)
    mentions = catalogue.find_mentions(clean, exclude=excluded, tokens=tokens)
    items, refused = _count_items(clean, tokens, numbers, mentions, notes)

    has_street = address is not None and bool(address.street)
    intent, intent_sure = _intent(folded, has_street, bool(items or refused), notes)
    if intent is Intent.BOOKING and not (items or refused):
        notes.append("aucun objet reconnu")
    if refused:
        notes.append("objets refusés : " + ", ".join(r.item for r in refused))

    advice = catalogue.refusal_advice(r.item for r in refused) if refused else ""
    confidence = _confidence(
        intent, intent_sure, address, typed, items, refused, callback, name, notes
    )
    return Understanding(
        intent=intent.value,
        address=address,
        items=items,
        refused_items=refused,
        callback_number=callback,
        caller_name=name,
        confidence=confidence,
        notes=notes,
        refusal_advice=advice,
    )


def _confidence(
    intent: Intent,
    intent_sure: float,
    address: SpokenAddress | None,
    typed: bool,
    items: list[ItemCount],
    refused: list[ItemCount],
    callback: str,
    name: str,
    notes: list[str],
) -> float:
    """How complete the extraction is for what the intent needs, times how sure the intent is.

    A booking needs a street, a number, a locality, items and a number that takes SMS; a
    question needs nothing but the question; a cancellation is better with an address."""
    doubts = sum(
        1
        for n in notes
        if n.startswith(
            ("quantité", "« ", "code postal", "adresse sans", "le code postal", "type de voie")
        )
    )
    if intent is Intent.BOOKING:
        score = 0.0
        if address and address.street:
            score += 0.30 if typed else 0.15
        if address and address.housenumber:
            score += 0.15
        if address and address.postcode and address.citycode:
            score += 0.15
        elif address and address.city:
            score += 0.08
        if items or refused:
            score += 0.25
        if callback and is_mobile_fr(callback):
            score += 0.10
        if name:
            score += 0.05
        score -= 0.05 * doubts
    elif intent is Intent.CANCEL:
        score = 0.6 + (0.2 if address and address.street else 0.0) + (0.1 if callback else 0.0)
        score += 0.1 if name else 0.0
    elif intent is Intent.QUESTION:
        score = 0.9 + (0.1 if name else 0.0)
    else:
        score = 0.3
    return round(max(0.0, min(1.0, score * intent_sure)), 2)


# --------------------------------------------------------------------------- item slots
#
# Words of the request that should name an item but match no catalogue form: after a
# quantity ("un", "deux", "d'un", "en" — Whisper's spelling of an accented "un"), in a
# sentence that asks for a pickup. The audio then chooses among the catalogue forms that sound
# closest (`activities.transcribe.TranscribeActivities.refine_items`).

_REQUEST_RE = re.compile(
    _BOOKING_RE.pattern + r"|\b(?:voudrais|souhaite|souhaiterais|besoin|aimerais)\b"
)
_SLOT_QUANTITY_WORDS = {"un": 1, "une": 1, "en": 1, "des": 2, "deux": 2, "trois": 3}
_SLOT_QUANTITY_WORDS.update({"quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9})
_SLOT_QUANTITY_WORDS.update({"dix": 10})
# Words after which a slot stops: the sentence goes on with something else.
# (Articles do not stop it: a transcription glues them to the item, "l'avesselle".)
_SLOT_STOPS = frozenset(
    {"et", "merci", "bonne", "revoir", "vous", "je", "j", "nous", "pour", "avec", "svp"}
    | {"s", "il", "plait", "c", "ce", "qui", "que", "mais", "bonsoir", "bonjour", "avance"}
    | {"beaucoup", "d", "de", "du", "des", "en", "au", "aux", "a"}
)
# Nouns of the request itself, never an item.
_NOT_ITEMS = frozenset(
    {"rendez", "rdv", "besoin", "enlevement", "passage", "moment", "jour", "jours", "semaine"}
    | {"mois", "message", "numero", "appel", "question", "adresse", "demande", "peu", "coup"}
    | {"creneau", "service", "rappel", "renseignement", "information", "probleme", "instant"}
    | {"endroit", "fois", "an", "ans", "heure", "heures", "minute", "minutes", "mot", "autre"}
    | {"seul", "seule", "tout", "toute", "tous", "rien", "devis", "collecte", "ramassage"}
    | {"ai", "a", "avons", "avez", "ont", "est", "suis", "plus", "fait", "faire", "peux"}
)
MAX_SLOT_WORDS = 3
MAX_SLOT_FORMS = 12


# "en" is Whisper's spelling of an accented "un" only where a list of items goes on: after
# the request verb, "pour", "et" or a comma ("passer prendre en fauteuil"); elsewhere it is
# the pronoun or the preposition ("j'en ai besoin", "une table en bois").
_EN_AFTER = frozenset(
    {"prendre", "enlever", "enleve", "debarrasser", "recuperer", "jeter", "pour", "et"}
)


def _slot_quantity(tok: Token) -> int | None:
    if tok.is_digits:
        value = int(tok.text)
        return value if 1 <= value <= 20 else None
    return _SLOT_QUANTITY_WORDS.get(tok.folded)


def _is_slot_quantity(text: str, tokens: list[Token], i: int) -> int | None:
    count = _slot_quantity(tokens[i])
    if count is None or tokens[i].folded != "en":
        return count
    if i == 0:
        return None
    after_comma = "," in text[tokens[i - 1].end : tokens[i].start]
    return count if after_comma or tokens[i - 1].folded in _EN_AFTER else None


def find_item_slots(text: str, catalogue: Catalogue) -> list[ItemSlot]:
    """Quantity + unknown words in the request sentences, with the catalogue forms that sound
    closest (`catalogue.closest_forms`)."""
    clean = text  # offsets stay those of `text`
    tokens = tokenize(clean)
    numbers = find_numbers(clean, tokens)
    phones = find_phone_numbers(clean, numbers)
    blocked = [(p.start, p.end) for p in phones]
    _, name_span = _caller_name(clean)
    if name_span:
        blocked.append(name_span)
    region = locate_address(clean, tokens)
    if region is not None:
        blocked.append((region.start, region.end))
    mentions = catalogue.find_mentions(clean, tokens=tokens)
    taken = [(m.start, m.end) for m in mentions]

    def overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
        return any(s < end and start < e for s, e in spans)

    slots: list[ItemSlot] = []
    folded = fold(clean)
    i = 0
    while i < len(tokens) - 1:
        tok = tokens[i]
        count = _is_slot_quantity(clean, tokens, i)
        if count is None:
            i += 1
            continue
        start_s, end_s = _sentence_bounds(clean, tok.start)
        if not _REQUEST_RE.search(folded, start_s, end_s):
            i += 1
            continue
        k = i + 1
        while k < len(tokens) and tokens[k].folded in _ADJECTIVES and k - i <= 2:
            k += 1
        first = k
        while (
            k < len(tokens)
            and k - first < MAX_SLOT_WORDS
            and tokens[k].folded not in _SLOT_STOPS
            and _slot_quantity(tokens[k]) is None
            and not (
                k > first and re.search(r"[,.;:!?]", clean[tokens[k - 1].end : tokens[k].start])
            )
        ):
            k += 1
        if k == first or tokens[first].folded in _NOT_ITEMS:
            i += 1
            continue
        span = (tok.start, tokens[k - 1].end)
        words = clean[tokens[first].start : tokens[k - 1].end]
        if overlaps(*span, blocked) or overlaps(*span, taken) or len(fold(words)) < 3:
            i += 1
            continue
        scored = catalogue.closest_forms_scored(words, MAX_SLOT_FORMS)
        if scored:
            slots.append(
                ItemSlot(
                    span[0],
                    span[1],
                    tok.text,
                    count,
                    [f for f, _ in scored],
                    [sim for _, sim in scored],
                )
            )
        i = k
    return slots


ITEM_MARGIN_NATS = 2.0  # the best form must beat the runner-up by this much
ITEM_TEXT_WEIGHT_NATS = 10.0  # nats per unit of sound similarity (as for streets)


def apply_item_scores(
    u: Understanding,
    slots: list[ItemSlot],
    scores: list[list[float]],
    catalogue: Catalogue,
    margin: float = ITEM_MARGIN_NATS,
) -> Understanding:
    """The understanding with the items the audio chose for the slots (forms scored by
    log-likelihood ratio against silence; a slot whose best form does not clearly win adds
    nothing)."""
    items = {i.item: i.count for i in u.items}
    refused = {i.item: i.count for i in u.refused_items}
    notes = list(u.notes)
    for slot, slot_scores in zip(slots, scores, strict=False):
        if not slot_scores or len(slot_scores) != len(slot.forms):
            continue
        # As for streets: the audio's evidence plus how the words heard sound like the form.
        sims = slot.similarities if len(slot.similarities) == len(slot.forms) else []
        values = [
            v + (ITEM_TEXT_WEIGHT_NATS * sims[j] if sims else 0.0)
            for j, v in enumerate(slot_scores)
        ]
        order = sorted(range(len(values)), key=lambda j: -values[j])
        gap = values[order[0]] - (values[order[1]] if len(order) > 1 else -1e9)
        if gap < margin:
            continue
        item = catalogue.get(slot.forms[order[0]])
        if item is None:
            continue
        target = items if item.accepted else refused
        target[item.name] = target.get(item.name, 0) + slot.count
        heard = slot.quantity
        notes.append(f"« {heard} … » compris comme {item.name} d'après l'audio")
    out = replace(
        u,
        items=[ItemCount(n, c) for n, c in items.items()],
        refused_items=[ItemCount(n, c) for n, c in refused.items()],
        notes=notes,
    )
    if out.refused_items:
        out.refusal_advice = catalogue.refusal_advice(r.item for r in out.refused_items)
    if out.intent == Intent.BOOKING and out.items:
        out.notes = [n for n in out.notes if n != "aucun objet reconnu"]
    return out
