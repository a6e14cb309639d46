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
    # No volume but the site's configuration: the audio goes to the object store, the replay
    # cache and the call index to PostgreSQL, the keys come from the settings.
    assert service["volumes"] == ["./config:/etc/encombot:ro"]
    env = environment(services(resolved())["ingress"])
    for variable in env:
        _check_settings_path(variable)
    # ./config mounted at /etc/encombot, as in every encombot container.
    parsed = _settings_from(env, monkeypatch)
    assert parsed.ingress.secret.get_secret_value() == filled_secrets()["ENCOMBOT_INGRESS_SECRET"]
    check_settings(parsed)  # the generated secret passes the start-up check
    assert parsed.ingress.audio_url_hosts == []
    assert parsed.codec.keys  # it starts workflows: the workers' payload keys
    assert parsed.audio_store.backend == "s3"
