"""Per-client rate limit of GET /calls/{call_id}: each unknown id costs Temporal visibility
queries, a budget shared with SMS routing, the UI and the CLI. A token bucket per client IP, in
memory (per replica); the client is the peer, or the last X-Forwarded-For hop when the peer is
a trusted proxy (`forwarded_allow_ips`)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from fastapi import Request

_MAX_CLIENTS = 10_000


def client_ip(request: Request, trusted: list[str]) -> str:
    peer = request.client.host if request.client else ""
    if peer and _in(peer, trusted):
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return peer


def _in(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


@dataclass
class RateLimiter:
    rate_per_s: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
        if len(self._buckets) >= _MAX_CLIENTS and key not in self._buckets:
            # Bounded memory: forget the full buckets (they would allow a request anyway).
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True
