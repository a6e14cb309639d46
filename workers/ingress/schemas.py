"""The ingress's request and response models: its OpenAPI schemas, and the content checks
(422) of the bodies it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from domain.missed_call import is_withheld
from domain.phone import to_e164

CALL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MAX_SMS_CHARS = 2000
# Telephony clocks drift; a call "received" further in the future is a client bug.
_MAX_CLOCK_AHEAD = timedelta(days=1)
_OLDEST_YEAR = 2000


# --------------------------------------------------------------------------- request models


def _check_caller_id(value: str) -> str:
    if not is_withheld(value) and to_e164(value) is None:
        raise ValueError("numéro de l'appelant illisible (E.164 attendu, ou vide si masqué)")
    return value


def _check_received_at(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("date hors limites") from None
    if utc.year < _OLDEST_YEAR:
        raise ValueError(f"date antérieure à {_OLDEST_YEAR}")
    if utc > datetime.now(UTC) + _MAX_CLOCK_AHEAD:
        raise ValueError("date dans le futur")
    return utc


class CallFields(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    call_id: str = Field(
        pattern=CALL_ID_PATTERN,
        description="Identifiant de l'appel chez l'opérateur : clé d'idempotence.",
        examples=["c-20261128-190012-0042"],
    )
    caller_id: str = Field(
        max_length=40,
        description="Numéro de l'appelant (E.164 de préférence) ; vide ou `anonymous` si masqué.",
        examples=["+33612345678"],
    )
    received_at: AwareDatetime = Field(
        description="Heure de l'appel, ISO 8601 avec fuseau.",
        examples=["2026-11-28T19:00:12+01:00"],
    )

    _caller = field_validator("caller_id")(_check_caller_id)
    _received = field_validator("received_at")(_check_received_at)


class MissedCallRequest(CallFields):
    """A call nobody answered (no message left)."""


class VoicemailFields(CallFields):
    """The text fields of a multipart voicemail upload (the file is the `audio` part)."""


class VoicemailUrlRequest(CallFields):
    """A voicemail whose audio the ingress fetches (allow-listed hosts only)."""

    audio_url: str = Field(
        min_length=1,
        max_length=2048,
        description=(
            "URL de l'enregistrement, sur un hôte autorisé (ENCOMBOT_INGRESS__AUDIO_URL_HOSTS)."
        ),
        examples=["https://telephonie.example.fr/vm/c-20261128-190012-0042.wav"],
    )


class IncomingSmsRequest(BaseModel):
    """An SMS sent by a caller to the service's number."""

    model_config = ConfigDict(extra="ignore")

    message_id: str = Field(
        pattern=CALL_ID_PATTERN,
        description="Identifiant du message chez l'opérateur : clé d'idempotence.",
        examples=["sms-889231"],
    )
    sender: str = Field(min_length=1, max_length=40, examples=["+33612345678"])
    text: str = Field(max_length=MAX_SMS_CHARS, examples=["12 rue Paradis 13001, un canapé"])
    received_at: AwareDatetime | None = Field(default=None, examples=["2026-11-28T19:05:00+01:00"])

    _received = field_validator("received_at")(
        lambda v: None if v is None else _check_received_at(v)
    )


# --------------------------------------------------------------------------- response models


class AcceptedResponse(BaseModel):
    call_id: str
    workflow_id: str
    # False: a retried webhook, the existing workflow is returned. None: not known
    # (signal-with-start joins or starts a missed-call case).
    created: bool | None = None
    status_url: str

    @classmethod
    def for_call(cls, call_id: str, workflow_id: str, *, created: bool | None) -> AcceptedResponse:
        return cls(
            call_id=call_id,
            workflow_id=workflow_id,
            created=created,
            status_url=f"/calls/{call_id}",
        )


class SmsAcceptedResponse(BaseModel):
    message_id: str
    outcome: str  # "routed" | "kept_for_agent"
    workflow_id: str


class CallStatusResponse(BaseModel):
    call_id: str
    kind: str  # "voicemail" | "missed_call"
    status: str  # EncombotStatus: received, waiting_reply, waiting_agent, booked...
    running: bool
    # Signed requests only: the outcome (booking reference, pickup date, sector, reasons).
    detail: dict[str, Any] | None = None


class HealthResponse(BaseModel):
    status: str
    temporal: str


class ErrorResponse(BaseModel):
    detail: str | list[dict[str, Any]]
