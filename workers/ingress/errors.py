"""What a refused request answers: a status, a detail (a reason, or pydantic's reasons without
the input) and headers; turned into the JSON error by the app's exception handler."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class IngressError(Exception):
    def __init__(
        self,
        status: int,
        detail: str | list[dict[str, Any]],
        headers: dict[str, str] | None = None,
        *,
        reason: str = "",
    ) -> None:
        super().__init__(detail if isinstance(detail, str) else "invalid request")
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        # A code for the metrics (a 401's cause: missing, stale, invalid), never the input.
        self.reason = reason


def validation_errors(err: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the input (it may hold a number or a text)."""
    return [
        {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in err.errors(include_url=False, include_input=False, include_context=False)
    ]


def missing_field(field: str, msg: str) -> dict[str, Any]:
    return {"loc": ["body", field], "msg": msg, "type": "missing"}
