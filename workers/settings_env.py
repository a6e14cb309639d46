"""Settings → ENCOMBOT_* environment variables, so that a parent process (a benchmark, a test
proving crash recovery, an orchestrator script) can start `encombot worker` processes that see
exactly the configuration it holds, secrets included, without writing an .env file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from workers.settings import Settings

PREFIX = "ENCOMBOT_"
DELIMITER = "__"


def _scalar(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _complex(value: Any) -> Any:
    """JSON-ready form of a list/dict field (pydantic-settings parses those from JSON)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {k: _complex(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _complex(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_complex(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _flatten(model: BaseModel, prefix: str, out: dict[str, str]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            _flatten(value, key + DELIMITER, out)
        elif value is None:
            continue
        elif isinstance(value, list | tuple | dict):
            out[key] = json.dumps(_complex(value), ensure_ascii=False)
        else:
            out[key] = _scalar(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """Every field of `settings` as an environment variable (None fields are left out, so
    the child falls back to the same default)."""
    out: dict[str, str] = {}
    _flatten(settings, PREFIX, out)
    return out
