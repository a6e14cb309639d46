"""Placeholders and weak secrets refused at start (issue 17, defect 3)."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from workers.cli.main import app
from workers.codec.payload import new_key, parse_key
from workers.ingress.serving import check_settings
from workers.secret_check import (
    WeakSecretError,
    check_codec_key,
    check_secret,
    is_placeholder,
    secret_problems,
)
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


@pytest.mark.parametrize("value", ["a" * 40, "ab" * 20, "abcdefgh" * 4, "0123456789" * 3])
def test_repeated_patterns_are_refused(value: str) -> None:
    with pytest.raises(WeakSecretError, match="répétitif"):
        check_secret("X", value)


def test_the_old_env_example_codec_key_is_refused() -> None:
    """`run-encombot-codec-key` was valid base64 of a 16-byte AES key: accepted until now."""
    assert len(parse_key("change-me", "run-encombot-codec-key")) == 16
    with pytest.raises(WeakSecretError, match="KEYS") as err:
        check_codec_key("ENCOMBOT_CODEC__KEYS[k]", "run-encombot-codec-key", b"x" * 16)
    assert "run-encombot" not in str(err.value)
    zeros = base64.b64encode(bytes(32)).decode()
    with pytest.raises(WeakSecretError, match="aléatoire"):
        check_codec_key("ENCOMBOT_CODEC__KEYS[k]", zeros, parse_key("k", zeros))
    fresh = new_key()
    check_codec_key("ENCOMBOT_CODEC__KEYS[k]", fresh, parse_key("k", fresh))


def _weak_everywhere() -> Settings:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    return base.model_copy(
        update={
            "ingress": base.ingress.model_copy(update={"secret": SecretStr("change-me-ingress")}),
            "codec": base.codec.model_copy(
                update={
                    "keys": {"2026-01": SecretStr("run-encombot-codec-key")},
                    "server": base.codec.server.model_copy(
                        update={"token": SecretStr("change-me-codec-server-token")}
                    ),
                }
            ),
            "sms": base.sms.model_copy(
                update={
                    "phone_key_secret": SecretStr("change-me-phone-key"),
                    "ovh": base.sms.ovh.model_copy(
                        update={
                            "application_key": SecretStr("change-me"),
                            "application_secret": SecretStr("change-me"),
                            "consumer_key": SecretStr("changeme"),
                        }
                    ),
                }
            ),
            "agents": base.agents.model_copy(update={"audio_link_secret": SecretStr("secret")}),
            "booking": base.booking.model_copy(
                update={"database_url": "postgresql+psycopg://encombot:change-me-encombot@db/x"}
            ),
            "audio_store": base.audio_store.model_copy(
                update={"s3_secret_key": SecretStr("minioadmin")}
            ),
        }
    )


def test_every_secret_setting_is_checked_by_name() -> None:
    assert secret_problems(Settings(_env_file=None)) == []  # type: ignore[call-arg]
    problems = secret_problems(_weak_everywhere())
    text = "\n".join(problems)
    for variable in (
        "ENCOMBOT_INGRESS__SECRET",
        "ENCOMBOT_CODEC__KEYS[2026-01]",
        "ENCOMBOT_CODEC__SERVER__TOKEN",
        "ENCOMBOT_SMS__PHONE_KEY_SECRET",
        "ENCOMBOT_SMS__OVH__APPLICATION_KEY",
        "ENCOMBOT_SMS__OVH__APPLICATION_SECRET",
        "ENCOMBOT_SMS__OVH__CONSUMER_KEY",
        "ENCOMBOT_AGENTS__AUDIO_LINK_SECRET",
        "ENCOMBOT_AUDIO_STORE__S3_SECRET_KEY",
        "ENCOMBOT_BOOKING__DATABASE_URL (mot de passe",
    ):
        assert variable in text, variable
    assert len(problems) == 10
    for value in ("change-me-", "run-encombot", "minioadmin"):
        assert value not in text
    assert "encombot codec-key" in text and "token_urlsafe" in text


def test_the_cli_refuses_to_start_on_a_weak_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ENCOMBOT_"):
            monkeypatch.delenv(key)
    env = {"ENCOMBOT_CODEC__SERVER__TOKEN": "change-me-codec-server-token"}
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert "ENCOMBOT_CODEC__SERVER__TOKEN" in result.output
    assert "change-me" not in result.output
