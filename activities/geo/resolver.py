"""Resolution: the candidate streets, their house numbers and the audio scores combined into one
address and a calibrated confidence.

With audio scores, each candidate street gets the evidence sum `geotext.combined_street_score`
(audio log-likelihood ratio + words heard + locality, in nats) and the probabilities are its
softmax; the house numbers of the best street get the softmax of their own audio scores. The
confidence of an address is P(street) × P(number). The temperatures are calibrated on the
development set (maximum likelihood of the right street / number, see README "Accuracy"): with
them, a confidence of 0.9 is right about 9 times out of 10 on that set."""

from __future__ import annotations

import math
from collections.abc import Sequence

from activities.geo.local_names import LocalNames
from activities.geo.namesakes import in_commune_said, spelling_key
from activities.geo.street_search import AddressSearch
from domain import geotext, trust
from domain.address_models import AddressCandidates, AddressScores
from domain.models import (
    AddressMatch,
    EscalationReason,
    GeocodeResult,
    GeocodeStatus,
    SpokenAddress,
)

__all__ = ["AddressResolver"]

STREET_TEMPERATURE = 1.1  # nats
NUMBER_TEMPERATURE = 1.1  # nats
TEXT_TEMPERATURE = 1.0  # nats, when no audio score is available (text evidence only)
# Without audio, how far a house number read from the transcript is trusted: parsed as a
# number (digits, number words) or only guessed from words that sound like one.
PARSED_NUMBER_CONFIDENCE = 0.95
GUESSED_NUMBER_CONFIDENCE = 0.5
# A number the transcript reads as a number ("11", "quarante") is evidence too: Whisper seldom
# turns a number into another valid one (on the development set, never), while the forced
# scores of close numbers ("un" / "onze") differ by a few nats only.
PARSED_NUMBER_NATS = 4.0
# A street said that is not in the gazetteer: every candidate matches the words poorly, and
# the words as transcribed explain the audio far better than any candidate.
NOVEL_TEXT_MAX = 0.45
NOVEL_GAP_NATS = 20.0


# The suffixes offered first when a number has several twins (the SMS shows three choices).
_SUFFIX_ORDER = {"bis": 0, "ter": 1, "quater": 2}


def _reads_as(label: str, parsed: tuple[int, str] | None) -> bool:
    """Whether the transcript's reading supports this house number: the same, or the same
    number with a suffix when the reading has none (a transcription drops "bis" more often
    than it invents one): the audio alone then decides between "12" and "12 bis"."""
    number = geotext.parse_housenumber(label)
    if number is None or parsed is None:
        return False
    return number == parsed or (not parsed[1] and number[0] == parsed[0])


def _softmax(values: Sequence[float], temperature: float) -> list[float]:
    top = max(values)
    weights = [math.exp((v - top) / temperature) for v in values]
    total = sum(weights)
    return [w / total for w in weights]


