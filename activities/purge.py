"""Retention activities, run daily by the purge workflow (see workflows/purge.py):

- `purge_audio`: delete stored voicemail audio (`Settings.audio_dir`) older than the cut-off;
- `anonymise_bookings`: blank the personal fields of bookings whose pickup date is past the
  retention period — house number, street, position, duplicate-address key, caller number —
  and keep what statistics need (sector, date, items, status, postcode and INSEE code, which
  designate an arrondissement or a commune, not a person). Each anonymised booking gets an
  `anonymised` audit event; free-text details of its earlier events are dropped.

Both are idempotent: a second run finds nothing left to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.audio_store import AudioStore
from activities.audio_store.local import LocalAudioStore
from activities.bookings.engine import writer
from activities.bookings.schema import BOOKINGS, EVENTS
from domain.retention import (
    ANONYMISE_BOOKINGS,
    PURGE_AUDIO,
    AnonymiseInput,
    AnonymiseResult,
    PurgeAudioInput,
    PurgeAudioResult,
)

log = logging.getLogger(__name__)

BATCH = 500
# Event detail keys that carry no personal data; anything else (a cancellation reason typed
# by a caller or an agent...) is dropped when the booking is anonymised.
SAFE_EVENT_KEYS = frozenset({"call_id", "pickup_date", "sector", "pickup_before"})


def _heartbeat(detail: Any) -> None:
    if activity.in_activity():
        activity.heartbeat(detail)


def purge_audio_files(root: Path, older_than: datetime) -> PurgeAudioResult:
    """Delete regular files (and symlinks, never their targets) under `root` last modified
    before `older_than`, then the directories this leaves empty (never `root` itself)."""
    result = PurgeAudioResult()
    if not root.is_dir():
        return result
    cutoff = older_than.timestamp()
    for dirpath, dirnames, filenames in os.walk(root, topdown=False, followlinks=False):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                    continue
                if st.st_mtime >= cutoff:
                    continue
                os.unlink(path)
            except FileNotFoundError:
                continue  # deleted meanwhile: fine
            except OSError as exc:
                result.errors.append(f"{path}: {exc.strerror or exc}")
                continue
            result.deleted += 1
            result.bytes_freed += st.st_size if stat.S_ISREG(st.st_mode) else 0
            if result.deleted % 200 == 0:
                _heartbeat(result.deleted)
        if Path(dirpath) != root:
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)  # only succeeds when empty
    return result


def _personal_data_left() -> Any:
    b = BOOKINGS.c
    return or_(
        b.housenumber != "",
        b.street != "",
        b.caller_number != "",
        b.address_key != "",
        b.lon.is_not(None),
        b.lat.is_not(None),
    )


def anonymise_bookings_before(
    engine: Engine,
    pickup_before: date,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Anonymise every booking whose pickup date is before `pickup_before`; returns how many
    were changed (in batches, one transaction each)."""
    write_engine = writer(engine)
    total = 0
    while True:
        with write_engine.begin() as conn:
            ids = list(
                conn.execute(
                    select(BOOKINGS.c.id)
                    .where(and_(BOOKINGS.c.pickup_date < pickup_before, _personal_data_left()))
                    .order_by(BOOKINGS.c.id)
                    .limit(BATCH)
                ).scalars()
            )
            if not ids:
                return total
            stamp = clock()
            conn.execute(
                update(BOOKINGS)
                .where(BOOKINGS.c.id.in_(ids))
                .values(
                    housenumber="",
                    street="",
                    caller_number="",
                    address_key="",
                    lon=None,
                    lat=None,
                    updated_at=stamp,
                )
            )
            events = conn.execute(
                select(EVENTS.c.id, EVENTS.c.detail).where(EVENTS.c.booking_id.in_(ids))
            ).all()
            for event_id, detail in events:
                kept = {k: v for k, v in (detail or {}).items() if k in SAFE_EVENT_KEYS}
                if kept != (detail or {}):
                    conn.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(detail=kept))
            conn.execute(
                insert(EVENTS),
                [
                    {
                        "booking_id": booking_id,
                        "at": stamp,
                        "actor": "bot",
                        "action": "anonymised",
                        "detail": {"pickup_before": pickup_before.isoformat()},
                    }
                    for booking_id in ids
                ],
            )
        total += len(ids)
        _heartbeat(total)


class PurgeActivities:
    def __init__(self, audio_dir: Path, engine: Engine, *, audio: AudioStore | None = None) -> None:
        self.audio_dir = Path(audio_dir)
        self.engine = engine
        # The object store, when audio goes there (the directory is purged too: audio from
        # before the move, or a local store).
        self.audio = audio

    @activity.defn(name=PURGE_AUDIO)
    def purge_audio(self, inp: PurgeAudioInput) -> PurgeAudioResult:
        cutoff = datetime.fromisoformat(inp.older_than)
        result = purge_audio_files(self.audio_dir, cutoff)
        if self.audio is not None and not isinstance(self.audio, LocalAudioStore):
            remote = self.audio.purge(cutoff)
            result.deleted += remote.deleted
            result.bytes_freed += remote.bytes_freed
            result.errors += remote.errors
        log.info(
            "retention: %d audio file(s) deleted (%d bytes), %d error(s)",
            result.deleted,
            result.bytes_freed,
            len(result.errors),
        )
        return result

    @activity.defn(name=ANONYMISE_BOOKINGS)
    def anonymise_bookings(self, inp: AnonymiseInput) -> AnonymiseResult:
        count = anonymise_bookings_before(self.engine, date.fromisoformat(inp.pickup_before))
        log.info("retention: %d booking(s) anonymised", count)
        return AnonymiseResult(anonymised=count)
