"""The activities an agent's change to a booking runs (`change_booking` Update of the booking's
follow-up): `describe_booking` (the booking as it stands, its audit trail and its lookup keys),
`move_booking`, `change_booking_items`. The guarantees (atomic, never overbooked, audited) are
`activities/bookings/changes.py`'s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from temporalio import activity

from activities.booking import booking_named
from activities.bookings.changes import BookingChanges
from activities.bookings.engine import writer
from activities.bookings.listing import audit_lines
from activities.bookings.references import normalise_reference
from activities.bookings.store import BookingStore
from domain.booking_changes import (
    BookingChangeOutcome,
    BookingView,
    ChangeItemsInput,
    ChangeStatus,
    DescribeBookingInput,
    MoveBookingInput,
)
from domain.calendar import UnknownSectorError, reminder_at
from domain.catalogue import Catalogue
from domain.models import ItemCount
from domain.phone import phone_key, to_e164

# Domain separation: a reference's key can never equal a number's ("+33…").
REFERENCE_KEY_PREFIX = "ref:"


def reference_key(reference: str, secret: bytes) -> str:
    return phone_key(REFERENCE_KEY_PREFIX + normalise_reference(reference), secret)


def number_key(number: str, secret: bytes) -> str | None:
    e164 = to_e164(number)
    return phone_key(e164, secret) if e164 else None


class BookingChangeActivities:
    def __init__(
        self,
        store: BookingStore,
        catalogue: Catalogue,
        phone_key_secret: bytes,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self._secret = phone_key_secret
        self.clock = clock
        self.changes = BookingChanges(writer(store.engine), store.calendar, clock)

    @activity.defn(name="describe_booking")
    def describe_booking(self, inp: DescribeBookingInput) -> BookingView:
        booking = booking_named(self.store, inp.reference, inp.call_id)
        if booking is None:
            return BookingView(found=False)
        try:
            rules = self.store.calendar.rules(booking.sector)
            name, max_items = rules.name, rules.max_items
        except UnknownSectorError:
            name, max_items = "", 0
        keys = {reference_key(booking.reference, self._secret)}
        for number in [booking.caller_number, *inp.numbers]:
            key = number_key(number, self._secret) if number else None
            if key:
                keys.add(key)
        address = " ".join(p for p in (booking.housenumber, booking.street) if p)
        town = " ".join(p for p in (booking.postcode, booking.city) if p)
        return BookingView(
            found=True,
            reference=booking.reference,
            status=booking.status,
            pickup_date=booking.pickup_date.isoformat(),
            sector=booking.sector,
            sector_name=name,
            address_label=", ".join(p for p in (address, town) if p),
            items=list(booking.items),
            caller_number=booking.caller_number,
            max_items=max_items,
            events=audit_lines(self.store.engine, booking.id),
            lookup_keys=sorted(keys),
        )

    @activity.defn(name="move_booking")
    def move_booking(self, inp: MoveBookingInput) -> BookingChangeOutcome:
        try:
            day = date.fromisoformat(inp.pickup_date.strip())
        except ValueError:
            return BookingChangeOutcome(ChangeStatus.OUT_OF_WINDOW, "Date invalide (AAAA-MM-JJ).")
        now = self.clock().astimezone(self.store.tz)
        outcome = self.changes.move(
            inp.reference, day, inp.actor, now, reason=inp.reason, request_id=inp.request_id
        )
        if outcome.status == ChangeStatus.DONE:
            due = reminder_at(date.fromisoformat(outcome.pickup_date), self.store.calendar)
            outcome.reminder_at = due.isoformat() if due is not None and due > now else ""
        return outcome

    @activity.defn(name="change_booking_items")
    def change_booking_items(self, inp: ChangeItemsInput) -> BookingChangeOutcome:
        canonical: list[ItemCount] = []
        for item in inp.items:
            found = self.catalogue.get(item.item) or self.catalogue.match(item.item)
            if found is None:
                return BookingChangeOutcome(
                    ChangeStatus.UNKNOWN_ITEM, "Objet inconnu du catalogue : vérifiez items."
                )
            if not found.accepted:
                return BookingChangeOutcome(
                    ChangeStatus.REFUSED_ITEM, "Un des objets n'est pas collecté (déchèterie)."
                )
            canonical.append(ItemCount(item=found.name, count=item.count))
        return self.changes.change_items(
            inp.reference,
            _merged(canonical),
            inp.actor,
            reason=inp.reason,
            request_id=inp.request_id,
        )


def _merged(items: list[ItemCount]) -> list[ItemCount]:
    """ "2 chaises" and "1 chaise" given apart are 3 chaises, in the order first named."""
    totals: dict[str, int] = {}
    for item in items:
        totals[item.item] = totals.get(item.item, 0) + item.count
    return [ItemCount(item=k, count=v) for k, v in totals.items()]
