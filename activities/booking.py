"""Booking store (SQLite embedded, PostgreSQL in production) and the booking activities:
`book_pickup`, `cancel_booking`, `booking_status`, `call_centre_opening`.

Guarantees:
- a call books at most once, whatever the retries: `call_id` is UNIQUE and a replay returns the
  booking the first attempt made (status `booked`, same reference);
- a day is never overbooked: a place is taken by a conditional `UPDATE ... used = used + 1
  WHERE used < capacity` in the same transaction as the booking row, so two transactions can
  never both take the last place (row lock on PostgreSQL, database write lock on SQLite);
- a second call for an address that already has a pending pickup books nothing
  (`already_booked`, the existing reference and date);
- more items than the sector allows: the first ones up to the limit are booked and the rest
  reported in `BookResult.left_out` (calendar `over_limit: book_what_fits`), or nothing is
  booked (`too_many_items`, `over_limit: escalate`);
- a cancellation frees the place at once; after the deadline (the sector's cut-off on the
  last working day before the pickup) only an agent may cancel;
- every change (booked, cancelled, collected) leaves an audit event naming its actor: "bot",
  "caller_sms" (the caller, by SMS) or "agent:<id>".
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
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
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.booking_models import (
    BookingStatusInput,
    BookingStatusResult,
    CallCentreInput,
    CallCentreOpening,
    CancelBookingInput,
    CancelBookingResult,
    CancelStatus,
)
from domain.calendar import (
    OVER_LIMIT_ESCALATE,
    CalendarError,
    SectorRules,
    ServiceCalendar,
    UnknownSectorError,
    as_local,
    fit_items,
    next_opening,
    reminder_at,
)
from domain.errors import BOOKING_REJECTED
from domain.models import BookingStatus, BookInput, BookResult, ItemCount

if TYPE_CHECKING:
    from activities.metrics import StepMetrics

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: read aloud or typed from an SMS, nothing can be confused.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_LENGTH = 6  # 25**6 ≈ 244 million references
_REFERENCE_ATTEMPTS = 8
ACTOR_BOT = "bot"
ACTOR_CALLER_SMS = "caller_sms"
AGENT_PREFIX = "agent:"
_ACTOR_RE = re.compile(r"^(bot|caller_sms|agent:[A-Za-z0-9._@-]{1,64})$")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes the SQLite `begin` hook take the write lock up front.
_WRITE_OPTION = "encombot_write"


class BookingRejected(ValueError):
    """The input cannot be booked as it is (unknown sector, no items...). Not retryable."""


def check_actor(actor: str) -> str:
    if not _ACTOR_RE.match(actor):
        raise ValueError(f"actor must be 'bot', 'caller_sms' or 'agent:<id>' (got {actor!r})")
    return actor


# --------------------------------------------------------------------------- schema


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


def create_schema(engine: Engine) -> None:
    """Create the tables if missing (no migrations yet: `create_all` leaves existing ones)."""
    with engine.execution_options(**{_WRITE_OPTION: True}).begin() as conn:
        Base.metadata.create_all(conn)


# --------------------------------------------------------------------------- engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling issues a deferred BEGIN lazily; turn it off so the
    # `begin` hook below decides how a transaction starts.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    try:
        # WAL: readers never block the writer and the writer never blocks readers.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock at once, waiting up to busy_timeout: concurrent
    # writers queue up. A deferred BEGIN would upgrade its lock at the first write and fail
    # with SQLITE_BUSY instead of waiting when another writer got there first.
    if conn.get_execution_options().get(_WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _configure_sqlite(engine: Engine) -> None:
    if not event.contains(engine, "connect", _sqlite_on_connect):
        event.listen(engine, "connect", _sqlite_on_connect)
    if not event.contains(engine, "begin", _sqlite_on_begin):
        event.listen(engine, "begin", _sqlite_on_begin)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the booking store. SQLite: parent directory created, WAL, busy timeout,
    write transactions with BEGIN IMMEDIATE. PostgreSQL (psycopg 3): pre-ping, so a restarted
    server costs one retried activity rather than a broken pool. `kwargs` go to
    `create_engine` (pool_size...)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or "mode=memory" in database
        if in_memory:
            # One shared connection, or every connection would see its own empty database.
            # Single-threaded use only (tests); files are the supported set-up.
            kwargs.setdefault("poolclass", StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        else:
            Path(database.removeprefix("file:").split("?")[0]).parent.mkdir(
                parents=True, exist_ok=True
            )
            kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


# --------------------------------------------------------------------------- calendar file


def load_calendar(path: str | Path) -> ServiceCalendar:
    """Read and validate the YAML calendar. Errors (`CalendarError`) start with the file name."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise CalendarError(f"{path}: cannot read the calendar: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path}: invalid YAML: {exc}") from exc
    try:
        calendar = ServiceCalendar.from_dict(data)
    except CalendarError as exc:
        raise CalendarError(f"{path}: {exc}") from exc
    try:
        ZoneInfo(calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(
            f"{path}: timezone: {calendar.timezone!r} is not a known IANA time zone"
        ) from exc
    return calendar


# --------------------------------------------------------------------------- store


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


class _DuplicateCall(Exception):
    """Raised inside the booking transaction to roll it back (the place it took included)."""

    def __init__(self, booking: StoredBooking) -> None:
        super().__init__(booking.reference)
        self.booking = booking


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def normalise_reference(reference: str) -> str:
    """Upper case without separators: "ac3 d-4f" and "AC3D4F" are the same reference."""
    return re.sub(r"[\s\-_.]", "", reference).upper()


def address_key(citycode: str, housenumber: str, street: str) -> str:
    def norm(value: str) -> str:
        return " ".join(value.casefold().split())

    return f"{norm(citycode)}|{norm(housenumber)}|{norm(street)}"


def _items_json(items: Sequence[ItemCount]) -> list[dict[str, Any]]:
    return [{"item": i.item, "count": i.count} for i in items]


def _items_from_json(raw: Any) -> list[ItemCount]:
    return [ItemCount(item=str(i["item"]), count=int(i["count"])) for i in raw or []]


def _not_booked(requested: Sequence[ItemCount], booked: Sequence[ItemCount]) -> list[ItemCount]:
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


def _utc(value: datetime | None) -> datetime | None:
    # SQLite drops the offset on the way back; the store always writes UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _to_booking(row: RowMapping) -> StoredBooking:
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
        items=_items_from_json(row["items"]),
        caller_number=row["caller_number"],
        status=row["status"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
    )


# Core tables: the store runs explicit Core statements on a Connection (rowcount, savepoints).
_BOOKINGS = cast(Table, Booking.__table__)
_SLOTS = cast(Table, SlotUsage.__table__)
_EVENTS = cast(Table, BookingEvent.__table__)


class BookingStore:
    """Bookings and per-day places. Thread-safe; one instance per worker process.

    Give it an engine from `make_engine` (SQLite needs its connection hooks; they are added
    here too, but only reach connections opened afterwards)."""

    def __init__(
        self,
        engine: Engine,
        calendar: ServiceCalendar,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.calendar = calendar
        self.tz = ZoneInfo(calendar.timezone)
        # Audit timestamps and the default moment of a cancellation; booking rules use the
        # request time.
        self._clock = clock
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self._dialect!r}: use sqlite or postgresql")
        if self._dialect == "sqlite":
            _configure_sqlite(engine)
        self._writer = engine.execution_options(**{_WRITE_OPTION: True})

    def create_schema(self) -> None:
        create_schema(self.engine)

    # ----------------------------------------------------------------- queries

    def get_by_call(self, call_id: str) -> StoredBooking | None:
        with self.engine.connect() as conn:
            return self._find(conn, _BOOKINGS.c.call_id == call_id)

    def get_by_reference(self, reference: str) -> StoredBooking | None:
        with self.engine.connect() as conn:
            return self._find(conn, _BOOKINGS.c.reference == normalise_reference(reference))

    def next_booking_for_caller(
        self, numbers: Sequence[str], from_day: date
    ) -> StoredBooking | None:
        """The earliest booking still on from `from_day` that was made for this number, given
        in every spelling a booking may hold it under ("+33612345678", "0612345678")."""
        query = (
            select(_BOOKINGS)
            .where(
                _BOOKINGS.c.caller_number.in_(list(numbers)),
                _BOOKINGS.c.status == "booked",
                _BOOKINGS.c.pickup_date >= from_day,
            )
            .order_by(_BOOKINGS.c.pickup_date, _BOOKINGS.c.id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _to_booking(row) if row is not None else None

    def slot(self, sector: str, pickup_date: date) -> SlotState | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(_SLOTS).where(
                        _SLOTS.c.sector == sector, _SLOTS.c.pickup_date == pickup_date
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return SlotState(row["sector"], row["pickup_date"], row["capacity"], row["used"])

    def events(self, booking_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_EVENTS).where(_EVENTS.c.booking_id == booking_id).order_by(_EVENTS.c.id)
            ).mappings()
            return [dict(r) | {"at": _utc(r["at"])} for r in rows]

    # ----------------------------------------------------------------- admin

    def set_capacity(self, sector: str, pickup_date: date, capacity: int) -> None:
        """Override the number of places of one sector-day (places already taken stay taken:
        remaining = capacity - used)."""
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0 (got {capacity})")
        with self._writer.begin() as conn:
            stmt = self._insert(_SLOTS).values(
                sector=sector, pickup_date=pickup_date, capacity=capacity, used=0
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[_SLOTS.c.sector, _SLOTS.c.pickup_date],
                    set_={"capacity": capacity},
                )
            )

    # ----------------------------------------------------------------- booking

    def book(self, inp: BookInput, now: datetime, conflicts: list[str] | None = None) -> BookResult:
        """Book a pickup for `inp`, the request made at `now` (aware, or naive local time).

        `conflicts`, when given, receives the contention met on the way (for metrics):
        `days_full` once when at least one candidate day had no place left,
        `duplicate_call` when a concurrent attempt of the same call committed first,
        `reference_retry` per generated reference that was already taken.

        Raises `BookingRejected` for input that can never be booked; database errors
        propagate (the caller retries)."""
        seen = conflicts if conflicts is not None else []
        rules = self._validate(inp)
        local_now = now.astimezone(self.tz) if now.tzinfo else now
        today = local_now.date()

        # Fast path for a retried activity: no write lock needed to answer a replay.
        existing = self.get_by_call(inp.call_id)
        if existing is not None:
            return self._replay(existing, inp, local_now)

        total = sum(i.count for i in inp.items)
        candidates = _preferred_first(
            list(self.calendar.candidate_dates(inp.sector, local_now)), inp.preferred_date
        )
        key = address_key(inp.address.citycode, inp.address.housenumber, inp.address.street)
        try:
            with self._writer.begin() as conn:
                result = self._book_in_tx(conn, inp, rules, key, total, candidates, today, seen)
        except _DuplicateCall as dup:
            # The losing attempt's transaction is rolled back: what it met is moot.
            seen[:] = ["duplicate_call"]
            return self._replay(dup.booking, inp, local_now)
        if result.status == BookingStatus.BOOKED:
            result.reminder_at = self._reminder_iso(date.fromisoformat(result.pickup_date), now)
        return result

    def first_free_date(self, sector: str, now: datetime) -> date | None:
        """The day `book` would take right now for `sector` (the first candidate day with a
        place left), without taking it: what a live call proposes to the caller. Raises
        `BookingRejected` for an unknown sector."""
        try:
            rules = self.calendar.rules(sector)
        except UnknownSectorError as exc:
            raise BookingRejected(str(exc)) from exc
        local_now = now.astimezone(self.tz) if now.tzinfo else now
        for day in self.calendar.candidate_dates(sector, local_now):
            slot = self.slot(sector, day)
            if (slot.remaining if slot is not None else rules.capacity) > 0:
                return day
        return None

    def _validate(self, inp: BookInput) -> SectorRules:
        if not inp.call_id.strip():
            raise BookingRejected("call_id is empty")
        if not inp.items:
            raise BookingRejected("no items to collect")
        for item in inp.items:
            if not item.item.strip() or item.count < 1:
                raise BookingRejected(f"invalid item {item.item!r} x{item.count}")
        if not inp.address.street.strip():
            raise BookingRejected("the address has no street")
        try:
            return self.calendar.rules(inp.sector)
        except UnknownSectorError as exc:
            raise BookingRejected(str(exc)) from exc

    def _book_in_tx(
        self,
        conn: Connection,
        inp: BookInput,
        rules: SectorRules,
        key: str,
        total: int,
        candidates: list[date],
        today: date,
        conflicts: list[str],
    ) -> BookResult:
        check_address = bool(inp.address.housenumber.strip())
        if self._dialect == "postgresql":
            # Serialise the checks below per call and per address: without it, two different
            # calls for one address could both see "no booking yet" under READ COMMITTED.
            # Always call first, then address: one order, so no deadlock between the two.
            self._advisory_lock(conn, f"encombot:call:{inp.call_id}")
            if check_address:
                self._advisory_lock(conn, f"encombot:address:{key}")

        existing = self._find(conn, _BOOKINGS.c.call_id == inp.call_id)
        if existing is not None:
            raise _DuplicateCall(existing)

        if check_address:
            other = self._find(
                conn,
                (_BOOKINGS.c.address_key == key)
                & (_BOOKINGS.c.status == "booked")
                & (_BOOKINGS.c.pickup_date >= today),
            )
            if other is not None:
                return BookResult(
                    status=BookingStatus.ALREADY_BOOKED,
                    reference=other.reference,
                    pickup_date=other.pickup_date.isoformat(),
                    sector=other.sector,
                    items=other.items,
                    reason="a pickup is already booked at this address",
                )

        items, left_out = list(inp.items), list[ItemCount]()
        over_limit = ""
        if total > rules.max_items:
            over_limit = f"{total} items, at most {rules.max_items} per pickup in this sector"
            if rules.over_limit == OVER_LIMIT_ESCALATE:
                return BookResult(
                    status=BookingStatus.TOO_MANY_ITEMS,
                    sector=inp.sector,
                    items=items,
                    reason=over_limit,
                )
            items, left_out = fit_items(items, rules.max_items)
            over_limit += f": {total - rules.max_items} left out"

        full_days = 0
        for day in candidates:
            if self._take_place(conn, inp.sector, day, rules.capacity):
                if full_days:
                    conflicts.append("days_full")
                booking = self._insert_booking(conn, inp, key, day, items, conflicts)
                return BookResult(
                    status=BookingStatus.BOOKED,
                    reference=booking.reference,
                    pickup_date=day.isoformat(),
                    sector=inp.sector,
                    items=items,
                    reason=over_limit,
                    left_out=left_out,
                )
            full_days += 1
        if full_days:
            conflicts.append("days_full")
        window = f"{candidates[0]}..{candidates[-1]}" if candidates else "no collection day"
        no_slot = f"no free place within {rules.horizon_days} days ({window})"
        return BookResult(
            status=BookingStatus.NO_SLOT,
            sector=inp.sector,
            items=items,
            reason=f"{no_slot}; {over_limit}" if over_limit else no_slot,
            left_out=left_out,
        )

    def _take_place(self, conn: Connection, sector: str, day: date, capacity: int) -> bool:
        conn.execute(
            self._insert(_SLOTS)
            .values(sector=sector, pickup_date=day, capacity=capacity, used=0)
            .on_conflict_do_nothing(index_elements=[_SLOTS.c.sector, _SLOTS.c.pickup_date])
        )
        # The WHERE is re-checked on the latest row version after a concurrent writer
        # commits (PostgreSQL) or runs under the database write lock (SQLite): the last place
        # goes to exactly one transaction.
        result = conn.execute(
            update(_SLOTS)
            .where(
                _SLOTS.c.sector == sector,
                _SLOTS.c.pickup_date == day,
                _SLOTS.c.used < _SLOTS.c.capacity,
            )
            .values(used=_SLOTS.c.used + 1)
        )
        return result.rowcount == 1

    def _insert_booking(
        self,
        conn: Connection,
        inp: BookInput,
        key: str,
        day: date,
        items: list[ItemCount],
        conflicts: list[str],
    ) -> StoredBooking:
        stamp = self._clock()
        address = inp.address
        values = {
            "call_id": inp.call_id,
            "sector": inp.sector,
            "pickup_date": day,
            "housenumber": address.housenumber,
            "street": address.street,
            "postcode": address.postcode,
            "citycode": address.citycode,
            "city": address.city,
            "lon": address.lon,
            "lat": address.lat,
            "address_key": key,
            "items": _items_json(items),
            "caller_number": inp.caller_number,
            "status": "booked",
            "created_at": stamp,
            "updated_at": stamp,
        }
        for attempt in range(_REFERENCE_ATTEMPTS):
            reference = new_reference()
            try:
                # Savepoint: a failed INSERT must not lose the place taken just before.
                with conn.begin_nested():
                    result = conn.execute(insert(_BOOKINGS).values(reference=reference, **values))
                    primary_key = result.inserted_primary_key
                    assert primary_key is not None
                    booking_id = int(primary_key[0])
            except IntegrityError:
                existing = self._find(conn, _BOOKINGS.c.call_id == inp.call_id)
                if existing is not None:
                    # A concurrent attempt of the same call committed first.
                    raise _DuplicateCall(existing) from None
                taken = self._find(conn, _BOOKINGS.c.reference == reference)
                if taken is None or attempt == _REFERENCE_ATTEMPTS - 1:
                    raise
                conflicts.append("reference_retry")
                continue
            detail: dict[str, Any] = {
                "call_id": inp.call_id,
                "pickup_date": day.isoformat(),
                "sector": inp.sector,
            }
            if items != inp.items:
                # The agent reading the trail sees what was asked, not only what was booked.
                detail["requested"] = _items_json(inp.items)
            self._audit(conn, booking_id, ACTOR_BOT, "booked", detail)
            return StoredBooking(id=booking_id, reference=reference, **_stored_fields(values))
        raise AssertionError("unreachable")

    # ----------------------------------------------------------------- cancel

    def cancel(
        self,
        reference: str,
        actor: str,
        reason: str = "",
        *,
        call_id: str = "",
        now: datetime | None = None,
        request_id: str = "",
    ) -> CancelBookingResult:
        """Cancel the booking `reference` (or, when empty, the one `call_id` made) and free
        its place, as of `now` (aware, or naive local; default: the store clock).

        Idempotent: a booking no longer `booked` is left as it is (`already_cancelled`, or
        `too_late` once collected); with `request_id`, the attempt that recorded it answers
        `cancelled` again. Past `ServiceCalendar.cancel_deadline` only an agent may cancel."""
        check_actor(actor)
        if reference.strip():
            where = _BOOKINGS.c.reference == normalise_reference(reference)
        elif call_id.strip():
            where = _BOOKINGS.c.call_id == call_id
        else:
            raise ValueError("a reference or a call_id is needed to cancel a booking")
        moment = now if now is not None else self._clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        with self._writer.begin() as conn:
            # Row lock (PostgreSQL; SQLite holds the database write lock): a concurrent
            # cancel of the same booking waits and then sees it cancelled.
            row = conn.execute(select(_BOOKINGS).where(where).with_for_update()).mappings().first()
            if row is None:
                return CancelBookingResult(status=CancelStatus.NOT_FOUND)
            booking = _to_booking(row)
            deadline = self._cancel_deadline(booking)
            answer = CancelBookingResult(
                status=CancelStatus.CANCELLED,
                reference=booking.reference,
                pickup_date=booking.pickup_date.isoformat(),
                sector=booking.sector,
                deadline=deadline.astimezone(UTC).isoformat(),
            )
            if booking.status == "cancelled":
                if not (request_id and self._has_event(conn, booking.id, "cancelled", request_id)):
                    answer.status = CancelStatus.ALREADY_CANCELLED
                return answer
            if booking.status != "booked":
                answer.status = CancelStatus.TOO_LATE
                return answer
            if moment >= deadline and not actor.startswith(AGENT_PREFIX):
                answer.status = CancelStatus.TOO_LATE
                return answer
            conn.execute(
                update(_BOOKINGS)
                .where(_BOOKINGS.c.id == booking.id)
                .values(status="cancelled", updated_at=self._clock())
            )
            conn.execute(
                update(_SLOTS)
                .where(
                    _SLOTS.c.sector == booking.sector,
                    _SLOTS.c.pickup_date == booking.pickup_date,
                    _SLOTS.c.used > 0,
                )
                .values(used=_SLOTS.c.used - 1)
            )
            detail = {"reason": reason, "request_id": request_id}
            self._audit(
                conn, booking.id, actor, "cancelled", {k: v for k, v in detail.items() if v}
            )
            return answer

    def mark_collected(self, reference: str, actor: str) -> StoredBooking | None:
        """The crew has collected the items: `booked` -> `collected` (the place stays used).
        Returns the booking as it is afterwards, None for an unknown reference; a booking
        already collected or cancelled is returned unchanged."""
        check_actor(actor)
        with self._writer.begin() as conn:
            where = _BOOKINGS.c.reference == normalise_reference(reference)
            row = conn.execute(select(_BOOKINGS).where(where).with_for_update()).mappings().first()
            if row is None:
                return None
            booking = _to_booking(row)
            if booking.status != "booked":
                return booking
            conn.execute(
                update(_BOOKINGS)
                .where(_BOOKINGS.c.id == booking.id)
                .values(status="collected", updated_at=self._clock())
            )
            self._audit(conn, booking.id, actor, "collected", {})
            found = self._find(conn, _BOOKINGS.c.id == booking.id)
            assert found is not None
            return found

    def _cancel_deadline(self, booking: StoredBooking) -> datetime:
        try:
            return self.calendar.cancel_deadline(booking.sector, booking.pickup_date)
        except UnknownSectorError:
            # The sector left the calendar after the booking: no cut-off to apply, so the
            # start of the pickup day (still honest: nobody cancels once the crew is out).
            return datetime.combine(booking.pickup_date, time(0, 0), tzinfo=self.tz)

    @staticmethod
    def _has_event(conn: Connection, booking_id: int, action: str, request_id: str) -> bool:
        rows = conn.execute(
            select(_EVENTS.c.detail).where(
                _EVENTS.c.booking_id == booking_id, _EVENTS.c.action == action
            )
        ).scalars()
        return any((detail or {}).get("request_id") == request_id for detail in rows)

    # ----------------------------------------------------------------- helpers

    def _insert(self, table: Any) -> Any:
        # Dialect insert: the generic one has no ON CONFLICT.
        return pg_insert(table) if self._dialect == "postgresql" else sqlite_insert(table)

    @staticmethod
    def _advisory_lock(conn: Connection, key: str) -> None:
        # Transaction-scoped: released at commit or rollback, never leaked by a crash.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})

    @staticmethod
    def _find(conn: Connection, where: Any) -> StoredBooking | None:
        row = conn.execute(select(_BOOKINGS).where(where).limit(1)).mappings().first()
        return _to_booking(row) if row is not None else None

    def _audit(
        self, conn: Connection, booking_id: int, actor: str, action: str, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(_EVENTS).values(
                booking_id=booking_id, at=self._clock(), actor=actor, action=action, detail=detail
            )
        )

    def _replay(self, booking: StoredBooking, inp: BookInput, now: datetime) -> BookResult:
        # The same answer the first attempt gave, so a retried activity after a commit whose
        # result was lost still reports `booked` with the same reference.
        reason = "idempotent replay"
        if booking.status != "booked":
            reason += f"; the booking has since been {booking.status}"
        return BookResult(
            status=BookingStatus.BOOKED,
            reference=booking.reference,
            pickup_date=booking.pickup_date.isoformat(),
            sector=booking.sector,
            items=booking.items,
            reason=reason,
            left_out=_not_booked(inp.items, booking.items),
            reminder_at=(
                self._reminder_iso(booking.pickup_date, now) if booking.status == "booked" else ""
            ),
        )

    def _reminder_iso(self, pickup_date: date, now: datetime) -> str:
        due = reminder_at(pickup_date, self.calendar, booked_at=now)
        return due.isoformat() if due is not None else ""


def _preferred_first(candidates: list[date], preferred: str) -> list[date]:
    """The day the caller agreed to first, when it is still a candidate; otherwise the usual
    order (a day already past or not a collection day is ignored, never an error)."""
    try:
        day = date.fromisoformat(preferred.strip()) if preferred.strip() else None
    except ValueError:
        return candidates
    if day is None or day not in candidates:
        return candidates
    return [day, *(d for d in candidates if d != day)]


def _stored_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in values.items() if k != "address_key"}
    fields["items"] = _items_from_json(values["items"])
    return fields


# --------------------------------------------------------------------------- activity


def parse_requested_at(value: str, tz: ZoneInfo) -> datetime:
    """`BookInput.requested_on` as a local datetime: "YYYY-MM-DD" is the start of that day
    (before any cut-off); a full ISO datetime with an offset is converted to local time, so a
    workflow may pass the time the voicemail was received and get the cut-off applied."""
    text_value = value.strip()
    if len(text_value) == 10:
        return datetime.combine(date.fromisoformat(text_value), time(0, 0))
    parsed = datetime.fromisoformat(text_value)
    return parsed.astimezone(tz) if parsed.tzinfo else parsed


def parse_instant(value: str, tz: ZoneInfo) -> datetime | None:
    """An instant given to an activity (ISO 8601, with an offset or naive local time) in the
    zone `tz`; None when empty. Not ISO 8601: a non-retryable error (a retry cannot fix it)."""
    if not value.strip():
        return None
    try:
        return as_local(datetime.fromisoformat(value.strip()), tz)
    except ValueError:
        raise ApplicationError(
            f"Date invalide : {value!r} (attendu ISO 8601).",
            type=BOOKING_REJECTED,
            non_retryable=True,
        ) from None


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
            self.metrics.booking(result.status)
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
        if inp.reference.strip():
            booking = self.store.get_by_reference(inp.reference)
        elif inp.call_id.strip():
            booking = self.store.get_by_call(inp.call_id)
        else:
            raise ApplicationError(
                "Réservation introuvable : ni référence ni identifiant d'appel.",
                type=BOOKING_REJECTED,
                non_retryable=True,
            )
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
