"""The métropole's own files from ENCOMBOT_CONFIG_DIR and production mode
(workers/site_config.py, workers/cli/context.py)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from activities.messaging.render import render_sms
from corpus import CORPUS_DIR, TEMPLATES_DIR
from workers.cli.main import app
from workers.settings import CodecSettings, Settings, SmsSettings
from workers.site_config import init_config_dir, production_problems

PHONE_KEY = secrets.token_urlsafe(32)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ENCOMBOT_"):
            monkeypatch.delenv(key)


def ready(config: Path, **update: object) -> Settings:
    """Settings a métropole would run with: its folder, its name and number, real keys."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        config_dir=config,
        production=True,
        sms=SmsSettings(
            service_name="Allô Encombrants Nice Côte d'Azur",
            agent_phone="04 93 00 00 00",
            phone_key_secret=SecretStr(PHONE_KEY),
        ),
        codec=CodecSettings(keys={"k1": SecretStr("a" * 44)}, allow_dev_key=False),
    )
    return settings.model_copy(update=update)


def test_the_folder_replaces_the_packaged_files(tmp_path: Path) -> None:
    config = tmp_path / "config"
    init_config_dir(config)
    (config / "templates" / "sms" / "callback.j2").write_text(
        "{{ service_name }} : un agent de la Métropole Nice Côte d'Azur vous rappelle.",
        encoding="utf-8",
    )
    settings = Settings(_env_file=None, config_dir=config)  # type: ignore[call-arg]
    assert settings.booking.calendar_file == config / "calendar.yaml"
    assert settings.booking.items_file == config / "items.yaml"
    assert settings.faq.corpus_dir == config / "faq"
    assert settings.templates_dir == config / "templates"
    text = render_sms(settings.templates_dir / "sms", "callback", {"service_name": "Allô"})
    assert "Nice" in text


def test_an_explicit_setting_wins_over_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    init_config_dir(config)
    own = tmp_path / "calendrier-2027.yaml"
    own.write_bytes((CORPUS_DIR / "calendar.yaml").read_bytes())
    monkeypatch.setenv("ENCOMBOT_BOOKING__CALENDAR_FILE", str(own))
    monkeypatch.setenv("ENCOMBOT_CONFIG_DIR", str(config))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.booking.calendar_file == own
    assert settings.booking.items_file == config / "items.yaml"


def test_a_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="n'existe pas"):
        Settings(_env_file=None, config_dir=tmp_path / "absent")  # type: ignore[call-arg]


def test_without_a_folder_the_packaged_files_stay(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.booking.calendar_file == CORPUS_DIR / "calendar.yaml"
    assert settings.templates_dir == TEMPLATES_DIR


def test_production_mode_names_every_placeholder() -> None:
    problems = production_problems(Settings(_env_file=None))  # type: ignore[call-arg]
    text = "\n".join(problems)
    for needle in (
        "ENCOMBOT_SMS__SERVICE_NAME",
        "ENCOMBOT_SMS__AGENT_PHONE",
        "ENCOMBOT_SMS__PHONE_KEY_SECRET",
        "ENCOMBOT_CODEC__KEYS",
        "calendar.yaml",
        "items.yaml",
        "faq/",
    ):
        assert needle in text, needle


def test_production_mode_accepts_a_configured_site(tmp_path: Path) -> None:
    config = tmp_path / "config"
    init_config_dir(config)
    assert production_problems(ready(config)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agent_phone", "0 800 94 94 94"),  # the demo's number
        ("agent_phone", "12 34 56"),  # not a phone number
        ("service_name", "change-me-service-name"),
        ("phone_key_secret", SecretStr("change-me-phone-key-0123456789abcdef")),
        ("phone_key_secret", SecretStr("short")),
    ],
)
def test_production_mode_refuses_a_placeholder(tmp_path: Path, field: str, value: object) -> None:
    config = tmp_path / "config"
    init_config_dir(config)
    settings = ready(config)
    settings = settings.model_copy(update={"sms": settings.sms.model_copy(update={field: value})})
    problems = production_problems(settings)
    assert len(problems) == 1 and f"ENCOMBOT_SMS__{field.upper()}" in problems[0]


def test_the_cli_refuses_to_start_in_production_on_placeholders(tmp_path: Path) -> None:
    env = {"ENCOMBOT_PRODUCTION": "true", "ENCOMBOT_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert "ENCOMBOT_SMS__AGENT_PHONE" in result.output


def test_production_refuses_case_state_on_one_hosts_disk(tmp_path: Path) -> None:
    """The bookings and send ledger (worker, telephony), the webhook replay cache (ingress)
    and the call routes (telephony) must be in the shared database: a SQLite file is refused
    in production, where it would be one host's and one replica's."""
    from workers.ingress.app import make_app
    from workers.site_config import require_shared_database
    from workers.worker.composition import build_services

    config = tmp_path / "config"
    init_config_dir(config)
    settings = ready(config)
    assert settings.booking.database_url.startswith("sqlite")
    with pytest.raises(ValueError, match="anti-rejeu"):
        make_app(settings)
    with pytest.raises(ValueError, match="réservations"):
        build_services(settings)
    with pytest.raises(ValueError, match="routes"):
        require_shared_database(settings, "sqlite:////var/lib/x.sqlite", "table des routes")
    shared = "postgresql+psycopg://encombot:pw@postgresql:5432/encombot"
    require_shared_database(settings, shared, "table des routes")
    # A replay cache of its own, in the shared database, is accepted too.
    ingress = settings.ingress.model_copy(update={"replay_cache_url": shared})
    make_app(settings.model_copy(update={"ingress": ingress}))
    # Outside production (the demo, one host), the embedded SQLite database stays.
    make_app(settings.model_copy(update={"production": False}))


def test_config_init_copies_the_examples_once(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    first = CliRunner().invoke(app, ["config", "init", str(folder)])
    assert first.exit_code == 0, first.output
    assert (folder / "calendar.yaml").read_bytes() == (CORPUS_DIR / "calendar.yaml").read_bytes()
    assert (folder / "templates" / "sms" / "confirmation.j2").is_file()
    assert (folder / "faq" / "gravats.md").is_file()
    again = CliRunner().invoke(app, ["config", "init", str(folder)])
    assert again.exit_code == 2 and "rien n'est écrasé" in again.output
