"""The observability bundle (compose profile `observability`): every query of the Grafana
dashboard and of the Prometheus alert rules names only metrics, and labels, that the project
exports; the Prometheus configuration finds every replica by DNS; provisioning and compose
agree. With promtool (Debian package `prometheus`), the configuration and the rules are
checked by Prometheus itself and the alert rules' unit tests (alerts.test.yml) run.

The exported names are one list, EXPORTED, built from:
- the metrics workers/metrics.py registers (read from its source with `ast`: name, type,
  label names), exposed as prometheus_client writes them (`_total` for counters, `_bucket`,
  `_sum`, `_count` for histograms);
- the Temporal SDK metrics the dashboard uses, as temporalio 1.35 serves them with the
  project's `PrometheusConfig` defaults (no `_total` suffix on counters, durations in
  milliseconds), measured on a worker of this machine;
and the metrics issue 19 asked for (CONTRACT) must be among the code's, with their type and
labels.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
METRIC_SOURCES = [REPO / "workers" / "metrics.py"]

# Services scraped by DNS service discovery, and the ports of their metrics endpoints.
SCRAPED = {
    "worker": {9464, 9465},
    "worker-stt": {9464, 9465},
    "ingress": {9464, 9465},
    "telephony": {9464, 9465},
}
# Labels Prometheus adds (job, instance), the relabelling adds (endpoint) or the exposition
# format carries (le).
TARGET_LABELS = {"job", "instance", "endpoint", "le"}


@dataclass(frozen=True)
class Metric:
    name: str  # as registered (prometheus_client strips a trailing _total of counters)
    kind: str  # counter, gauge, histogram, summary
    labels: frozenset[str]
    style: str = "client"  # client: prometheus_client; core: the Temporal SDK's Rust core

    def series(self) -> set[str]:
        """The sample names this metric exposes."""
        if self.kind == "counter":
            return {self.name} if self.style == "core" else {f"{self.name}_total"}
        if self.kind in ("histogram", "summary"):
            parts = {"_sum", "_count"} | ({"_bucket"} if self.kind == "histogram" else set())
            return {self.name + part for part in parts}
        return {self.name}


def _labels(*names: str) -> frozenset[str]:
    return frozenset(names)


_SDK = ("namespace", "task_queue", "service_name")
_ACTIVITY = (*_SDK, "activity_type", "workflow_type")
_REQUEST = ("namespace", "operation", "service_name")
# Temporal SDK (temporalio 1.35, core-based) metrics the dashboard and alerts may use:
# name -> (type, labels).
_SDK_TABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "temporal_activity_execution_failed": ("counter", (*_ACTIVITY, "failure_reason")),
    "temporal_activity_execution_latency": ("histogram", _ACTIVITY),
    "temporal_activity_schedule_to_start_latency": ("histogram", _SDK),
    "temporal_activity_succeed_endtoend_latency": ("histogram", _ACTIVITY),
    "temporal_activity_task_received": ("counter", _ACTIVITY),
    "temporal_workflow_completed": ("counter", (*_SDK, "workflow_type")),
    "temporal_workflow_endtoend_latency": ("histogram", (*_SDK, "workflow_type")),
    "temporal_workflow_task_execution_latency": ("histogram", (*_SDK, "workflow_type")),
    "temporal_workflow_task_schedule_to_start_latency": ("histogram", _SDK),
    "temporal_worker_task_slots_available": ("gauge", (*_SDK, "worker_type")),
    "temporal_worker_task_slots_used": ("gauge", (*_SDK, "worker_type")),
    "temporal_num_pollers": ("gauge", (*_SDK, "poller_type")),
    "temporal_request": ("counter", _REQUEST),
    "temporal_request_failure": ("counter", (*_REQUEST, "status_code")),
}
SDK_METRICS = [
    Metric(name, kind, frozenset(labels), "core") for name, (kind, labels) in _SDK_TABLE.items()
]

# Metrics issue 19 asked for. Type and labels are the contract the code must keep.
CONTRACT = [
    # The collector: age of the oldest running case with NeedsAgent = true (now - WaitingSince),
    # by EscalationReason (0 when none waits).
    Metric("encombot_agent_queue_oldest_waiting_seconds", "gauge", _labels("reason")),
    # The collector: 1 while the call centre is open (corpus/calendar.yaml, holidays included).
    Metric("encombot_call_centre_open", "gauge", _labels()),
    # `encombot serve`.
    Metric("encombot_ingress_requests", "counter", _labels("route", "status")),
    Metric("encombot_ingress_signature_failures", "counter", _labels("reason")),
    # `encombot telephony`.
    Metric("encombot_calls", "counter", _labels("outcome")),
    Metric("encombot_transfers", "counter", _labels()),
    Metric("encombot_turn_latency_seconds", "histogram", _labels()),
]
CONTRACT += [Metric("encombot_bookings", "counter", _labels("status", "sector"))]

_KINDS = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}


def parse_registered_metrics(path: Path) -> list[Metric]:
    """The prometheus_client metrics a module defines: calls Counter("name", "doc", [labels])."""
    found: list[Metric] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        kind = _KINDS.get(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
        if kind is None or not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        name = node.args[0].value
        if not isinstance(name, str):
            continue
        labels_node: ast.expr | None = node.args[2] if len(node.args) > 2 else None
        for keyword in node.keywords:
            if keyword.arg == "labelnames":
                labels_node = keyword.value
        labels: list[str] = []
        if isinstance(labels_node, ast.List | ast.Tuple):
            labels = [e.value for e in labels_node.elts if isinstance(e, ast.Constant)]
        if kind == "counter":
            name = name.removesuffix("_total")
        found.append(Metric(name, kind, frozenset(labels)))
    return found


@functools.cache
def code_metrics() -> dict[str, Metric]:
    return {m.name: m for source in METRIC_SOURCES for m in parse_registered_metrics(source)}


@functools.cache
def exported() -> dict[str, Metric]:
    """Every exported sample name -> its metric (the SDK's, then the code's)."""
    metrics: dict[str, Metric] = {}
    for metric in [*SDK_METRICS, *code_metrics().values()]:
        metrics[metric.name] = metric  # later entries (the code) win
    return {series: m for m in metrics.values() for series in m.series()}


# --------------------------------------------------------------------------- PromQL

_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan", "atan2",
}  # fmt: skip
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
# Aggregation operators: `sum by (x) (…)` puts the clause between the name and the "(".
_AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)"""
    r"|(?P<range>\[[^\]]*\])"
    r"|(?P<duration>\b\d+(?:ms|[smhdwy])\b)"
    r"|(?P<number>\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b)"
    r"|(?P<variable>\$\{?\w+\}?)"
    r"|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<op>=~|!~|!=|==|>=|<=|[{}(),=<>+\-*/%^])"
    r"|(?P<space>\s+)"
)


