"""The shipped Grafana dashboard and its provisioning.

Every panel must query Prometheus, and every metric a panel names must be one
the worker exports (``streams.runtime.metrics.metric_names()`` with the series suffixes
Prometheus gives each metric type), so a renamed metric breaks this test and
not the operations center's dashboard. The PromQL helpers here are shared with
``test_prometheus_config.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry

from streams.runtime.metrics import Metrics, metric_names
from tests.constants import ROOT

GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "gridwatch.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "gridwatch.yml"

# Series Prometheus scrapes for each metric type (the family name is the base name).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}
_ANY_SUFFIX = ("", "_total", "_bucket", "_sum", "_count")

# Series Prometheus itself writes for every scrape target.
SCRAPE_SERIES = frozenset({"up"})

# PromQL words that look like identifiers but are not metric names.
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?")


def promql_metrics(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects.

    Strings, label matchers, range/subquery brackets and grouping label lists
    are removed first; then every identifier followed by ``(`` is a function or
    aggregation, and every other identifier that is not a keyword is a metric.
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {
        match.group(1)
        for match in _IDENTIFIER.finditer(text)
        if match.group(2) is None and match.group(1).lower() not in _KEYWORDS
    }


@cache
def exported_series() -> frozenset[str]:
    """Every series name a worker's ``/metrics`` can contain, plus Prometheus's ``up``.

    Names come from ``metric_names()``; the type of each (and so its suffixes)
    from the declarations in ``streams.runtime.metrics`` and Faust's sensor metrics. A
    name whose type is unknown here may take any suffix.
    """
    registry = CollectorRegistry()
    Metrics(registry)
    FaustMetrics.create(registry, "faust")
    types = {family.name: family.type for family in registry.collect()}
    series = set(SCRAPE_SERIES)
    for name in metric_names():
        series.update(name + suffix for suffix in _SUFFIXES.get(types.get(name, ""), _ANY_SUFFIX))
    return frozenset(series)


def load_dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def query_panels() -> list[dict[str, Any]]:
    return [p for p in all_panels(load_dashboard()["panels"]) if p["type"] != "row"]


def provisioned_datasource() -> dict[str, Any]:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert isinstance(source, dict)
    return source


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        (
            "sum by (kind) (rate(gridwatch_engine_events_total[1m]))",
            {"gridwatch_engine_events_total"},
        ),
        (
            "histogram_quantile(0.99, sum by (le) "
            '(rate(gridwatch_alert_latency_seconds_bucket{job="x"}[5m])))',
            {"gridwatch_alert_latency_seconds_bucket"},
        ),
        ('sum(up{job="gridwatch"}) or vector(0)', {"up"}),
        ("a_total / on (instance) group_left (kind) b offset 5m", {"a_total", "b"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
        ("rate(x[$__rate_interval]) * 60 > bool 1e3", {"x"}),
        (
            "max_over_time(gridwatch_stream_lag_seconds[10m:1m]) > 300",
            {"gridwatch_stream_lag_seconds"},
        ),
        ("sum without (instance) (rate(gridwatch_alerts[5m]))", {"gridwatch_alerts"}),
    ],
)
def test_promql_metrics_finds_the_selected_metrics_only(expr: str, metrics: set[str]) -> None:
    assert promql_metrics(expr) == metrics


def test_exported_series_follow_the_metric_types() -> None:
    series = exported_series()
    assert "gridwatch_alerts_total" in series
    assert "gridwatch_alerts" not in series  # a counter is scraped only as _total
    assert "gridwatch_registry_assets" in series
    assert "gridwatch_registry_assets_total" not in series
    assert {f"gridwatch_alert_latency_seconds{s}" for s in ("_bucket", "_sum", "_count")} <= series
    assert "gridwatch_alert_latency_seconds" not in series
    assert "gridwatch_no_such_metric_total" not in series


def test_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "gridwatch"
    assert dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    panels = list(all_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert 0 < pos["w"] <= 24 - pos["x"], panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def test_every_panel_queries_the_provisioned_prometheus() -> None:
    uid = provisioned_datasource()["uid"]
    panels = query_panels()
    assert len(panels) >= 11
    for panel in panels:
        title = panel["title"]
        assert panel["type"] in {"timeseries", "stat"}, title
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, title
        targets = panel.get("targets", [])
        assert targets, f"panel {title!r} has no query"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), title
        for target in targets:
            assert target["expr"].strip(), title
            assert target.get("datasource", panel["datasource"])["uid"] == uid, title


def test_every_metric_a_panel_queries_is_exported() -> None:
    exported = exported_series()
    unknown = {
        (panel["title"], metric)
        for panel in query_panels()
        for target in panel["targets"]
        for metric in promql_metrics(target["expr"])
        if metric not in exported
    }
    assert not unknown, f"panels query metrics the worker does not export: {sorted(unknown)}"


def test_the_panels_cover_the_operations_view() -> None:
    exprs = [t["expr"] for p in query_panels() for t in p["targets"]]
    used = set().union(*(promql_metrics(e) for e in exprs))
    assert {
        "up",
        "gridwatch_engine_events_total",
        "gridwatch_messages_received_total",
        "gridwatch_dead_letters_total",
        "gridwatch_alerts_total",
        "gridwatch_active_incidents",
        "gridwatch_assets_by_level",
        "gridwatch_alert_latency_seconds_bucket",
        "gridwatch_engine_processing_seconds_bucket",
        "gridwatch_stream_lag_seconds",
        "gridwatch_late_events_total",
    } <= used
    assert "sum by (kind) (rate(gridwatch_engine_events_total[1m]))" in exprs
    for histogram in ("gridwatch_alert_latency_seconds", "gridwatch_engine_processing_seconds"):
        quantiles = {
            float(q)
            for e in exprs
            if f"{histogram}_bucket" in e
            for q in re.findall(r"histogram_quantile\(\s*([0-9.]+)", e)
        }
        assert {0.5, 0.9, 0.99} <= quantiles, histogram


def test_provisioning_loads_the_dashboard_directory_and_prometheus() -> None:
    source = provisioned_datasource()
    assert source["type"] == "prometheus"
    assert source["uid"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load(PROVIDERS.read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
