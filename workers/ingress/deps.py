"""What the routes share: the settings, the Temporal client (connected on first use), the
phone-key secret and the signing secrets, the clock; one per app, reached through the
`Deps` dependency."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from temporalio.client import Client
from temporalio.runtime import Runtime

from activities.audio_store import AudioStore
from workers.ingress.errors import IngressError
from workers.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from activities.messaging.routes import SmsRoutes
    from workers.ingress.call_index import CallIndex
    from workers.ingress.ratelimit import RateLimiter
    from workers.ingress.replay import ReplayCache

log = logging.getLogger(__name__)


@dataclass
class IngressDeps:
    settings: Settings
    client: Client | None = None
    clock: Callable[[], float] = time.time
    # The Temporal runtime serving the SDK's metrics (None: metrics off).
    runtime: Runtime | None = None
    _phone_secret: bytes | None = None
    _audio_store: AudioStore | None = None
    _lock: asyncio.Lock | None = None
    _replay_cache: ReplayCache | None = None
    _call_index: CallIndex | None = None
    _engine: Engine | None = None
    _sms_routes: SmsRoutes | None = None
    _upload_slots: asyncio.Semaphore | None = None
    _rate_limiter: RateLimiter | None = None

    async def temporal(self) -> Client:
        if self.client is not None:
            return self.client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.client is None:
                from workers.client import connect

                try:
                    connecting = connect(
                        self.settings, starting_timeout_s=5.0, runtime=self.runtime
                    )
                    self.client = await asyncio.wait_for(connecting, timeout=10)
                except Exception as err:
                    log.warning("Temporal unreachable: %s", type(err).__name__)
                    raise IngressError(
                        503, "Temporal indisponible", {"Retry-After": "10"}
                    ) from None
        return self.client

    def service_engine(self) -> Engine:
        """The database of the replay cache and the call index (one pool for both)."""
        if self._engine is None:
            from activities.bookings.engine import make_engine

            url = self.settings.ingress.replay_cache_url or self.settings.booking.database_url
            self._engine = make_engine(url)
        return self._engine

    def replay_cache(self) -> ReplayCache:
        if self._replay_cache is None:
            from workers.ingress.replay import ReplayCache

            self._replay_cache = ReplayCache(self.service_engine())
        return self._replay_cache

    def call_index(self) -> CallIndex:
        if self._call_index is None:
            from workers.ingress.call_index import CallIndex

            keep_s = self.settings.ingress.call_index_days * 86400.0
            self._call_index = CallIndex(self.service_engine(), keep_s=keep_s)
        return self._call_index

    def sms_routes(self) -> SmsRoutes:
        """The SMS reply routes, in the booking database the workers write them to (not the
        replay cache's, which may be another)."""
        if self._sms_routes is None:
            from activities.bookings.engine import make_engine
            from activities.messaging.routes import SmsRoutes

            if self.settings.ingress.replay_cache_url:
                engine = make_engine(self.settings.booking.database_url)
            else:
                engine = self.service_engine()
            self._sms_routes = SmsRoutes(engine)
        return self._sms_routes

    def rate_limiter(self) -> RateLimiter:
        if self._rate_limiter is None:
            from workers.ingress.ratelimit import RateLimiter

            cfg = self.settings.ingress
            self._rate_limiter = RateLimiter(cfg.calls_rate_per_s, cfg.calls_burst)
        return self._rate_limiter

    def upload_slots(self) -> asyncio.Semaphore:
        if self._upload_slots is None:
            self._upload_slots = asyncio.Semaphore(self.settings.ingress.max_concurrent_uploads)
        return self._upload_slots

    def audio_store(self) -> AudioStore:
        """Where uploaded voicemails go: the local directory or the object store."""
        if self._audio_store is None:
            from workers.audio_store import build_audio_store

            self._audio_store = build_audio_store(self.settings)
        return self._audio_store

    def phone_secret(self) -> bytes:
        if self._phone_secret is None:
            from activities.messaging.phone_keys import phone_key_secret

            self._phone_secret = phone_key_secret(self.settings.sms, self.settings.data_dir)
        return self._phone_secret

    def secrets(self) -> list[bytes]:
        cfg = self.settings.ingress
        return [
            s.get_secret_value().encode("utf-8")
            for s in (cfg.secret, *cfg.previous_secrets)
            if s.get_secret_value()
        ]


def ingress_deps(request: Request) -> IngressDeps:
    deps: IngressDeps = request.app.state.deps
    return deps


Deps = Annotated[IngressDeps, Depends(ingress_deps)]
