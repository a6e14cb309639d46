"""Activities of the missed-call case: does the caller already have a pickup booked?

`find_upcoming_booking` looks the caller's number up in the bookings (the number the booking
was made for: the caller id or the callback number given in the message). Bookings store the
number as it came in, so the E.164 form and the national form are both looked for. No number
is logged."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.booking import Booking, BookingStore
from domain.errors import BOOKING_REJECTED
from domain.missed_call_models import (
    FIND_UPCOMING_BOOKING,
    UpcomingBookingInput,
    UpcomingBookingResult,
)
from domain.phone import to_e164

_BOOKINGS = cast(Table, Booking.__table__)


def number_forms(e164: str) -> list[str]:
    """The spellings under which a booking may hold this number: "+33612345678",
    "0612345678", "33612345678"."""
    forms = [e164]
    if re.fullmatch(r"\+33\d{9}", e164):
        forms += ["0" + e164[3:], e164[1:]]
    elif e164.startswith("+"):
        forms.append(e164[1:])
    return forms


class MissedCallActivities:
    def __init__(self, store: BookingStore) -> None:
        self.store = store

    @activity.defn(name=FIND_UPCOMING_BOOKING)
    def find_upcoming_booking(self, inp: UpcomingBookingInput) -> UpcomingBookingResult:
        number = to_e164(inp.caller_number) if inp.caller_number else None
        if number is None:
            return UpcomingBookingResult(found=False)
        try:
            at = datetime.fromisoformat(inp.at) if inp.at.strip() else datetime.now(UTC)
        except ValueError:
            raise ApplicationError(
                f"Date invalide : {inp.at!r} (attendu ISO 8601).",
                type=BOOKING_REJECTED,
                non_retryable=True,
            ) from None
        tz = self.store.tz
        today = (at.astimezone(tz) if at.tzinfo else at.replace(tzinfo=tz)).date()
        query = (
            select(
                _BOOKINGS.c.reference,
                _BOOKINGS.c.pickup_date,
                _BOOKINGS.c.sector,
                _BOOKINGS.c.status,
            )
            .where(
                _BOOKINGS.c.caller_number.in_(number_forms(number)),
                _BOOKINGS.c.status == "booked",
                _BOOKINGS.c.pickup_date >= today,
            )
            .order_by(_BOOKINGS.c.pickup_date, _BOOKINGS.c.id)
            .limit(1)
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return UpcomingBookingResult(found=False)
        return UpcomingBookingResult(
            found=True,
            reference=row["reference"],
            pickup_date=row["pickup_date"].isoformat(),
            sector=row["sector"],
            status=row["status"],
        )