@dataclass
class Query:
    metrics: set[str]
    labels: set[str]


def parse_promql(expr: str) -> Query:
    """Metric names and label names (matchers, grouping clauses) of a PromQL expression:
    enough of the grammar for this project's queries (no __name__ tricks)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        assert match, f"cannot read PromQL at {expr[pos : pos + 20]!r} in {expr!r}"
        pos = match.end()
        kind = match.lastgroup or ""
        if kind not in ("space", "range", "duration", "number", "variable"):
            tokens.append((kind, match.group()))
    metrics: set[str] = set()
    labels: set[str] = set()
    depth_braces = 0
    grouping = False
    for i, (kind, text) in enumerate(tokens):
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if text == "{":
            depth_braces += 1
        elif text == "}":
            depth_braces -= 1
        elif text == ")":
            grouping = False
        elif kind == "ident":
            if depth_braces:
                if following in ("=", "!=", "=~", "!~"):
                    labels.add(text)
            elif grouping:
                labels.add(text)
            elif text in _GROUPING:
                grouping = following == "("
            elif text in _KEYWORDS or text in _AGGREGATIONS or following == "(":
                continue  # a keyword, or a function / aggregation
            else:
                metrics.add(text)
    return Query(metrics, labels)


def check_query(expr: str, where: str) -> None:
    query = parse_promql(expr)
    assert query.metrics, f"{where}: no metric in {expr!r}"
    known = exported()
    unknown = sorted(query.metrics - set(known) - {"up"})
    assert not unknown, f"{where}: metrics not exported by the project: {unknown}"
    available = set(TARGET_LABELS)
    for name in query.metrics:
        if name in known:
            available |= known[name].labels
    missing = sorted(query.labels - available)
    assert not missing, f"{where}: labels {missing} on none of {sorted(query.metrics)}"


def test_promql_reader() -> None:
    query = parse_promql(
        'histogram_quantile(0.95, sum by (le, activity_type) (rate(x_bucket{a="1",b=~"x|y"}'
        "[5m]))) > 2 * 60 and on() max(y) == 0 or absent(z offset 1h)"
    )
    assert query.metrics == {"x_bucket", "y", "z"}
    assert query.labels == {"le", "activity_type", "a", "b"}


# --------------------------------------------------------------------------- the metric list


def test_metric_sources_are_parsed() -> None:
    names = set(code_metrics())
    assert {"encombot_transcription_rtf", "encombot_sms", "encombot_agent_queue_length"} <= names
    assert code_metrics()["encombot_sms"].labels == {"event"}
    assert "encombot_sms_total" in exported()
    assert "encombot_transcription_rtf_bucket" in exported()


def test_the_code_exports_the_metrics_of_the_contract() -> None:
    for metric in CONTRACT:
        found = code_metrics().get(metric.name)
        assert found is not None, f"{metric.name}: not exported by workers/metrics.py"
        assert (found.kind, found.labels) == (metric.kind, metric.labels), metric.name


# --------------------------------------------------------------------------- dashboards


def _targets(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str):
            yield str(node.get("refId", "?")), node["expr"]
        for key, value in node.items():
            if key == "query" and isinstance(value, str) and "(" in value:
                yield "templating", value
            else:
                yield from _targets(value)
    elif isinstance(node, list):
        for item in node:
            yield from _targets(item)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_name_exported_metrics(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    queries = 0
    for panel in panels:
        for ref, expr in _targets(panel):
            queries += 1
            check_query(expr, f"{path.name}: panel {panel['title']!r} {ref}")
    assert queries >= 20


def test_dashboard_covers_the_issue() -> None:
    dashboard = json.loads(DASHBOARDS[0].read_text(encoding="utf-8"))
    exprs = " ".join(expr for _, expr in _targets(dashboard["panels"]))
    for needed in (
        "encombot_agent_queue_length",
        "encombot_agent_queue_oldest_waiting_seconds",
        "encombot_escalations_total",
        "encombot_messages_total",
        "encombot_bookings_total",
        "sum by (sector)",
        'event=~"sent|failed|undelivered"',
        "encombot_transcription_rtf_bucket",
        "temporal_activity_execution_latency_bucket",
        "temporal_activity_execution_failed",
        "encombot_ingress_requests_total",
        "encombot_ingress_signature_failures_total",
        "encombot_calls_total",
        "encombot_transfers_total",
        "encombot_turn_latency_seconds_bucket",
    ):
        assert needed in exprs, needed


def test_dashboard_uses_the_provisioned_datasource() -> None:
    datasources = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text("utf-8")
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    assert {d["url"] for d in datasources} == {"http://prometheus:9090"}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert dashboard["uid"] and dashboard["title"]
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), "panel ids are unique"
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] in uids, panel["title"]


# --------------------------------------------------------------------------- alert rules


@functools.cache
def alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_alert_queries_name_exported_metrics() -> None:
    for rule in alert_rules():
        check_query(rule["expr"], f"alert {rule.get('alert')}")


def test_alerts_cover_the_issue() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    for rule in rules.values():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    out_of_hours = rules["EncombotCaseWaitingOutOfHours"]["expr"]
    assert "encombot_agent_queue_oldest_waiting_seconds" in out_of_hours
    assert "encombot_call_centre_open) == 0" in out_of_hours
    assert 'event="failed"' in rules["EncombotSmsFailureRate"]["expr"]
    assert "== 0" in rules["EncombotTargetDown"]["expr"]
    assert "up{" in rules["EncombotTargetDown"]["expr"]
    assert (
        "encombot_metrics_collector_last_success_timestamp_seconds"
        in rules["EncombotCollectorStale"]["expr"]
    )


# --------------------------------------------------------------------------- Prometheus


@functools.cache
def prometheus_config() -> dict[str, Any]:
    data = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_scrape_jobs_find_replicas_by_dns() -> None:
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    for service, ports in SCRAPED.items():
        job = jobs[service]
        configs = job["dns_sd_configs"]
        assert all(c["type"] == "A" and c["names"] == [service] for c in configs), service
        assert {c["port"] for c in configs} == ports, service
        endpoint = {r["replacement"] for r in job["relabel_configs"]}
        assert endpoint == {"sdk", "app"}
    assert prometheus_config()["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_scraped_ports_are_the_services_metrics_ports() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    for service, ports in SCRAPED.items():
        env = services[service]["environment"]
        assert env["ENCOMBOT_METRICS__ENABLED"] == "true", service
        assert {int(env["ENCOMBOT_METRICS__SDK_PORT"]), int(env["ENCOMBOT_METRICS__APP_PORT"])} == (
            ports
        )
        assert {str(p) for p in ports} <= set(services[service]["expose"]), service
        assert not services[service].get("ports"), f"{service}: metrics stay internal"


def test_compose_mounts_the_bundle() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"], name
        assert not services[name].get("ports"), f"{name}: reached through the proxy"
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for name in ("prometheus", "grafana")
        for volume in services[name]["volumes"]
        if volume.startswith("./")
    }
    assert (REPO / mounts["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS_CONFIG
    assert (REPO / mounts["/etc/prometheus/alerts.yml"]).resolve() == ALERTS
    assert (REPO / mounts["/etc/grafana/provisioning"]).resolve() == GRAFANA_DIR / "provisioning"
    provider = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "encombot.yml").read_text("utf-8")
    )["providers"][0]
    dashboards_target = provider["options"]["path"]
    assert (REPO / mounts[dashboards_target]).resolve() == GRAFANA_DIR / "dashboards"


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package `prometheus`)")
    return promtool


def test_promtool_checks_config_and_rules(tmp_path: Path) -> None:
    promtool = _promtool()
    config = PROMETHEUS_CONFIG.read_text(encoding="utf-8").replace(
        "/etc/prometheus/alerts.yml", str(ALERTS)
    )
    (tmp_path / "prometheus.yml").write_text(config, encoding="utf-8")
    for args in (
        ["check", "config", str(tmp_path / "prometheus.yml")],
        ["check", "rules", str(ALERTS)],
    ):
        done = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_unit_tests() -> None:
    promtool = _promtool()
    done = subprocess.run(
        [promtool, "test", "rules", ALERT_TESTS.name],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
