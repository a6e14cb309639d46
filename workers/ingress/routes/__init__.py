"""The ingress's routes, one module per resource; ROUTERS in the order the spec lists them."""

from __future__ import annotations

from workers.ingress.routes import calls, health, missed_calls, sms, voicemails

ROUTERS = (voicemails.router, missed_calls.router, sms.router, calls.router, health.router)
