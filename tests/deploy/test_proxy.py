"""The example reverse proxy (compose profile `proxy`, deploy/caddy/Caddyfile): the UI and the
codec server on one origin, the ingress on its own, TLS, security headers, and no access log
of the UI's /render (its URL carries decoded text). With the `caddy` binary (Debian package
`caddy`), Caddy itself adapts the file; Debian's 2.6 predates the `log_skip` name (2.8) of
`skip_log`, so the check renames it for older binaries."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CADDYFILE = REPO / "deploy" / "caddy" / "Caddyfile"
COMPOSE = REPO / "docker-compose.yml"


def caddyfile() -> str:
    return "\n".join(
        line for line in CADDYFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )  # fmt: skip


def block(text: str, opening: str) -> str:
    """The body of the block that starts with `opening {` (nested blocks included)."""
    start = text.index(opening + " {") + len(opening) + 2
    depth = 1
    for end in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return text[start:end]
    raise AssertionError(f"unclosed block {opening}")


def services() -> dict[str, dict[str, object]]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert isinstance(data, dict)
    return data


def test_one_origin_for_the_ui_and_the_codec_server() -> None:
    text = caddyfile()
    assert "reverse_proxy codec-server:8234" in block(text, "handle_path /codec/*")
    assert "reverse_proxy temporal-ui:8080" in text
    assert "reverse_proxy ingress:8235" in text
    ui = services()["temporal-ui"]["environment"]
    assert isinstance(ui, dict)
    assert str(ui["TEMPORAL_CODEC_ENDPOINT"]).endswith("/codec}")


def test_upstreams_are_compose_services() -> None:
    for host, port in re.findall(r"reverse_proxy ([a-z-]+):(\d+)", caddyfile()):
        service = services()[host]
        assert port in [str(p) for p in service.get("expose", [])], f"{host}:{port}"  # type: ignore[union-attr]


def test_render_is_never_logged() -> None:
    text = caddyfile()
    assert re.search(r"@render path /render /render/\*", text)
    assert "log_skip @render" in text


def test_tls_and_headers() -> None:
    text = caddyfile()
    assert text.count("tls {$ENCOMBOT_TLS:internal}") == 2
    for header in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "-Server",
    ):
        assert header in text, header
    assert text.count("import security_headers") == 2


def test_decrypting_paths_are_for_the_agents_networks() -> None:
    text = caddyfile()
    assert "@outside_agents not remote_ip {$ENCOMBOT_AGENT_NETWORKS:private_ranges}" in text
    for name in ("handle_path /codec/*", "handle /grafana/*"):
        assert "respond @outside_agents 403" in block(text, name), name


def test_compose_service() -> None:
    caddy = services()["caddy"]
    assert caddy["profiles"] == ["proxy"]
    volumes = [str(v) for v in caddy["volumes"]]  # type: ignore[union-attr]
    assert "./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in volumes
    env = caddy["environment"]
    assert isinstance(env, dict)
    placeholders = set(re.findall(r"\{\$([A-Z_]+)", caddyfile()))
    assert placeholders <= set(env), placeholders - set(env)


def test_caddy_adapts_the_file(tmp_path: Path) -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy not installed (Debian package `caddy`)")
    version = subprocess.run([caddy, "version"], capture_output=True, text=True, check=False)
    match = re.match(r"v?(\d+)\.(\d+)", version.stdout.strip())
    text = CADDYFILE.read_text(encoding="utf-8")
    if match and (int(match.group(1)), int(match.group(2))) < (2, 8):
        text = text.replace("log_skip", "skip_log")
    config = tmp_path / "Caddyfile"
    config.write_text(text, encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ENCOMBOT_AGENT_NETWORKS": "10.20.0.0/16 192.168.1.0/24",
        "ENCOMBOT_TLS": "ops@example.fr",
        "ENCOMBOT_UI_DOMAIN": "encombrants.example.fr",
    }
    done = subprocess.run(
        [caddy, "adapt", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    adapted = json.dumps(json.loads(done.stdout))
    assert "encombrants.example.fr" in adapted
    assert '"ranges": ["10.20.0.0/16", "192.168.1.0/24"]' in adapted
    assert '"skip_log": true' in adapted or '"log_skip": true' in adapted
    assert "ops@example.fr" in adapted
    formatted = subprocess.run(
        [caddy, "fmt", str(config)], capture_output=True, text=True, check=False
    )
    assert formatted.stdout == text, "run `caddy fmt --overwrite deploy/caddy/Caddyfile`"
