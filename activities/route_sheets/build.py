"""The sheets of a day, read from the booking store: the pickups still on, per sector, with the
day's capacity as it stands (an agent may have changed it)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from activities.bookings.listing import bookings_on, slots_on
from activities.bookings.records import StoredBooking
from activities.config import RouteSheetSettings
from domain.calendar import ServiceCalendar
from domain.route_sheets import Depot, SectorSheet, Stop, sheet


def depot_of(settings: RouteSheetSettings) -> Depot | None:
    if settings.depot_lon is None or settings.depot_lat is None:
        return None
    return Depot(settings.depot_lon, settings.depot_lat, settings.depot_label)


def stop_of(booking: StoredBooking) -> Stop:
    return Stop(
        reference=booking.reference,
        housenumber=booking.housenumber,
        street=booking.street,
        postcode=booking.postcode,
        city=booking.city,
        lon=booking.lon,
        lat=booking.lat,
        items=list(booking.items),
        caller_number=booking.caller_number,
    )


def sheets_for(
    engine: Engine,
    calendar: ServiceCalendar,
    day: date,
    settings: RouteSheetSettings,
    *,
    sector: str = "",
    sectors: set[str] | None = None,
) -> list[SectorSheet]:
    """One sheet per sector with pickups on `day` (and for each of `sectors`, empty or not),
    by sector id."""
    by_sector: dict[str, list[Stop]] = {}
    for booking in bookings_on(engine, day, sector):
        by_sector.setdefault(booking.sector, []).append(stop_of(booking))
    for extra in sectors or set():
        if not sector or extra == sector:
            by_sector.setdefault(extra, [])
    slots = slots_on(engine, day)
    return [
        sheet(
            sector_id,
            calendar,
            day,
            by_sector[sector_id],
            capacity=slots[sector_id].capacity if sector_id in slots else None,
            depot=depot_of(settings),
            with_numbers=settings.include_caller_number,
        )
        for sector_id in sorted(by_sector)
    ]
