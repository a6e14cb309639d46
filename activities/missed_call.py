"""Activities of the missed-call case: does the caller already have a pickup booked?

`find_upcoming_booking` looks the caller's number up in the bookings (the number the booking
was made for: the caller id or the callback number given in the message). Bookings store the
number as it came in, so the E.164 form and the national form are both looked for. No number
is logged."""

from __future__ import annotations

import re
from datetime import datetime

from temporalio import activity

from activities.bookings.instants import parse_instant
from activities.bookings.store import BookingStore
from domain.missed_call_models import (
    FIND_UPCOMING_BOOKING,
    UpcomingBookingInput,
    UpcomingBookingResult,
)
from domain.phone import to_e164


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
        today = (parse_instant(inp.at, self.store.tz) or datetime.now(self.store.tz)).date()
        booking = self.store.next_booking_for_caller(number_forms(number), today)
        if booking is None:
            return UpcomingBookingResult(found=False)
        return UpcomingBookingResult(
            found=True,
            reference=booking.reference,
            pickup_date=booking.pickup_date.isoformat(),
            sector=booking.sector,
            status=booking.status,
        )
