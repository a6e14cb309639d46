"""Gazetteer streets that could have been said, from a (garbled) transcript.

Whisper garbles street names ("Impasse Dupré" → "en passe du prêt") so that the parser often
cannot even tell where the street is. The search works on the words of the address region
(between the address cue and the locality, see `domain.understanding.locate_address`): their
phonetic key is aligned against the phonetic key of every street of the gazetteer, the street
having to fit somewhere in what was heard (semi-global edit distance: free start and end, so
that the garbled house number before the street and leftovers after it cost nothing). The
arrondissement or postcode heard adds a bounded bonus. The audio then decides among the
candidates (the `score_address_candidates` activity)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from activities.geo.gazetteer import parent_citycode
from activities.geo.geocoder import Geocoder
from activities.geo.hints import postcode_hints
from domain import geotext, trust
from domain.address_models import AddressCandidates, StreetCandidate
from domain.models import SpokenAddress
from domain.numbers import fold, normalize_housenumber
from domain.understanding import Territory, locate_address
from domain.understanding.spelled_names import spelled_later

__all__ = ["DEFAULT_MAX_CANDIDATES", "AddressSearch"]

_PREFILTER = 120  # streets kept by the fast fuzzy prefilter, per probe
_LOCAL_PREFILTER = 40
_TYPE_MISSING_PENALTY = 0.08  # the name alone fits: the type was not heard
_SHORT_KEY = 0.6  # / key length: a short key fits somewhere in any long text
_HEARD_AREA_BONUS = 0.08  # per unit of evidence weight
_MAX_NUMBERS = 80
# Articles a transcription leaves before the street's type when it drops the number.
_ARTICLES = frozenset({"de", "du", "des", "d", "la", "le", "les", "l"})
_TENS_WORDS = frozenset({"vingt", "trente", "quarante", "cinquante", "soixante"})
# Below trust.number_said's least guess: a house number written as a time of day is never
# booked on its own.
_TIME_GUESS = 0.5


def _as_time(number: int, heard: str) -> bool:
    """Whether the words write the number as a time of day: « 10h », « 10 h 30 », « 10
    heures »."""
    return (
        re.search(rf"(?<!\d){number}\s?h(?:\b|\d)|(?<!\d){number}\s+heures?\b", heard, re.I)
        is not None
    )


DEFAULT_MAX_CANDIDATES = 16


# Letters spelled one by one (« O L Y M P E »).
_SPELLED = re.compile(r"(?:\b[A-Za-z]\b[\s,.]*){4,}")
# A word spelled this long names the street that has it (shorter: « D E », initials).
_SPELLED_WORD = 4
_SPELLED_BONUS = 0.1

# What a heard character after the street costs (a street is the last thing said before the
# locality or the end of the sentence, so leftovers after it are suspicious, but the region's
# end is not always exact).
_TRAILING_COST = 0.5


def _fit(pattern: str, text: np.ndarray, idx: np.ndarray) -> float:
    """Edit distance of `pattern` against the heard text with a free start (the house number
    and the words before the street cost nothing) and a cheap end (what is left after the
    street costs `_TRAILING_COST` a character). One numpy pass per pattern character; the
    insertions along a row are a running minimum."""
    prev = np.zeros(len(text) + 1, dtype=np.int32)
    for i, ch in enumerate(pattern, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        np.minimum(prev[1:] + 1, prev[:-1] + (text != ord(ch)), out=cur[1:])
        prev = np.minimum.accumulate(cur - idx) + idx
    return float((prev + _TRAILING_COST * (len(text) - idx)).min())


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


@dataclass
class _Evidence:
    """What the transcript says about the place, with how much it is trusted (0..1)."""

    postcodes: dict[str, float]
    citycodes: dict[str, float]


class AddressSearch:
    """Gazetteer streets that could have been said, from a (garbled) transcript."""

    def __init__(
        self,
        geocoder: Geocoder,
        territory: Territory,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
    ) -> None:
        self.geocoder = geocoder
        self.gz = geocoder.gz
        self.territory = territory
        self.max_candidates = max_candidates
        self._ids: dict[tuple[str, str, str], int] = {}
        for i in range(self.gz.street_count):
            self._ids.setdefault((self.gz.name(i), self.gz.postcode(i), self.gz.citycode(i)), i)

    def street_id(self, name: str, postcode: str, citycode: str) -> int | None:
        return self._ids.get((name, postcode, citycode))

    # ------------------------------------------------------------------ propose

    def propose(
        self, text: str, spoken: SpokenAddress | None, max_candidates: int = 0
    ) -> AddressCandidates:
        limit = max_candidates or self.max_candidates
        region = locate_address(text, self.territory)
        typed = self._typed_span(text, spoken)
        heard_words = ""
        out = AddressCandidates(
            evidence=trust.place_evidence(text, self.territory),
            transcript_quality=trust.transcript_quality(text),
            self_corrected=trust.self_corrected(text)
            or bool(spoken and spoken.corrected)
            or bool(region and region.corrected),
        )
        if region is not None and (
            typed is None or (region.start < typed[1] and typed[0] < region.end)
        ):
            out.region_start, out.region_end = region.start, region.end
            out.determiner = region.determiner
            heard_words = text[region.start : region.end]
        elif typed is not None:
            # The street the parser found elsewhere than after the first address cue
            # ("j'habite à Aubagne, au 3 rue …"): its words, the number said before them.
            out.region_start, out.region_end = typed
            heard_words = text[typed[0] : typed[1]]
        elif region is not None:
            out.region_start, out.region_end = region.start, region.end
            out.determiner = region.determiner
            heard_words = text[region.start : region.end]
        elif spoken is not None and spoken.street:
            heard_words = spoken.street
        out.evidence = trust.with_address(
            text,
            out.region_start,
            out.region_end,
            out.evidence,
            spoken.citycode if spoken is not None else "",
        )
        if not heard_words.strip():
            out.reason = "aucune adresse localisée dans le message"
            return out

        evidence = self._evidence(text, out.region_end, spoken)
        out.postcodes = [p for p, _ in sorted(evidence.postcodes.items(), key=lambda x: -x[1])]
        numbers = self._heard_numbers(heard_words, spoken)
        out.housenumbers = [geotext.format_housenumber(n, rep) for n, rep, _ in numbers]
        out.housenumber_scores = [round(sim, 3) for _, _, sim in numbers]
        if numbers and numbers[0][2] >= 1.0:
            out.parsed_housenumber = out.housenumbers[0]

        ranked = self._rank(heard_words, evidence)
        # The letters in the address's words, or in a sentence after it (« Aubert, ça s'écrit
        # A U B E R T »).
        inline = _SPELLED.search(heard_words)
        spelled = inline.group() if inline is not None else ""
        if not spelled and out.region_end >= 0:
            spelled = spelled_later(text, out.region_end)
        if (
            spoken is not None
            and spoken.street
            and spelled
            and not geotext.street_key(spoken.street).street_type
            # The parser put the letters in place of a word (none: « Bodie B A U D I L L E »
            # searched as « Bodie » alone would lose the letters' evidence).
            and fold("".join(re.findall(r"[A-Za-z]", spelled)))
            in {fold(w) for w in spoken.street.split()}
        ):
            # « au six Ollympe Oiympe O L Y M P E »: the name as the letters spell it (the
            # parser put them in place of the word) is searched too; the words as heard carry
            # the misheard word twice and the letters' sounds. A typed street is searched as
            # parsed below.
            for street, score in self._rank(spoken.street, evidence).items():
                ranked[street] = max(score, ranked.get(street, score))
        if spoken is not None and spoken.street:
            # The street as parsed, through the historical matcher: keeps what it did well
            # (clean transcripts, SMS replies) among the candidates.
            for street, score in self._parsed_candidates(spoken):
                if street not in ranked or ranked[street] < score:
                    ranked[street] = score
        word = fold("".join(re.findall(r"[A-Za-z]", spelled)))
        said = {fold(w) for w in re.split(r"[\s'’-]+", spoken.street)} if spoken else set()
        if len(word) >= _SPELLED_WORD and word in said:
            # The caller spelled a word of the street as parsed: the streets whose name has it
            # as spelled come first (« quatre Aubert » sounds like « … Robert »; A U B E R T
            # says which).
            for street in ranked:
                if word in re.split(r"[\s'’-]+", fold(self.gz.name(street))):
                    ranked[street] += _SPELLED_BONUS
        order = sorted(ranked.items(), key=lambda kv: (-kv[1], self.gz.name(kv[0])))
        for street, score in order[:limit]:
            locality = self._area_bonus(street, evidence)
            out.candidates.append(
                StreetCandidate(
                    street=self.gz.name(street),
                    postcode=self.gz.postcode(street),
                    citycode=self.gz.citycode(street),
                    city=self.gz.city(street),
                    text_score=round(max(0.0, min(1.0, score - locality)), 3),
                    locality=round(locality, 3),
                    numbers=self._numbers_for(street, numbers),
                )
            )
        if not out.candidates:
            out.reason = f"aucune voie proche de « {heard_words.strip()} »"
        return out

    @staticmethod
    def _typed_span(text: str, spoken: SpokenAddress | None) -> tuple[int, int] | None:
        """Span of the typed street the parser found ("rue Paradis"), with the house number
        said just before it, when it can be found in the text."""
        if spoken is None or not spoken.street:
            return None
        if not geotext.street_key(spoken.street).street_type:
            return None
        at = text.lower().find(spoken.street.lower())
        if at < 0:
            return None
        start, end = at, at + len(spoken.street)
        if spoken.housenumber:
            before = text[:at].rstrip()
            words = re.findall(r"[\w'-]+", before)[-3:]
            for n in range(len(words), 0, -1):
                tail = " ".join(words[-n:])
                if normalize_housenumber(tail) == spoken.housenumber:
                    found = before.rfind(words[-n])
                    start = found if found >= 0 else start
                    break
        return start, end

    def _heard_numbers(
        self, heard: str, spoken: SpokenAddress | None
    ) -> list[tuple[int, str, float]]:
        found: list[tuple[int, str, float]] = []
        if spoken is not None and spoken.housenumber:
            parsed = geotext.parse_housenumber(spoken.housenumber)
            if parsed is not None:
                # « au 10h à passer mille » (audio corpus 6868, « au dix-sept impasse … »,
                # booked 10): a number written as a time is no house number read, only a
                # guess the vote may not confirm alone.
                timed = parsed[1] == "h" or _as_time(parsed[0], heard)
                found.append((parsed[0], parsed[1], _TIME_GUESS if timed else 1.0))
        words = geotext.tokens(heard)
        # Articles first (« au de la traverse … »: the number lost, its « de » kept).
        k = 0
        while k < len(words) - 1 and words[k] in _ARTICLES:
            k += 1
        if words and (
            words[k] in self.territory.one_word_types
            or tuple(words[k : k + 2]) in self.territory.two_word_types
        ):
            # The words start with the street's type: no number was heard before it, and
            # the type itself is no number's remnant (« impasse » sounds like « un passe »,
            # « traverse » like « quatre »).
            return found
        if words and (
            words[k] == "et" or (words[k + 1 : k + 2] == ["et"] and words[k] in _TENS_WORDS)
        ):
            # « au et un cours Foch », « au vingt et saint-victor »: a number cut by the
            # transcription (its tens, or its unit, lost); the sound of what follows is no
            # guess (« et un c… » gave 5, booked for 21).
            return found
        for n, sim in geotext.number_guesses(heard):
            if sim >= 0.6 and all(f[0] != n for f in found):
                found.append((n, "", min(sim, _TIME_GUESS) if _as_time(n, heard) else sim))
        return found

    def _numbers_for(self, street: int, heard: list[tuple[int, str, float]]) -> list[str]:
        labels = [h.label for h in self.gz.numbers(street)]
        first = [
            geotext.format_housenumber(n, rep)
            for n, rep, _ in heard
            if self.gz.has_number(street, n, rep)
        ]
        rest = [label for label in labels if label not in first]
        return (first + rest)[:_MAX_NUMBERS]

    # ------------------------------------------------------------------ evidence

    def _evidence(self, text: str, after: int, spoken: SpokenAddress | None) -> _Evidence:
        ev = _Evidence({}, {})
        if spoken is not None:
            if spoken.postcode in self.gz.by_postcode:
                ev.postcodes[spoken.postcode] = 1.0
            if spoken.citycode in self.gz.by_citycode or spoken.citycode in (
                self.gz.by_parent_citycode
            ):
                ev.citycodes[spoken.citycode] = 1.0
        if after >= 0:
            tail = text[after : after + 80]
            for postcode, weight in postcode_hints(tail, self.territory):
                if postcode in self.gz.by_postcode:
                    ev.postcodes[postcode] = max(ev.postcodes.get(postcode, 0.0), weight)
        return ev

    def _area_bonus(self, street: int, ev: _Evidence) -> float:
        gz = self.gz
        bonus = 0.0
        for postcode, weight in ev.postcodes.items():
            if gz.postcode(street) == postcode:
                bonus = max(bonus, _HEARD_AREA_BONUS * weight)
        for citycode, weight in ev.citycodes.items():
            code = gz.citycode(street)
            if code == citycode or parent_citycode(code) == citycode:
                bonus = max(bonus, _HEARD_AREA_BONUS * weight * (1.0 if code == citycode else 0.3))
        return bonus

    # ------------------------------------------------------------------ ranking

    def _rank(self, heard: str, ev: _Evidence) -> dict[int, float]:
        gz = self.gz
        key = geotext.phonetic(heard)
        if len(key) < 3:
            return {}
        pool: set[int] = set()
        for choices in (gz.phons, gz.phon_names):
            for _, _, i in process.extract(
                key, choices, scorer=fuzz.partial_ratio, limit=_PREFILTER, score_cutoff=50
            ):
                pool.add(int(i))
        local = self._local_ids(ev)
        if local is not None and len(local):
            ids, _, phons = self.geocoder.ranker.local_choices(local)
            for _, _, j in process.extract(
                key, phons, scorer=fuzz.partial_ratio, limit=_LOCAL_PREFILTER, score_cutoff=40
            ):
                pool.add(ids[j])
        text = _codes(key)
        idx = np.arange(len(text) + 1, dtype=np.int64)
        scores: dict[int, float] = {}
        for i in pool:
            full = gz.phons[i]
            name = gz.phon_names[i]
            sims = []
            if full:
                sims.append(1 - _fit(full, text, idx) / len(full) - _SHORT_KEY / len(full))
            if name and name != full:
                sims.append(
                    1
                    - _fit(name, text, idx) / len(name)
                    - _SHORT_KEY / len(name)
                    - _TYPE_MISSING_PENALTY
                )
            if not sims:
                continue
            scores[i] = max(sims) + self._area_bonus(i, ev)
        return scores

    def _local_ids(self, ev: _Evidence) -> np.ndarray | None:
        arrays: list[np.ndarray | None] = [
            self.gz.by_postcode[p] for p, w in ev.postcodes.items() if w >= 0.5
        ]
        arrays += [
            self.gz.by_citycode.get(c, self.gz.by_parent_citycode.get(c))
            for c, w in ev.citycodes.items()
            if w >= 0.5
        ]
        kept = [a for a in arrays if a is not None]
        return np.unique(np.concatenate(kept)) if kept else None

    def _parsed_candidates(self, spoken: SpokenAddress) -> list[tuple[int, float]]:
        q = geotext.street_key(spoken.street)
        if not q.street_type or not q.name:
            return []
        loc = self.geocoder.locality(spoken)
        ranked = self.geocoder.ranker.rank(q, loc)
        return [(c.street, c.rank) for c in ranked[:3] if c.rank >= self.geocoder.floor]
