"""Placeholders and weak secrets refused at start (issue 17, defect 3)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from workers.ingress.serving import check_settings
from workers.secret_check import WeakSecretError, check_secret, is_placeholder
from workers.settings import Settings


@pytest.mark.parametrize(
    "value",
    [
        "change-me-ingress",
        "change-me",
        "CHANGEME",
        "change_me_please",
        "secret",
        "example-key",
        "run-encombot-codec-key",
    ],
)
def test_placeholders_are_refused_naming_the_variable(value: str) -> None:
    assert is_placeholder(value)
    with pytest.raises(WeakSecretError, match="ENCOMBOT_INGRESS__SECRET") as err:
        check_secret("ENCOMBOT_INGRESS__SECRET", value)
    assert "me-ingress" not in str(err.value) and "codec-key" not in str(err.value)


def test_short_secret_refused_strong_one_accepted() -> None:
    with pytest.raises(WeakSecretError, match="trop court"):
        check_secret("X", "a1b2c3d4")
    check_secret("X", "q8Zr0Jx3-Vt5NwLs9Kd2Pm7Yc4Hb6Gf1")


def test_serve_refuses_the_env_example_ingress_secret() -> None:
    base = Settings(_env_file=None)  # type: ignore[call-arg]

    def with_secret(value: str, *previous: str) -> Settings:
        ingress = base.ingress.model_copy(
            update={
                "secret": SecretStr(value),
                "previous_secrets": [SecretStr(p) for p in previous],
            }
        )
        return base.model_copy(update={"ingress": ingress})

    with pytest.raises(ValueError, match="ENCOMBOT_INGRESS__SECRET"):
        check_settings(with_secret("change-me-ingress"))
    with pytest.raises(ValueError, match="PREVIOUS_SECRETS"):
        check_settings(with_secret("q8Zr0Jx3-Vt5NwLs9Kd2Pm7Yc4Hb6Gf1", "changeme"))
    check_settings(with_secret("q8Zr0Jx3-Vt5NwLs9Kd2Pm7Yc4Hb6Gf1"))
