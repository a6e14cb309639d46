"""What the bot does with an understood message and its geocoding: the single decision rule
shared by the workflow and the evaluation harness (`encombot eval`), so that what is measured
is exactly what runs.

Principle: never buy automation with wrong bookings. A booking needs a confident, complete
address; a plausible but uncertain one is confirmed with the caller by SMS; anything else goes
to a person with the candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.models import (
    AddressMatch,
    EscalationReason,
    GeocodeResult,
    GeocodeStatus,
    Intent,
    Understanding,
)

# The score of an address is a calibrated probability that it is the one said (see
# activities/geo/resolver.py: P(street) x P(number) from the audio scores, the words
# heard and the locality). Chosen on the development set (README, "Accuracy"):
# - at or above BOOK_THRESHOLD the bot books on its own. On that set every wrong address
#   scored below 0.85 and the right ones mostly above 0.9; 0.9 keeps a margin for voices and
#   streets never seen, and costs nothing but an SMS to answer for the right ones below it;
# - an address scoring at least CONFIRM_THRESHOLD may be offered to the caller by SMS ("Répondez
#   1 pour …"): the right address was among those offered whenever it was among the
#   candidates; below it, a person decides with the candidates.
BOOK_THRESHOLD = 0.9
CONFIRM_THRESHOLD = 0.15
# An address the audio voted on (a voicemail's usual path: Whisper's transcript and the audio
# votes) is booked on its own from AUDIO_BOOK_THRESHOLD, chosen by the audio path's folds
# (README, « Trust before booking »): on three audio corpora of voices never tuned on, each
# measured once before it was read (600 messages), the folds chose 0.96 to 1.01, and 0.90
# booked 8 wrong addresses (1.3 %) where 0.99 books 2 (0.33 %); a match below it is offered by
# SMS. The words alone (a request written, a message the vote could not run on) keep
# BOOK_THRESHOLD: their score is calibrated otherwise (right 97–100 % from 0.2 up, the folds
# choose 0.15). Live calls keep BOOK_THRESHOLD: every address is read back to the caller.
AUDIO_BOOK_THRESHOLD = 0.99


def book_threshold_for(voted: bool) -> float:
    """The committed threshold of an address resolved with (`voted`) or without the audio's
    vote."""
    return AUDIO_BOOK_THRESHOLD if voted else BOOK_THRESHOLD


MAX_SMS_CHOICES = 3


class DecisionKind(StrEnum):
    BOOK = "book"
    CONFIRM_BY_SMS = "confirm_by_sms"
    ESCALATE = "escalate"
    ANSWER = "answer"
    REFUSE = "refuse"
    OUT_OF_TERRITORY = "out_of_territory"
    CANCEL = "cancel"
    # A pickup request with items but no address heard, or a street without its number: the
    # caller is asked by SMS (their written reply is resolved without the audio's vote).
    ASK_ADDRESS = "ask_address"


@dataclass
class Decision:
    kind: str  # a DecisionKind value
    reason: str = ""  # an EscalationReason value when kind is escalate / out_of_territory
    detail: str = ""
    match: AddressMatch | None = None
    candidates: list[AddressMatch] = field(default_factory=list)


def decide_request(u: Understanding, *, can_text: bool = False) -> Decision | None:
    """The decision that needs no address lookup, or None when the address decides.
    `can_text`: the caller has a mobile to text, so an address not heard is asked by SMS
    rather than handed to a person (who would have to call back for it)."""
    if u.intent == Intent.QUESTION:
        return Decision(DecisionKind.ANSWER, EscalationReason.QUESTION, "question de l'appelant")
    if u.intent == Intent.CANCEL:
        return Decision(
            DecisionKind.CANCEL, EscalationReason.CANCEL_REQUEST, "demande d'annulation"
        )
    if u.intent != Intent.BOOKING:
        return Decision(
            DecisionKind.ESCALATE, EscalationReason.UNCLEAR_REQUEST, "demande non comprise"
        )
    if not u.items and u.refused_items:
        return Decision(DecisionKind.REFUSE, detail="seulement des objets non collectés")
    if not u.items:
        return Decision(DecisionKind.ESCALATE, EscalationReason.NO_ITEMS, "aucun objet reconnu")
    if u.address is None or u.address.is_empty():
        if can_text:
            return Decision(
                DecisionKind.ASK_ADDRESS,
                EscalationReason.NO_ADDRESS,
                "aucune adresse entendue : adresse demandée par SMS",
            )
        return Decision(
            DecisionKind.ESCALATE, EscalationReason.NO_ADDRESS, "aucune adresse entendue"
        )
    return None


def decide_address(
    geo: GeocodeResult,
    *,
    book_threshold: float = BOOK_THRESHOLD,
    confirm_threshold: float = CONFIRM_THRESHOLD,
) -> Decision:
    """Book, confirm with the caller, or hand to a person, from a geocoding result."""
    if geo.status == GeocodeStatus.OUT_OF_TERRITORY:
        return Decision(
            DecisionKind.OUT_OF_TERRITORY,
            EscalationReason.OUT_OF_TERRITORY,
            geo.reason or "adresse hors territoire",
            candidates=list(geo.candidates),
        )
    match = geo.match
    if geo.doubt == EscalationReason.ADDRESS_CONFLICT and match is not None:
        # What the caller said about the place outranks what the gazetteer found: a person
        # reads the conflict (geo.reason, in French) with the candidates.
        return Decision(
            DecisionKind.ESCALATE,
            EscalationReason.ADDRESS_CONFLICT,
            geo.reason or "adresse en contradiction avec ce que l'appelant a dit",
            candidates=[match, *(c for c in geo.candidates if c.label() != match.label())],
        )
    if (
        not geo.doubt
        and geo.status == GeocodeStatus.MATCHED
        and match is not None
        and match.sector
        and match.housenumber
        and match.score >= book_threshold
    ):
        return Decision(DecisionKind.BOOK, match=match)
    # Only complete addresses (a number that exists, inside a sector) can be offered to the
    # caller: a reply "1" must be enough to book.
    offers = [
        c
        for c in ([match] if match else []) + list(geo.candidates)
        if c is not None and c.housenumber and c.sector and c.score >= confirm_threshold
    ]
    unique: list[AddressMatch] = []
    for cand in offers:
        if all(cand.label() != u.label() for u in unique):
            unique.append(cand)
    if unique and geo.status in (GeocodeStatus.MATCHED, GeocodeStatus.AMBIGUOUS):
        return Decision(
            DecisionKind.CONFIRM_BY_SMS,
            geo.doubt or EscalationReason.LOW_CONFIDENCE,
            geo.reason or "adresse incertaine",
            candidates=unique[:MAX_SMS_CHOICES],
        )
    reason = (
        EscalationReason.LOW_CONFIDENCE
        if geo.status == GeocodeStatus.AMBIGUOUS
        else EscalationReason.ADDRESS_NOT_FOUND
    )
    # The best match first: the agent starts from what the bot found most likely.
    candidates = ([match] if match else []) + [
        c for c in geo.candidates if match is None or c.label() != match.label()
    ]
    return Decision(
        DecisionKind.ESCALATE, reason, geo.reason or "adresse introuvable", candidates=candidates
    )


def confirm_instead(decision: Decision, why: str) -> Decision:
    """A decision to book turned into the caller's confirmation by SMS of the same address:
    for an address the thresholds were not calibrated on (one the caller wrote by SMS)."""
    if decision.kind != DecisionKind.BOOK or decision.match is None:
        return decision
    return Decision(
        DecisionKind.CONFIRM_BY_SMS,
        EscalationReason.LOW_CONFIDENCE,
        why,
        candidates=[decision.match],
    )


def ask_instead(decision: Decision, geo: GeocodeResult, *, can_text: bool) -> Decision:
    """A street found without its house number (none heard, or one the street does not have)
    is asked by SMS, as an address not heard is, rather than handed to a person who would
    call back for it; the decision to escalate stands for when the caller does not answer."""
    if not (
        can_text
        and decision.kind == DecisionKind.ESCALATE
        and geo.status == GeocodeStatus.NUMBER_NOT_FOUND
    ):
        return decision
    return Decision(
        DecisionKind.ASK_ADDRESS,
        decision.reason,
        f"{decision.detail} : adresse demandée par SMS",
        candidates=list(decision.candidates),
    )
