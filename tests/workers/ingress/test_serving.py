"""Serving the ingress (workers/ingress/serving.py): its compose service."""

from __future__ import annotations

import os

import pytest

from workers.settings import Settings


def test_compose_ingress_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_compose import _check_settings_path, environment, resolved, services

    service = services()["ingress"]
    assert service["command"][0] == "serve"
    assert "/health" in " ".join(service["healthcheck"]["test"])
    # Same volumes as the workers: the audio it stores, the phone-key secret file it shares.
    assert set(service["volumes"]) >= {
        "encombot-data:/var/lib/encombot",
        "encombot-audio:/var/lib/encombot/audio",
    }
    env = environment(services(resolved())["ingress"])
    for variable in env:
        _check_settings_path(variable)
    for key in list(os.environ):
        if key.startswith("ENCOMBOT_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    parsed = Settings(_env_file=None)  # type: ignore[call-arg]
    assert parsed.ingress.secret.get_secret_value() == "change-me-ingress"
    assert parsed.ingress.audio_url_hosts == []
    assert parsed.codec.keys  # it starts workflows: the workers' payload keys
