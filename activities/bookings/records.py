"""What the booking store returns (`StoredBooking`, `SlotState`), how booking rows map to it,
and how one is looked up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, RowMapping

from activities.bookings.schema import BOOKINGS
from domain.models import ItemCount


@dataclass(frozen=True)
class StoredBooking:
    id: int
    reference: str
    call_id: str
    sector: str
    pickup_date: date
    housenumber: str
    street: str
    postcode: str
    citycode: str
    city: str
    lon: float | None
    lat: float | None
    items: list[ItemCount] = field(default_factory=list)
    caller_number: str = ""
    status: str = "booked"
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SlotState:
    sector: str
    pickup_date: date
    capacity: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.used)


def items_json(items: Sequence[ItemCount]) -> list[dict[str, Any]]:
    return [{"item": i.item, "count": i.count} for i in items]


def items_from_json(raw: Any) -> list[ItemCount]:
    return [ItemCount(item=str(i["item"]), count=int(i["count"])) for i in raw or []]


def not_booked(requested: Sequence[ItemCount], booked: Sequence[ItemCount]) -> list[ItemCount]:
    # What a replay left out: the request minus what the stored booking holds. For the same
    # input this is what `fit_items` left out on the first attempt, without storing it.
    available = Counter[str]()
    for item in booked:
        available[item.item] += item.count
    out: list[ItemCount] = []
    for item in requested:
        take = min(item.count, available[item.item])
        available[item.item] -= take
        if item.count > take:
            out.append(ItemCount(item=item.item, count=item.count - take))
    return out


def as_utc(value: datetime | None) -> datetime | None:
    # SQLite drops the offset on the way back; the store always writes UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def to_booking(row: RowMapping) -> StoredBooking:
    return StoredBooking(
        id=row["id"],
        reference=row["reference"],
        call_id=row["call_id"],
        sector=row["sector"],
        pickup_date=row["pickup_date"],
        housenumber=row["housenumber"],
        street=row["street"],
        postcode=row["postcode"],
        citycode=row["citycode"],
        city=row["city"],
        lon=row["lon"],
        lat=row["lat"],
        items=items_from_json(row["items"]),
        caller_number=row["caller_number"],
        status=row["status"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
    )


def stored_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The `StoredBooking` fields of the values a booking row was inserted with."""
    fields = {k: v for k, v in values.items() if k != "address_key"}
    fields["items"] = items_from_json(values["items"])
    return fields


def find_booking(conn: Connection, where: Any) -> StoredBooking | None:
    row = conn.execute(select(BOOKINGS).where(where).limit(1)).mappings().first()
    return to_booking(row) if row is not None else None


def lock_booking(conn: Connection, where: Any) -> StoredBooking | None:
    """`find_booking`, the row locked until the end of the transaction (PostgreSQL; SQLite
    holds the database write lock)."""
    row = conn.execute(select(BOOKINGS).where(where).with_for_update()).mappings().first()
    return to_booking(row) if row is not None else None
