"""What operators look at: the Grafana dashboard and the Prometheus alerting rules query only
metrics the worker exports, promtool accepts both, and the alerts fire when they should
(`promtool test rules` on deploy/prometheus/alerts_test.yml)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from livekit.agents.telemetry import metrics as sdk_metrics
from prometheus_client import REGISTRY

from agent import metrics

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
DASHBOARD = ROOT / "deploy/grafana/sip-agent.json"
# The series names a family is exported under, by its type (prometheus-client's exposition).
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
# Grafana's interval variables stand for a duration; promtool needs one.
GRAFANA_DURATION = re.compile(r"\$__(rate_)?interval")


def exported_series() -> set[str]:
    """Every series name the worker's /metrics can carry: ours and livekit-agents'."""
    assert metrics.CALLS_ACTIVE and sdk_metrics.CPU_LOAD_GAUGE  # both registered on import
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SERIES_SUFFIXES.get(family.type, ("",))
    }


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)  # label matchers, ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = re.findall(r"(?<![\w:.$])([A-Za-z_:][\w:]*)\b(?!\s*\()", expr)
    return set(names) - PROMQL_WORDS


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> dict[str, str]:
    """`panel title/refId` -> PromQL, with Grafana's interval variables made 5m."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {
        f"{panel['title']}/{target['refId']}": GRAFANA_DURATION.sub("5m", target["expr"])
        for panel in panels
        for target in panel.get("targets", ())
    }


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        msg = "promtool is not installed: apt-get install prometheus"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)


def test_metric_names_are_read_from_promql() -> None:
    """The name reader itself: functions, labels, ranges, keywords and strings are not names."""
    expr = (
        'histogram_quantile(0.99, sum by (le, handler) (rate(a_bucket{x="y z"}[5m])))'
        " / on () b > 0 and on () hour() >= 8 unless c:recorded offset 1h"
    )
    assert metric_names(expr) == {"a_bucket", "b", "c:recorded"}


def test_alerts_and_dashboard_query_only_exported_metrics() -> None:
    exported = exported_series()
    queries = {rule["alert"]: rule["expr"] for rule in alert_rules()} | dashboard_queries()
    for where, expr in queries.items():
        unknown = metric_names(expr) - exported
        assert not unknown, f"{where} queries {sorted(unknown)}, which the worker never exports"


def test_the_dashboard_shows_the_call_handler_and_outbox_figures() -> None:
    """The figures operators ask for first each have a panel."""
    shown = set().union(*map(metric_names, dashboard_queries().values()))
    for figure in (
        "sip_agent_calls_active",
        "sip_agent_calls_started_total",
        "sip_agent_calls_ended_total",
        "sip_agent_call_ringing_seconds_bucket",
        "sip_agent_call_talk_seconds_bucket",
        "sip_agent_handler_seconds_bucket",
        "sip_agent_handler_errors_total",
        "sip_agent_webhook_outbox_depth",
        "sip_agent_webhook_delivery_failures_total",
        "sip_agent_spooled",
        "lk_agents_worker_load",
    ):
        assert figure in shown, figure


def test_promtool_accepts_the_alerting_rules() -> None:
    result = promtool("check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_accepts_the_dashboards_queries(tmp_path: Path) -> None:
    """Each dashboard query, as a recording rule, parses as PromQL."""
    rules = [
        {"record": f"dashboard:query_{number}", "expr": expr}
        for number, expr in enumerate(dashboard_queries().values())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_fire_on_their_situations() -> None:
    """promtool's rule unit tests: each alert fires on a series history that should raise it,
    and not on a healthy one (deploy/prometheus/alerts_test.yml)."""
    tests = ROOT / "deploy/prometheus/alerts_test.yml"
    tested = {
        case["alertname"]
        for test in yaml.safe_load(tests.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    assert tested == {rule["alert"] for rule in alert_rules()}
    result = promtool("test", "rules", tests)
    assert result.returncode == 0, result.stdout + result.stderr
