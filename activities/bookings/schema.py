"""The service database's tables: bookings, per-day places (slot_usage), the audit trail
(booking_events), the SMS ledger, the SMS reply routes and the live calls' routes. Their
changes are Alembic migrations (activities/bookings/migrations; migrate.py): `create_schema`
brings a database to the newest revision, a change here comes with a revision there
(tests/activities/bookings/test_migrations.py compares the two)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from activities.bookings.engine import advisory_lock, writer


class Base(DeclarativeBase):
    pass


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("status IN ('booked', 'cancelled', 'collected')", name="ck_booking_status"),
        Index("ix_bookings_sector_date", "sector", "pickup_date"),
        Index("ix_bookings_address_key", "address_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    # Idempotency key: one booking per call, whatever the retries.
    call_id: Mapped[str] = mapped_column(String(255), unique=True)
    sector: Mapped[str] = mapped_column(String(32))
    pickup_date: Mapped[date] = mapped_column(Date)
    housenumber: Mapped[str] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(String(255))
    postcode: Mapped[str] = mapped_column(String(10))
    citycode: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(255))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    # Normalised "citycode|housenumber|street": the duplicate-address lookup key.
    address_key: Mapped[str] = mapped_column(String(400))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    caller_number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlotUsage(Base):
    __tablename__ = "slot_usage"
    __table_args__ = (CheckConstraint("used >= 0", name="ck_slot_used"),)

    sector: Mapped[str] = mapped_column(String(32), primary_key=True)
    pickup_date: Mapped[date] = mapped_column(Date, primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)


class BookingEvent(Base):
    __tablename__ = "booking_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))  # "bot", "caller_sms", "agent:<id>"
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


# Core tables: the store runs explicit Core statements on a Connection (rowcount, savepoints).
BOOKINGS = cast(Table, Booking.__table__)
SLOTS = cast(Table, SlotUsage.__table__)
EVENTS = cast(Table, BookingEvent.__table__)


def create_schema(engine: Engine) -> None:
    """Bring the database to the newest migration (migrate.py). Processes starting together
    on one PostgreSQL database take turns (advisory lock): two concurrent CREATE TABLE of one
    name, or two runs of one migration, would fail one of them."""
    from activities.bookings.migrate import upgrade

    with writer(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            advisory_lock(conn, "encombot-create-schema")
        upgrade(conn)


# --- Cross-host state of the workers and the telephony process (issue 18) --------------------
# Kept in this database, not in a file of one host: every `worker` replica and the telephony
# process share it (PostgreSQL in production), and it survives their restarts.


class SmsLedgerEntry(Base):
    """One SMS send, keyed by its idempotency key (activities/messaging/ledger.py): what makes
    an SMS go out once whatever the retries, on whichever worker. No personal data: no number,
    no text (only its SHA-256, to spot a key reused for another message)."""

    __tablename__ = "sms_ledger"
    __table_args__ = (
        CheckConstraint(
            "state IN ('sending', 'sent', 'failed', 'unknown')", name="ck_sms_ledger_state"
        ),
    )

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    backend: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str | None] = mapped_column(String(64))
    text_sha256: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer)
    # Unix seconds of the host that wrote them (the in-flight lease compares them across
    # hosts: keep the hosts' clocks in sync, as Temporal itself requires).
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(String(500))


class CallRoute(Base):
    """How a live call ended, for the Asterisk dialplan (workers/telephony/routes.py): written
    by the telephony process, read back by its route server, so a restart in between does not
    turn a booked caller's goodbye into a transfer, or lose a transfer."""

    __tablename__ = "call_routes"
    __table_args__ = (
        CheckConstraint("route IN ('transfer', 'done', 'agents')", name="ck_call_route"),
        Index("ix_call_routes_set_at", "set_at"),
    )

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    route: Mapped[str] = mapped_column(String(16))
    set_at: Mapped[float] = mapped_column(Float)  # Unix seconds


SMS_LEDGER = cast(Table, SmsLedgerEntry.__table__)
CALL_ROUTES = cast(Table, CallRoute.__table__)


class IngressSeenSignature(Base):
    """A webhook signature the ingress accepted (workers/ingress/replay.py), by its SHA-256 (the
    value itself is never stored), kept until it expires: a replay inside the window is
    refused by every ingress replica."""

    __tablename__ = "ingress_seen_signatures"

    signature_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


INGRESS_SEEN_SIGNATURES = cast(Table, IngressSeenSignature.__table__)


class IngressCall(Base):
    """Which workflow holds a call the ingress accepted (workers/ingress/call_index.py), so
    that GET /calls/{call_id} finds a missed call's case (keyed by the caller's number, which
    the GET does not have) without a visibility query, and answers an unknown id with none.
    The workflow id carries a keyed hash of the number, never the number; rows are pruned
    after `IngressSettings.call_index_days`."""

    __tablename__ = "ingress_calls"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[float] = mapped_column(Float, index=True)  # Unix seconds


INGRESS_CALLS = cast(Table, IngressCall.__table__)


class SmsRoute(Base):
    """Which case a caller's SMS reply goes to (activities/messaging/routes.py): one row per
    (number, case) that texted it, written by `send_sms` and by the router when it opens an
    agent's case for an unknown sender, so that a reply finds its case by a primary-key read
    instead of a visibility List query (eventually consistent, and a rate-limited budget
    shared with the UI). Only the keyed hash of the number (domain.phone.phone_key) and the
    workflow id: no number, no text. Rows go once their case has closed: when the router meets
    them, or at the daily SMS purge (activities/purge_sms.py), which asks Temporal by id."""

    __tablename__ = "sms_routes"

    phone_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Unix seconds. The router prefers the case that first texted the number last (the most
    # recent case, as the visibility query's start time did); `updated_at`: the last text.
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float, index=True)


SMS_ROUTES = cast(Table, SmsRoute.__table__)
