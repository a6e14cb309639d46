"""Dataclasses that cross the Temporal boundary (workflow <-> activity, client <-> workflow).

Pure data: no I/O, no heavy imports. New fields always get defaults so that histories written
by an older version of a workflow still deserialize.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Intent(StrEnum):
    BOOKING = "booking"
    QUESTION = "question"
    CANCEL = "cancel"
    OTHER = "other"


class EscalationReason(StrEnum):
    """Why a workflow waits for a person. Values end up in the `EscalationReason` search
    attribute, so they are stable identifiers, never free text or personal data."""

    AUDIO_UNUSABLE = "audio_unusable"
    NO_ADDRESS = "no_address"
    ADDRESS_NOT_FOUND = "address_not_found"
    LOW_CONFIDENCE = "low_confidence"
    OUT_OF_TERRITORY = "out_of_territory"
    # The address found contradicts the commune, arrondissement or postcode the caller said.
    ADDRESS_CONFLICT = "address_conflict"
    # The house number was chosen by the audio vote, no word of the transcript carries it.
    NUMBER_NOT_SAID = "number_not_said"
    # The street found has another type and another name than the one said ("chemin
    # Augustin Roubion" said, "Rue Augustin Roux" found): the caller confirms by SMS.
    STREET_DIFFERS = "street_differs"
    # The caller corrected themselves ("au dix, non pardon, au douze"): they confirm by SMS.
    SELF_CORRECTION = "self_correction"
    # Only the words gave the house number (no audio vote on it), and the street also has it
    # with a suffix ("23" heard, "23 bis" exists): a dropped "bis" cannot be ruled out.
    NUMBER_SUFFIX = "number_suffix"
    NO_ITEMS = "no_items"
    TOO_MANY_ITEMS = "too_many_items"
    NO_SLOT = "no_slot"
    BOOKING_REJECTED = "booking_rejected"
    SMS_FAILED = "sms_failed"
    NO_MOBILE_NUMBER = "no_mobile_number"
    QUESTION = "question"
    CANCEL_REQUEST = "cancel_request"
    UNCLEAR_REQUEST = "unclear_request"
    UNMATCHED_SMS = "unmatched_sms"
    SMS_REPLY = "sms_reply"
    SMS_UNDELIVERED = "sms_undelivered"
    MISSED_CALL_CALLBACK = "missed_call_callback"
    # A live call the bot could not finish (transfer asked, caller hung up, worker lost).
    LIVE_CALL_CALLBACK = "live_call_callback"


class Status(StrEnum):
    """Value of the `EncombotStatus` search attribute."""

    RECEIVED = "received"
    TRANSCRIBING = "transcribing"
    UNDERSTANDING = "understanding"
    GEOCODING = "geocoding"
    BOOKING = "booking"
    NOTIFYING = "notifying"
    WAITING_AGENT = "waiting_agent"
    WAITING_CALLER = "waiting_caller"  # an SMS asked the caller to choose the address
    BOOKED = "booked"
    REFUSED = "refused"
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class GeocodeStatus(StrEnum):
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    NUMBER_NOT_FOUND = "number_not_found"
    NOT_FOUND = "not_found"
    OUT_OF_TERRITORY = "out_of_territory"


class BookingStatus(StrEnum):
    BOOKED = "booked"
    ALREADY_BOOKED = "already_booked"
    NO_SLOT = "no_slot"
    TOO_MANY_ITEMS = "too_many_items"


# --------------------------------------------------------------------------- workflow I/O


@dataclass
class VoicemailInput:
    call_id: str
    audio_path: str
    caller_number: str
    # ISO 8601 string rather than datetime: keeps the input trivially serializable and lets the
    # workflow parse it deterministically.
    received_at: str = ""
    # Transcription runs on its own task queue (CPU-heavy workers); empty: the workflow's.
    stt_task_queue: str = ""
    # How long the caller has to answer an "which address?" SMS before a person takes over.
    confirm_timeout_s: int = 12 * 3600
    # Text channel (a caller's SMS reply to a missed call): the request as written. When set,
    # there is no audio to transcribe or score; `audio_path` may be empty.
    text: str = ""
    channel: str = "voicemail"  # "voicemail" | "sms"
    # After a booking: when to ask whether the confirmation SMS was delivered (seconds after
    # it was sent; empty: the workflow's default schedule) and how long after the eve-of-
    # pickup reminder a reply (ANNULER) is still listened to.
    delivery_checks_s: list[int] = field(default_factory=list)
    listen_after_reminder_s: int = 6 * 3600
    # The recording could not be had: the reason code of the ingress's refusal of its
    # `audio_url` (workers/ingress/audio_url.py). A person listens to nothing and calls back.
    audio_refused: str = ""


@dataclass
class VoicemailResult:
    call_id: str
    status: str
    reason: str = ""
    booking_reference: str = ""
    pickup_date: str = ""
    sector: str = ""
    sms_text: str = ""
    escalations: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- transcription


@dataclass
class TranscribeInput:
    audio_path: str
    call_id: str = ""
    # Optional biasing for a second, targeted pass (gazetteer street names).
    hotwords: str = ""
    initial_prompt: str = ""


@dataclass
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float = 0.0


@dataclass
class TranscribeResult:
    text: str
    segments: list[Segment]
    duration_s: float
    language: str = "fr"
    avg_logprob: float = 0.0
    processing_s: float = 0.0
    model: str = ""
    # The task queue of the worker that transcribed, which keeps the decoded audio for the
    # message's next STT activities ("" : none; workflows/pipeline_steps.py).
    worker_queue: str = ""


# --------------------------------------------------------------------------- understanding


@dataclass
class ItemCount:
    item: str  # canonical catalogue name, e.g. "réfrigérateur"
    count: int = 1


@dataclass
class SpokenAddress:
    """The address as understood from the message, before any gazetteer lookup."""

    housenumber: str = ""  # digits plus an optional suffix: "12", "12 bis"
    street: str = ""  # as heard, e.g. "boulevard Hodoul"
    postcode: str = ""  # "13009"
    citycode: str = ""  # INSEE code when known: arrondissement (13209) or commune
    city: str = ""  # "Marseille", "Aubagne"...
    # The caller took back a number or a street and the parser kept the later one ("au dix,
    # non, au douze"): which one is meant is not certain enough to book on.
    corrected: bool = False

    def is_empty(self) -> bool:
        return not (self.street or self.housenumber)


@dataclass
class UnderstandInput:
    text: str
    caller_number: str = ""


@dataclass
class Understanding:
    intent: str  # an Intent value
    address: SpokenAddress | None = None
    items: list[ItemCount] = field(default_factory=list)
    refused_items: list[ItemCount] = field(default_factory=list)
    callback_number: str = ""  # E.164
    caller_name: str = ""
    confidence: float = 0.0
    notes: list[str] = field(default_factory=list)
    # Where to take the refused items (French, from the catalogue), for the SMS.
    refusal_advice: str = ""
    # A question asked beside a pickup request ("…, et aussi, vous prenez les pneus ?"): its
    # words as said, answered by SMS beside the booking. "" when none (and on a question
    # alone, whose intent is "question": the whole message is then the question).
    question: str = ""


# --------------------------------------------------------------------------- geocoding


@dataclass
class AddressMatch:
    housenumber: str
    street: str
    postcode: str
    citycode: str
    city: str
    lon: float
    lat: float
    score: float  # 0..1
    sector: str = ""  # collection sector id ("" when the point is in none)
    ban_id: str = ""

    def label(self) -> str:
        number = f"{self.housenumber} " if self.housenumber else ""
        return f"{number}{self.street}, {self.postcode} {self.city}".strip()


@dataclass
class GeocodeInput:
    address: SpokenAddress


@dataclass
class GeocodeResult:
    status: str  # a GeocodeStatus value
    match: AddressMatch | None = None
    candidates: list[AddressMatch] = field(default_factory=list)
    reason: str = ""
    # The deployment's thresholds for this result (Settings.geo), which the workflow's
    # decision applies; 0: domain.decision's calibrated defaults.
    book_threshold: float = 0.0
    confirm_threshold: float = 0.0
    # Why the match may not be booked without the caller or a person, whatever its score (an
    # EscalationReason value: address_conflict, number_not_said); "" when nothing stops it.
    # Results recorded before this field replay with "" (they had no such check).
    doubt: str = ""
    # The transcript's own quality (domain.trust.transcript_quality), already applied to the
    # scores: kept for the report.
    transcript_quality: float = 1.0


# --------------------------------------------------------------------------- booking


@dataclass
class BookInput:
    call_id: str  # idempotency key: one booking per call, whatever the retries
    sector: str
    address: AddressMatch
    items: list[ItemCount]
    caller_number: str = ""
    # ISO date "YYYY-MM-DD" of the request; lead time counts from it.
    requested_on: str = ""
    # ISO date the caller agreed to (a live call proposes one): booked when it still has a
    # place, else the first free day as usual. Empty: the first free day.
    preferred_date: str = ""
    # Who made it, for the audit trail: "bot", or "agent:<id>" when an agent's correction
    # led to it.
    actor: str = "bot"


@dataclass
class BookResult:
    status: str  # a BookingStatus value
    reference: str = ""
    pickup_date: str = ""  # ISO date
    sector: str = ""
    items: list[ItemCount] = field(default_factory=list)
    reason: str = ""
    # Items beyond the per-pickup limit that were not booked (calendar `over_limit:
    # book_what_fits`): the SMS says so.
    left_out: list[ItemCount] = field(default_factory=list)
    # When the eve-of-pickup reminder is due (ISO 8601, UTC); empty: no reminder.
    reminder_at: str = ""


# --------------------------------------------------------------------------- SMS


@dataclass
class NotifyInput:
    idempotency_key: str  # e.g. "voicemail-42:confirmation"; a retry never sends twice
    to: str  # E.164
    template: str  # file name under corpus/templates/sms without ".j2"
    context: dict[str, Any] = field(default_factory=dict)
    # The sending case listens to this number's replies (it publishes the phone key): the
    # send records the route (activities/messaging/routes.py). False for an SMS whose replies
    # belong to another case (a missed call's booking status: the booking's follow-up).
    listen: bool = True
    # This send opens the case's exchange with the number: its route counts from now (the
    # router prefers the case that began texting a number last), also when a closed run under
    # the same workflow id left one (a missed call's id is the number's).
    opens_exchange: bool = False


@dataclass
class NotifyResult:
    message_id: str
    text: str
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    backend: str
    duplicate: bool = False
    # Keyed hash of the recipient's number (domain.phone.phone_key): the workflow publishes
    # it as a search attribute so that the caller's reply finds the case.
    phone_key: str = ""


# --------------------------------------------------------------------------- agent queue


@dataclass
class TerritoryReference:
    """What the `resolve` validator may check without I/O: the territory's postcodes and
    INSEE codes, and the item catalogue."""

    postcodes: list[str] = field(default_factory=list)
    citycodes: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    refused_items: list[str] = field(default_factory=list)
    # item_key(name or synonym) -> canonical name, accepted and refused items alike.
    item_aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class TerritoryReferenceInput:
    pass


@dataclass
class ResolveInput:
    """An agent's correction, sent as the `resolve` Update from the Temporal UI or the CLI.

    action: "correct" (fill the fields below and resume), "cancel" (close the request with
    `comment` as the reason) or "choose" (pick `candidate`, 1-based, among those shown)."""

    agent_id: str
    action: str = "correct"
    housenumber: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    items: list[ItemCount] = field(default_factory=list)
    callback_number: str = ""
    candidate: int = 0
    comment: str = ""


@dataclass
class SmsReplyInput:
    """A text message from the caller (2-way SMS), signalled to the waiting workflow."""

    text: str
    sender: str = ""
    received_at: str = ""
    # The provider's id of the incoming message: a poller retried after a crash may signal the
    # same SMS twice; the workflow handles each id once.
    message_id: str = ""


@dataclass
class ResolveResult:
    accepted: bool
    message: str
