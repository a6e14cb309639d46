"""The booking activities: `book_pickup`, `cancel_booking`, `booking_status`,
`call_centre_opening`. The store they hold, and what it guarantees (a call books once, a day
is never overbooked, an audit trail names every actor), is `activities/bookings/store.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.bookings.instants import parse_instant, parse_requested_at
from activities.bookings.store import BookingRejected, BookingStore
from domain.booking_models import (
    BookingStatusInput,
    BookingStatusResult,
    CallCentreInput,
    CallCentreOpening,
    CancelBookingInput,
    CancelBookingResult,
)
from domain.calendar import next_opening
from domain.errors import BOOKING_REJECTED
from domain.models import BookInput, BookResult

if TYPE_CHECKING:
    from activities.bookings.records import StoredBooking
    from activities.metrics import StepMetrics


def booking_named(store: BookingStore, reference: str, call_id: str) -> StoredBooking | None:
    """The booking an agent or a workflow names: by its reference, else by its call id."""
    if reference.strip():
        return store.get_by_reference(reference)
    if call_id.strip():
        return store.get_by_call(call_id)
    raise ApplicationError(
        "Réservation introuvable : ni référence ni identifiant d'appel.",
        type=BOOKING_REJECTED,
        non_retryable=True,
    )


class BookingActivities:
    def __init__(
        self,
        store: BookingStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        metrics: StepMetrics | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics

    @activity.defn(name="book_pickup")
    def book(self, inp: BookInput) -> BookResult:
        if inp.requested_on:
            try:
                requested_at = parse_requested_at(inp.requested_on, self.store.tz)
            except ValueError:
                raise ApplicationError(
                    f"Date de demande invalide : {inp.requested_on!r} (attendu AAAA-MM-JJ).",
                    type=BOOKING_REJECTED,
                    non_retryable=True,
                ) from None
        else:
            requested_at = self.clock()
        # A message handled late (an agent resolving it days after, a backlog after an
        # outage) counts from now: a slot must never be offered in the past.
        now_local = self.clock().astimezone(self.store.tz)
        if requested_at.tzinfo is None:
            requested_at = requested_at.replace(tzinfo=self.store.tz)
        requested_at = max(requested_at, now_local)
        conflicts: list[str] = []
        try:
            result = self.store.book(inp, requested_at, conflicts)
        except BookingRejected as exc:
            raise ApplicationError(
                f"Réservation impossible : {exc}", type=BOOKING_REJECTED, non_retryable=True
            ) from exc
        finally:
            if self.metrics is not None:
                for kind in conflicts:
                    self.metrics.booking_conflict(kind)
        if self.metrics is not None:
            self.metrics.booking(result.status, result.sector or inp.sector)
        return result

    @activity.defn(name="cancel_booking")
    def cancel_booking(self, inp: CancelBookingInput) -> CancelBookingResult:
        try:
            return self.store.cancel(
                inp.reference,
                inp.actor,
                inp.reason,
                call_id=inp.call_id,
                now=self.clock(),
                request_id=inp.request_id,
            )
        except ValueError as exc:
            raise ApplicationError(
                f"Annulation impossible : {exc}", type=BOOKING_REJECTED, non_retryable=True
            ) from exc

    @activity.defn(name="booking_status")
    def booking_status(self, inp: BookingStatusInput) -> BookingStatusResult:
        booking = booking_named(self.store, inp.reference, inp.call_id)
        if booking is None:
            return BookingStatusResult(found=False)
        return BookingStatusResult(
            found=True,
            status=booking.status,
            reference=booking.reference,
            pickup_date=booking.pickup_date.isoformat(),
            sector=booking.sector,
        )

    @activity.defn(name="call_centre_opening")
    def call_centre_opening(self, inp: CallCentreInput) -> CallCentreOpening:
        local_at = parse_instant(inp.at, self.store.tz) or self.clock().astimezone(self.store.tz)
        opening = next_opening(local_at, self.store.calendar)
        return CallCentreOpening(
            open_now=opening == local_at,
            next_opening=opening.astimezone(UTC).isoformat(),
            next_opening_local=opening.isoformat(),
        )
