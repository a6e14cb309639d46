"""The replay cache: a signature accepted once is refused for the rest of its timestamp window.
A table in the service database (SQLite by default, PostgreSQL in production) so that every
ingress replica sees what the others accepted; keyed by the SHA-256 of the signature (the value
itself is never stored), with its expiry, pruned as it goes."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from activities.bookings.engine import make_engine
from activities.bookings.schema import INGRESS_SEEN_SIGNATURES as seen_signatures
from activities.bookings.schema import create_schema


class ReplayCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_schema(engine)  # the service database's migrations (revision 0002 made it)

    @classmethod
    def from_url(cls, url: str) -> ReplayCache:
        return cls(make_engine(url))

    def first_use(self, signature_value: str, *, now: float, window_s: float) -> bool:
        """Record `signature_value`; False when it was already recorded and is not expired.
        A signature stays valid for the window on both sides of its timestamp, so it is kept
        for two windows from now."""
        key = hashlib.sha256(signature_value.encode("ascii")).hexdigest()
        with self.engine.begin() as conn:
            conn.execute(delete(seen_signatures).where(seen_signatures.c.expires_at < now))
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(seen_signatures).values(
                        signature_sha256=key, expires_at=now + 2 * window_s
                    )
                )
        except IntegrityError:
            return False
        return True
