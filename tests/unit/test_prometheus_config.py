"""The shipped Prometheus scrape config and alerting rules.

``promtool`` (Debian package ``prometheus``) checks the config and the rules
and runs the rules' unit tests in ``deploy/prometheus/alerts_test.yml``. The
tests fail, never skip, when promtool is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.constants import ROOT
from tests.unit.test_grafana_dashboard import exported_series, promql_metrics

PROMETHEUS = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"

# alert -> its `for:` duration ("" = fires at once)
EXPECTED_ALERTS = {
    "GridwatchWorkerDown": "1m",
    "GridwatchConsumerLagGrowing": "5m",
    "GridwatchDeadLetterRateHigh": "5m",
    "GridwatchNoEvents": "10m",
    "GridwatchCriticalIncident": "",
    "GridwatchWorkerStalled": "",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is not installed (apt-get install prometheus)", pytrace=False)
    return subprocess.run(
        [exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def documented_authorization() -> dict[str, Any]:
    """The scrape job's commented-out ``authorization`` block, uncommented and parsed."""
    lines = CONFIG.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# authorization:")
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.strip().startswith("#   "):
            break
        block.append(line)
    uncommented = "\n".join(line.replace("# ", "", 1) for line in block)
    parsed = yaml.safe_load(textwrap.dedent(uncommented))
    assert isinstance(parsed, dict)
    return parsed


def config_with_token(token_file: Path, out: Path) -> Path:
    """The shipped config with the documented authorization on, reading ``token_file``."""
    config = yaml.safe_load(CONFIG.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "gridwatch"]
    job.update(documented_authorization())
    job["authorization"]["credentials_file"] = str(token_file)
    config["rule_files"] = [str(RULES)]
    out.write_text(yaml.safe_dump(config))
    return out


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_scrape_config() -> None:
    result = promtool("check", "config", str(CONFIG.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_alerting_rules() -> None:
    result = promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_alerting_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_cover_firing_and_quiet_cases_of_every_alert() -> None:
    spec = yaml.safe_load(RULE_TESTS.read_text())
    assert spec["rule_files"] == [RULES.name]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in spec["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert {"GridwatchWorkerDown", "GridwatchDeadLetterRateHigh"} <= firing
    assert firing == set(EXPECTED_ALERTS)
    assert quiet == set(EXPECTED_ALERTS)


def test_scrape_config_scrapes_the_workers_and_loads_the_rules() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert [(CONFIG.parent / f).resolve() for f in config["rule_files"]] == [RULES.resolve()]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "gridwatch"]
    assert job.get("scrape_interval", config["global"]["scrape_interval"]) == "5s"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    assert targets == ["worker-1:6066", "worker-2:6066"]


def test_alerting_rules_have_durations_severity_and_text() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    assert set(by_name) == set(EXPECTED_ALERTS)
    for name, duration in EXPECTED_ALERTS.items():
        rule = by_name[name]
        assert rule.get("for", "") == duration, name
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
    assert by_name["GridwatchWorkerDown"]["expr"] == 'up{job="gridwatch"} == 0'


def test_alerting_rules_query_only_exported_metrics() -> None:
    exported = exported_series()
    referenced = {(rule["alert"], m) for rule in rules() for m in promql_metrics(rule["expr"])}
    assert {m for _, m in referenced} >= {
        "up",
        "gridwatch_stream_lag_seconds",
        "gridwatch_dead_letters_total",
        "gridwatch_engine_events_total",
        "gridwatch_active_incidents",
    }
    unknown = sorted((alert, m) for alert, m in referenced if m not in exported)
    assert not unknown, f"rules query metrics the worker does not export: {unknown}"


def test_the_documented_token_block_is_valid_and_its_file_stays_out_of_git(tmp_path: Path) -> None:
    block = documented_authorization()
    assert block == {
        "authorization": {
            "type": "Bearer",
            "credentials_file": "/etc/prometheus/gridwatch-api-token",
        }
    }
    # compose mounts deploy/prometheus at /etc/prometheus: the file sits there, ignored.
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/prometheus/gridwatch-api-token" in ignored
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    config = config_with_token(token, tmp_path / "prometheus.yml")
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
