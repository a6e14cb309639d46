"""What the telephony process's listeners (SIP, AudioSocket, the route server) let in: a token
bucket per source address, so that one source that floods gets refused while the others go on,
and the peers allowed to connect at all.

The table of sources is bounded: past `max_sources` entries the idlest half is forgotten (a
forgotten source starts again with a full bucket, which only matters to a source that has been
quiet longest: the flooding ones are the recently active)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class _Bucket:
    tokens: float
    at: float


class SourceRateLimit:
    """`rate_per_s` events per second per source, in bursts of up to `burst`."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_sources: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_sources = max_sources
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0

    def allow(self, source: str) -> bool:
        """Take one token of `source`'s bucket; False (counted in `refused`) when empty."""
        now = self._clock()
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) >= self.max_sources:
                self._forget_idlest()
            bucket = self._buckets[source] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate_per_s)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        self.refused += 1
        return False

    def _forget_idlest(self) -> None:
        by_age = sorted(self._buckets, key=lambda source: self._buckets[source].at)
        for source in by_age[: len(by_age) // 2 + 1]:
            del self._buckets[source]


class PeerFilter:
    """Who may connect: addresses, networks (CIDR) or host names (a compose service name:
    `asterisk`), re-resolved at most every `resolve_every_s`. Empty: anyone (the listener's
    bind address is then the only fence)."""

    def __init__(self, peers: Sequence[str] = (), *, resolve_every_s: float = 5.0) -> None:
        self._networks: list[Network] = []
        self._names: list[str] = []
        for peer in peers:
            try:
                self._networks.append(ipaddress.ip_network(peer, strict=False))
            except ValueError:
                self._names.append(peer)
        self._resolved: set[str] = set()
        self._resolved_at = -float("inf")
        self._resolve_every_s = resolve_every_s

    @property
    def open(self) -> bool:
        return not self._networks and not self._names

    async def allows(self, host: str) -> bool:
        if self.open:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if any(ip in network for network in self._networks):
            return True
        if not self._names:
            return False
        now = time.monotonic()
        if host not in self._resolved and now - self._resolved_at > self._resolve_every_s:
            self._resolved_at = now
            self._resolved = await self._resolve()
        return host in self._resolved

    async def _resolve(self) -> set[str]:
        loop = asyncio.get_running_loop()
        found: set[str] = set()
        for name in self._names:
            try:
                infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
            except OSError:
                continue  # not up yet: refused until it resolves
            found.update(str(info[4][0]) for info in infos)
        return found
