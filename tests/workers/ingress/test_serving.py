"""Serving the ingress (workers/ingress/serving.py): its compose service."""

from __future__ import annotations

import pytest


def test_compose_ingress_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_compose import (
        _check_settings_path,
        _settings_from,
        environment,
        filled_secrets,
        resolved,
        services,
    )
    from workers.ingress.serving import check_settings

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
    # ./config mounted at /etc/encombot, as in every encombot container.
    parsed = _settings_from(env, monkeypatch)
    assert parsed.ingress.secret.get_secret_value() == filled_secrets()["ENCOMBOT_INGRESS_SECRET"]
    check_settings(parsed)  # the generated secret passes the start-up check
    assert parsed.ingress.audio_url_hosts == []
    assert parsed.codec.keys  # it starts workflows: the workers' payload keys