class AddressResolver:
    def __init__(self, search: AddressSearch) -> None:
        self.search = search
        self.geocoder = search.geocoder
        self.gz = search.gz
        self.local_names = LocalNames(search.gz)

    def resolve(
        self,
        cands: AddressCandidates,
        scores: AddressScores | None,
        spoken: SpokenAddress | None,
        *,
        written: bool = False,
    ) -> GeocodeResult:
        """`written`: the words are the caller's own (an SMS), not a transcript."""
        early = self._without_candidates(cands, spoken)
        if early is not None:
            return early
        audio = scores is not None and bool(scores.street_scores)
        keys, streets, values, longer = in_commune_said(
            self.gz,
            self.search.territory,
            cands,
            *self._street_values(cands, scores if audio else None),
        )
        if not keys:
            return GeocodeResult(status=GeocodeStatus.NOT_FOUND.value, reason="aucune voie")
        p_street = _softmax(values, STREET_TEMPERATURE if audio else TEXT_TEMPERATURE)
        order = sorted(range(len(keys)), key=lambda j: -p_street[j])
        top = order[0]
        if (
            audio
            and scores is not None
            and scores.heard_score is not None
            and cands.candidates[keys[top]].text_score <= NOVEL_TEXT_MAX
            and scores.heard_score - scores.street_scores[keys[top]] >= NOVEL_GAP_NATS
        ):
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value,
                candidates=self._streets_only(streets, order, p_street),
                reason="la voie entendue ne ressemble à aucune voie connue",
            )
        numbers = self._numbers(cands, scores, keys[top], spoken)
        if not numbers:
            return GeocodeResult(
                status=GeocodeStatus.NUMBER_NOT_FOUND.value,
                candidates=self._streets_only(streets, order, p_street),
                reason=f"aucun numéro entendu pour {self.gz.name(streets[top])}",
            )
        best_number, p_number = numbers[0]
        match = self._match(streets[top], best_number, p_street[top] * p_number)
        twin = None if match is not None else self._twin_with(streets, order, best_number)
        if twin is not None:
            # The number is filed under the other spelling of the same street.
            order = [twin, *(j for j in order if j != twin)]
            top = twin
        if match is not None or twin is not None:
            # The gazetteer may list one street twice ("Traverse Camp Long", "Traverse
            # Camp-Long"): one street, one probability.
            order = self._fold_twins(streets, order, p_street, best_number)
            match = self._match(streets[top], best_number, p_street[top] * p_number)
        if match is None:
            return GeocodeResult(
                status=GeocodeStatus.NUMBER_NOT_FOUND.value,
                candidates=self._streets_only(streets, order, p_street),
                reason=f"pas de numéro {best_number} dans {self.gz.name(streets[top])}",
            )
        if not match.sector:
            return GeocodeResult(
                status=GeocodeStatus.OUT_OF_TERRITORY.value,
                candidates=[match],
                reason="l'adresse n'est dans aucun secteur de collecte",
            )
        alternatives = self._alternatives(streets, order, p_street, numbers)
        # The audio tells a number from its suffixed twin only if it scored the twin too.
        voted = (
            {geotext.parse_housenumber(n) for n in scores.numbers}
            if scores is not None and scores.number_street == keys[top] and scores.number_scores
            else set()
        )
        # A caller who writes « 12 » means 12: only a transcription drops the « bis ».
        twins = [
            m
            for m in ([] if written else self._suffix_twins(streets, top, match))
            if geotext.parse_housenumber(m.housenumber) not in voted
        ]
        if twins:
            # Offered beside the match: a reply "2" must be enough to book the twin.
            labels = {a.label() for a in alternatives}
            alternatives = [*(m for m in twins if m.label() not in labels), *alternatives]
        reason = ""
        status = GeocodeStatus.MATCHED
        if p_street[top] < 0.5:
            status = GeocodeStatus.AMBIGUOUS
            reason = "plusieurs voies possibles"
        elif p_number < 0.5:
            reason = "numéro incertain"
        return self._trusted(
            cands,
            scores,
            GeocodeResult(
                status=status.value,
                match=match,
                candidates=alternatives[: self.geocoder.max_candidates - 1],
                reason=reason,
            ),
            spoken,
            twins,
            longer_than_said=streets[top] in longer,
        )

    def _suffix_twins(
        self, streets: list[int], top: int, match: AddressMatch
    ) -> list[AddressMatch]:
        """The same number with a suffix in the same street, or in another spelling of it,
        when the match has none ("23 bis" beside "23"), at the match's confidence: the words
        alone cannot tell them apart once a transcription drops the "bis". "bis" and "ter"
        first (the commonest), one per suffix."""
        parsed = geotext.parse_housenumber(match.housenumber)
        if parsed is None or parsed[1]:
            return []
        key = spelling_key(self.gz.name(streets[top]))
        city = self.gz.citycode(streets[top])
        same = [streets[top]] + [
            s
            for s in dict.fromkeys(streets)
            if s != streets[top]
            and spelling_key(self.gz.name(s)) == key
            and self.gz.citycode(s) == city
        ]
        found: dict[str, AddressMatch] = {}
        for street in same:
            for hn in self.gz.variants(street, parsed[0]):
                rep = geotext.canonical_rep(hn.rep)
                if rep and rep not in found:
                    found[rep] = self.geocoder.address(street, hn, match.score)
        return [found[r] for r in sorted(found, key=lambda r: (_SUFFIX_ORDER.get(r, 9), r))]

    def _trusted(
        self,
        cands: AddressCandidates,
        scores: AddressScores | None,
        result: GeocodeResult,
        spoken: SpokenAddress | None = None,
        twins: Sequence[AddressMatch] = (),
        *,
        longer_than_said: bool = False,
    ) -> GeocodeResult:
        """The result with the transcript's quality applied to every confidence (a garbled or
        looping transcript cannot be outvoted by the audio) and what forbids booking it
        without the caller or a person: an address that contradicts the place the caller
        said, a house number no word of the transcript carries."""
        quality = min(
            cands.transcript_quality, scores.transcript_quality if scores is not None else 1.0
        )
        result.transcript_quality = quality
        for m in [result.match, *result.candidates]:
            if m is not None:
                m.score = round(min(m.score, m.score * quality), 3)
        match = result.match
        if match is None:
            return result
        conflict = trust.address_conflict(match, cands.evidence, self.search.territory)
        if conflict:
            result.doubt = EscalationReason.ADDRESS_CONFLICT.value
            result.reason = conflict
        elif any(e.kind == "unheard" for e in cands.evidence) or self._place_in_street(
            spoken, match
        ):
            result.doubt = EscalationReason.LOW_CONFIDENCE.value
            result.reason = "un lieu dit après l'adresse (« à … ») n'a pas été compris"
        elif any(e.kind == "misheard" for e in cands.evidence):
            result.doubt = EscalationReason.LOW_CONFIDENCE.value
            result.reason = "la commune dite a été devinée d'un nom mal transcrit"
        elif (
            spoken is not None
            and spoken.city
            and self.geocoder.known_city(spoken.city) is None
            and not self.local_names.carries(spoken.city, match.citycode)
        ):
            # « … avenue des Carmélites, à Oigon »: a place named that is no commune of the
            # territory, nor one outside that the lists know (Orgon misheard); the street
            # found inside cannot be booked blindly.
            result.doubt = EscalationReason.LOW_CONFIDENCE.value
            result.reason = "la commune dite n'a pas été reconnue"
        elif spoken is not None and trust.number_cut_short(cands.parsed_housenumber, spoken.street):
            result.doubt = EscalationReason.NUMBER_NOT_SAID.value
            result.reason = (
                f"numéro entendu {cands.parsed_housenumber} suivi de « et » : "
                "la fin du nombre a pu être perdue"
            )
        elif not trust.number_said(
            match.housenumber,
            cands.parsed_housenumber,
            cands.housenumbers,
            cands.housenumber_scores,
        ):
            result.doubt = EscalationReason.NUMBER_NOT_SAID.value
            result.reason = (
                f"numéro {match.housenumber} deviné d'un mot qui lui ressemble"
                if trust.number_guessed(match.housenumber, cands.housenumbers)
                else f"numéro {match.housenumber} choisi par l'audio, jamais entendu"
            )
        elif spoken is not None and trust.street_only_number(spoken.street):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "la voie n'a été entendue que comme un nombre"
        elif spoken is not None and trust.street_disagrees(spoken.street, match.street):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "la voie trouvée n'a ni le type ni le nom de la voie entendue"
        elif spoken is not None and trust.street_type_contradicts(spoken.street, match.street):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "la voie trouvée n'a pas le type de voie entendu"
        elif spoken is not None and trust.street_type_differs(spoken.street, match.street):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "la voie trouvée a un autre type que la voie entendue"
        elif spoken is not None and trust.street_word_replaced(
            spoken.street, match.street, same_length=bool(scores and scores.street_scores)
        ):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "un mot du nom de la voie trouvée diffère de la voie entendue"
        elif spoken is not None and trust.street_name_unlike(spoken.street, match.street):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "aucun mot du nom de la voie trouvée ne ressemble à la voie entendue"
        elif spoken is not None and trust.street_within(spoken.street, match.street):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "la voie trouvée n'est qu'une partie du nom de la voie entendue"
        elif (
            # Without the audio's vote only: Whisper garbles a name into words of its own
            # (« cadre en passe du prêt » for « 4 impasse Dupré »), which the vote reads
            # through; the text alone cannot (on ../shared/voicemails this rule sent 10 right
            # bookings of 17 to SMS).
            (scores is None or not scores.street_scores)
            and spoken is not None
            and trust.street_partly_said(spoken.street, match.street)
        ):
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "la voie trouvée n'a qu'une partie des mots de la voie entendue"
        elif longer_than_said:
            # Chosen over a street of another commune named as said (« avenue Mistral, à La
            # Ciotat » → « Avenue Frédéric Mistral »): the words the caller left out are a guess.
            result.doubt = EscalationReason.STREET_DIFFERS.value
            result.reason = "la voie trouvée porte un nom plus long que celui entendu"
        elif cands.self_corrected:
            result.doubt = EscalationReason.SELF_CORRECTION.value
            result.reason = "l'appelant s'est repris en donnant l'adresse"
        elif twins:
            result.doubt = EscalationReason.NUMBER_SUFFIX.value
            result.reason = f"le numéro {match.housenumber} existe aussi en " + ", ".join(
                m.housenumber for m in twins
            )
        return result

    def _without_candidates(
        self, cands: AddressCandidates, spoken: SpokenAddress | None
    ) -> GeocodeResult | None:
        """The result when no candidate can be the address, else None."""
        if not cands.candidates:
            return GeocodeResult(
                status=GeocodeStatus.NOT_FOUND.value,
                reason=cands.reason or "aucune voie candidate",
            )
        # A commune of the outside list named as the caller's place ("à Arles") makes the
        # case out of the territory even when a street of that name exists inside.
        outside = trust.outside_commune(cands.evidence)
        if outside is not None:
            return GeocodeResult(
                status=GeocodeStatus.OUT_OF_TERRITORY.value,
                reason=f"commune hors territoire : {outside.name}",
            )
        # A city named outside the territory ("à Toulon", « à Kavayon ») outweighs streets
        # that merely sound alike; a postcode alone does not (transcriptions make up
        # postcodes: "treize mille dix" → "10 000", « treize zéro zéro huit » → « 30.008 »,
        # no doubt either: ../shared/voicemails books two such right addresses). Not a name
        # like none outside (« à Rd », « Exxon Provence »: Whisper's garble), nor one said
        # with a place inside (« à Huile, à Marseille »: a lieu-dit): the address found is then
        # confirmed (`_trusted`: « la commune dite n'a pas été reconnue »).
        if (
            spoken is not None
            and spoken.city
            and self.geocoder.known_city(spoken.city) is None
            and max(c.text_score for c in cands.candidates) < 0.9
            and self.search.territory.sounds_outside(spoken.city)
            and not any(e.kind in ("commune", "postcode", "misheard") for e in cands.evidence)
        ):
            return GeocodeResult(
                status=GeocodeStatus.OUT_OF_TERRITORY.value,
                reason=f"city '{spoken.city}' is not in the territory",
            )
        return None

    def _place_in_street(self, spoken: SpokenAddress | None, match: AddressMatch) -> bool:
        """A place garbled after the street that its name took in (trust.place_in_street),
        unless a street of the address's commune carries that name (a quartier, a cité)."""
        if spoken is None:
            return False
        place = trust.place_in_street(spoken.street, match.street, self.search.territory)
        return bool(place) and not self.local_names.carries(place, match.citycode)

    def _street_values(
        self, cands: AddressCandidates, scores: AddressScores | None
    ) -> tuple[list[int], list[int], list[float]]:
        """(candidate indexes, gazetteer streets, evidence in nats) of the candidates found in
        the gazetteer (and scored by the audio, when `scores` are given)."""
        keys: list[int] = []
        streets: list[int] = []
        values: list[float] = []
        for k, cand in enumerate(cands.candidates):
            street = self.search.street_id(cand.street, cand.postcode, cand.citycode)
            if street is None:
                continue
            heard = 0.0
            if scores is not None:
                if k >= len(scores.street_scores):
                    continue
                heard = scores.street_scores[k]
            keys.append(k)
            streets.append(street)
            values.append(geotext.combined_street_score(heard, cand.text_score, cand.locality))
        return keys, streets, values

    def _fold_twins(
        self, streets: list[int], order: list[int], p_street: list[float], number: str
    ) -> list[int]:
        """`order` without the other spellings of its first street that lack `number`, their
        probability added to it (`p_street` is updated). A spelling that has the number too
        stays apart: two streets the words cannot separate."""
        top = order[0]
        key = spelling_key(self.gz.name(streets[top]))
        kept = [top]
        for j in order[1:]:
            if (
                spelling_key(self.gz.name(streets[j])) == key
                and self.gz.citycode(streets[j]) == self.gz.citycode(streets[top])
                and self._match(streets[j], number, 1.0) is None
            ):
                p_street[top] += p_street[j]
                p_street[j] = 0.0
            else:
                kept.append(j)
        return kept

    def _twin_with(self, streets: list[int], order: list[int], number: str) -> int | None:
        """The candidate that is the best street written otherwise (same words but for
        hyphens, case, accents and articles; same commune) and has `number`, if any."""
        top = order[0]
        key = spelling_key(self.gz.name(streets[top]))
        for j in order[1:]:
            if (
                spelling_key(self.gz.name(streets[j])) == key
                and self.gz.citycode(streets[j]) == self.gz.citycode(streets[top])
                and self._match(streets[j], number, 1.0) is not None
            ):
                return j
        return None

    def _streets_only(
        self, streets: list[int], order: list[int], p_street: list[float]
    ) -> list[AddressMatch]:
        """The most probable streets, without a house number."""
        return [
            self.geocoder.address(streets[j], None, round(p_street[j], 3))
            for j in order[: self.geocoder.max_candidates]
        ]

    def _alternatives(
        self,
        streets: list[int],
        order: list[int],
        p_street: list[float],
        numbers: list[tuple[str, float]],
    ) -> list[AddressMatch]:
        """Runners-up, most probable first: other numbers of the best street, the best number
        in the other streets."""
        top = order[0]
        best_number, p_number = numbers[0]
        alternatives: list[AddressMatch] = []
        for number, p in numbers[1:3]:
            alt = self._match(streets[top], number, p_street[top] * p)
            if alt is not None:
                alternatives.append(alt)
        for j in order[1 : self.geocoder.max_candidates]:
            alt = self._match(streets[j], best_number, p_street[j] * p_number)
            alternatives.append(
                alt
                if alt is not None
                else self.geocoder.address(streets[j], None, round(p_street[j] * p_number, 3))
            )
        alternatives.sort(key=lambda m: -m.score)
        return alternatives

    def _numbers(
        self,
        cands: AddressCandidates,
        scores: AddressScores | None,
        k: int,
        spoken: SpokenAddress | None,
    ) -> list[tuple[str, float]]:
        """House numbers of candidate k with their probabilities, most probable first."""
        if (
            scores is not None
            and scores.number_street == k
            and scores.number_scores
            and len(scores.number_scores) == len(scores.numbers)
        ):
            parsed = geotext.parse_housenumber(cands.parsed_housenumber or "")
            values = [
                v + (PARSED_NUMBER_NATS if _reads_as(n, parsed) else 0.0)
                for n, v in zip(scores.numbers, scores.number_scores, strict=True)
            ]
            probs = _softmax(values, NUMBER_TEMPERATURE)
            ranked = sorted(zip(scores.numbers, probs, strict=True), key=lambda t: -t[1])
            return list(ranked)
        said = geotext.parse_housenumber(spoken.housenumber if spoken is not None else "")
        out: list[tuple[str, float]] = []
        for label in cands.housenumbers:
            sure = said is not None and geotext.parse_housenumber(label) == said
            out.append((label, PARSED_NUMBER_CONFIDENCE if sure else GUESSED_NUMBER_CONFIDENCE / 2))
        out.sort(key=lambda t: -t[1])
        return out

    def _match(self, street: int, number: str, score: float) -> AddressMatch | None:
        parsed = geotext.parse_housenumber(number)
        if parsed is None:
            return None
        found = self.gz.find_number(street, *parsed)
        if found is None:
            return None
        return self.geocoder.address(street, found, round(score, 3))
