"""Dataclasses of the address-resolution steps (cross the Temporal boundary).

After `understand_message`, a booking's address is resolved in three steps, in this order:

1. `propose_addresses` (default task queue, holds the gazetteer): the transcript and the
   address as understood → `AddressCandidates`: where the address is in the transcript, the
   house numbers heard, and the gazetteer streets that could have been said (searched over the
   whole street list by French phonetics, boosted by the arrondissement / postcode heard).
2. `score_address_candidates` (speech-to-text task queue, holds the Whisper model): the audio,
   the first-pass segments and the candidates → `AddressScores`: how much better the audio
   supports "… {numéro} {voie} …" for each candidate than silence does (forced scoring).
3. `resolve_address` (default task queue): candidates + scores → a `GeocodeResult` whose match
   carries a calibrated confidence that `domain.decision.decide_address` turns into book /
   confirm by SMS / escalate.

Items get the same treatment after `understand_message`: `refine_items` (speech-to-text
task queue) lets the audio choose the catalogue item for the words of the request that name
none ("un biffet" → "un buffet") and returns the `Understanding` completed.

Pure data: no I/O, no heavy imports. New fields always get defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.models import Segment, SpokenAddress, Understanding


@dataclass
class PlaceEvidence:
    """One thing the caller said about where they are, with its span in the transcript."""

    # "commune" | "arrondissement" | "postcode" | "outside" | "unheard" (a place said and
    # lost) | "misheard" (a commune of the territory read from a misspelled name)
    kind: str
    value: str  # INSEE code (commune, outside), arrondissement number, or postcode
    start: int = -1
    end: int = -1
    name: str = ""  # as the territory writes it, for the agent's note
    # Said right before or after the address's region (« …, à Aubagne »; what may stand
    # between: domain.trust.with_address): the address's own place, not another one the
    # message names (« je travaille à Marignane »).
    with_address: bool = False


@dataclass
class AddressSearchInput:
    text: str  # the transcript (first pass)
    address: SpokenAddress | None = None  # what `understand_message` extracted, if anything
    max_candidates: int = 0  # 0: the activity's default


@dataclass
class StreetCandidate:
    street: str  # official name, as in the gazetteer
    postcode: str
    citycode: str
    city: str
    text_score: float  # 0..1: how well the words heard match the name (phonetic, fuzzy)
    locality: float = 0.0  # evidence of the postcode / arrondissement / city heard (+ or -)
    # House numbers that exist in this street, the most plausible first (as the BAN writes
    # them: "12", "12 bis"): what the audio scoring may choose from.
    numbers: list[str] = field(default_factory=list)


@dataclass
class AddressCandidates:
    candidates: list[StreetCandidate] = field(default_factory=list)
    # Character span of the spoken address in the transcript (-1: not located): the part that
    # the audio hypotheses replace.
    region_start: int = -1
    region_end: int = -1
    determiner: str = ""  # what introduces the number: "au", "le" or ""
    housenumbers: list[str] = field(default_factory=list)  # numbers heard, most likely first
    # The number read as a number in the transcript (digits or number words), if any: the
    # others in `housenumbers` are only guessed from words that sound like one.
    parsed_housenumber: str = ""
    # How alike each of `housenumbers` sounds to the words heard (0..1, 1 for a reading).
    housenumber_scores: list[float] = field(default_factory=list)
    postcodes: list[str] = field(default_factory=list)  # postcodes heard, most likely first
    reason: str = ""  # why there is no candidate
    # What the caller said about the place (commune, arrondissement, postcode, a commune
    # outside the territory), with spans: the address found must agree with it to be booked.
    evidence: list[PlaceEvidence] = field(default_factory=list)
    # domain.trust.transcript_quality of the transcript: caps every confidence.
    transcript_quality: float = 1.0
    # The caller corrected themselves in the message (domain.trust.self_corrected).
    self_corrected: bool = False


@dataclass
class AddressScoringInput:
    audio_path: str
    text: str  # the transcript the candidates were proposed from
    segments: list[Segment]
    candidates: AddressCandidates
    call_id: str = ""
    max_streets: int = 0  # 0: the activity's default


@dataclass
class AddressScores:
    # Per candidate street, in the order of `AddressCandidates.candidates` (only the first
    # `len(street_scores)` were scored): log P(hypothesis | audio) - log P(hypothesis | silence),
    # in nats. Higher: the audio supports the hypothesis more. A street (or house number) the
    # vote did not align on the audio holds an upper bound of its score, more than 15 nats
    # behind the best (activities/speech/scoring.py, staged_scores).
    street_scores: list[float] = field(default_factory=list)
    # The same for the words as transcribed (no gazetteer street): when they explain the audio
    # far better than every candidate, the street said is probably not among them.
    heard_score: float | None = None
    number_street: int = -1  # index of the candidate whose house numbers were scored
    numbers: list[str] = field(default_factory=list)
    number_scores: list[float] = field(default_factory=list)
    processing_s: float = 0.0
    reason: str = ""  # why nothing was scored (no audio, no candidate, no segment)
    # domain.trust.transcript_quality of the transcript with its segments (average
    # log-probability, no-speech probability): caps every confidence, as the text's does.
    transcript_quality: float = 1.0


@dataclass
class ResolveAddressInput:
    candidates: AddressCandidates
    scores: AddressScores | None = None
    address: SpokenAddress | None = None
    # The words were written by the caller (an SMS), not transcribed: no dropped « bis ».
    written: bool = False


# --------------------------------------------------------------------------- items


@dataclass
class ItemSlot:
    """Words of the request that should name an item but match no catalogue form ("un
    biffet", "une chale"): the audio chooses among the catalogue forms that sound closest."""

    start: int  # character span in the transcript, quantity word included ("un biffet")
    end: int
    quantity: str  # the quantity word as heard ("un", "deux", "2")
    count: int
    forms: list[str] = field(default_factory=list)  # catalogue forms to try, closest first
    similarities: list[float] = field(default_factory=list)  # how each sounds like the words


@dataclass
class ItemRefineInput:
    audio_path: str
    text: str  # the transcript
    segments: list[Segment]
    understanding: Understanding
    call_id: str = ""
    # The text answers a call's items question: words without a quantity may name items.
    answer: bool = False
