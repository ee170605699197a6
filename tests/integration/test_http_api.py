"""The worker's HTTP API with two workers in one group, and a real Prometheus scraping one."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from schemas import Asset, encode
from streams.broker.admin import ensure_topics
from streams.core.topics import Topics
from tests.constants import ROOT
from tests.scenarios import GAS_MAIN, minutes
from tests.support import (
    WorkerProcess,
    free_port,
    get_json,
    metric_sum,
    produce,
    wait_until,
)

ASSETS = 8


def gas_mains() -> list[dict[str, Any]]:
    features = []
    for i in range(ASSETS):
        feature = json.loads(json.dumps(GAS_MAIN))
        feature["properties"]["asset_id"] = f"gm-http-{i}"
        for position in feature["geometry"]["coordinates"]:
            position[1] += 0.01 * i
        features.append(feature)
    return features


def leak_readings(asset_ids: list[str]) -> list[tuple[bytes | None, bytes]]:
    messages: list[tuple[bytes | None, bytes]] = []
    for n, asset_id in enumerate(asset_ids):
        for m, value in enumerate((2.0, 2.5, 150.0 + n)):
            event = {
                "kind": "sensor",
                "event_id": f"http-{asset_id}-{m}",
                "event_time": minutes(m).isoformat(),
                "source": "scada",
                "sensor_id": f"gs-{n}",
                "asset_id": asset_id,
                "metric": "gas_ppm",
                "value": value,
            }
            messages.append((asset_id.encode(), orjson.dumps(event)))
    return messages


@pytest.fixture
def gas_city(
    kafka_bootstrap: str, topic_prefix: str, worker_factory: Callable[..., WorkerProcess]
) -> tuple[list[str], list[WorkerProcess]]:
    topics = Topics(topic_prefix)
    ensure_topics(kafka_bootstrap, topics.specs(4), 4, 1)
    assets = [Asset.from_feature(f) for f in gas_mains()]
    produce(kafka_bootstrap, topics.assets, [(a.asset_id.encode(), encode(a)) for a in assets])
    workers = [worker_factory(), worker_factory()]
    ids = [a.asset_id for a in assets]
    produce(kafka_bootstrap, topics.sensor, leak_readings(ids))
    return ids, workers


def test_every_worker_answers_for_every_asset(gas_city):
    ids, workers = gas_city

    def applied() -> bool:
        total = sum(metric_sum(w.metrics(), "gridwatch_engine_events_total") for w in workers)
        return total >= 3 * ASSETS

    wait_until(applied, timeout=90, message="both workers to apply the readings")
    # Both workers own some partitions: the group really is split.
    assert all(metric_sum(w.metrics(), "gridwatch_engine_events_total") > 0 for w in workers)

    def everyone_sees_everything() -> bool:
        return all(
            get_json(f"{w.web}/risk?min_level=critical&limit=100")[1]["count"] == ASSETS
            for w in workers
        )

    wait_until(everyone_sees_everything, timeout=60, message="the risk picture on both workers")
    for worker in workers:
        for n, asset_id in enumerate(ids):
            status, body = get_json(f"{worker.web}/risk/{urllib.parse.quote(asset_id)}")
            assert status == 200, body
            assert body["asset_id"] == asset_id
            assert body["level"] == "critical"
            assert body["factors"][0]["detail"].startswith(f"gas_ppm {150 + n:g}")
        status, body = get_json(f"{worker.web}/risk/not-an-asset")
        assert status == 404
        assert body["asset_id"] == "not-an-asset"
        status, body = get_json(f"{worker.web}/risk?limit=3&asset_type=lifeline_corridor")
        assert status == 200
        scores = [a["risk_score"] for a in body["assets"]]
        assert len(scores) == 3
        assert scores == sorted(scores, reverse=True)
        assert get_json(f"{worker.web}/risk?asset_type=traffic_trunk")[1]["count"] == 0
        for bad in ("limit=0", "limit=x", "min_level=severe", "asset_type=river", "colour=red"):
            status, body = get_json(f"{worker.web}/risk?{bad}")
            assert status == 400, bad
            assert body["error"]
        status, body = get_json(f"{worker.web}/alerts/active")
        assert status == 200
        assert sorted(row["asset_id"] for row in body["incidents"]) == sorted(ids)
        assert {row["level"] for row in body["incidents"]} == {"critical"}
        samples = worker.metrics()
        assert samples['gridwatch_active_incidents{level="critical"}'] == ASSETS
        assert any(name.startswith("faust_") for name in samples)


def prometheus_config(target: str, out_dir: Path) -> Path:
    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    shipped["global"]["scrape_interval"] = "1s"
    shipped["global"]["evaluation_interval"] = "1s"
    shipped["rule_files"] = [str(ROOT / "deploy" / "prometheus" / "alerts.yml")]
    job = next(job for job in shipped["scrape_configs"] if job["job_name"] == "gridwatch")
    job["scrape_interval"] = "1s"
    job["static_configs"] = [{"targets": [target]}]
    path = out_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(shipped))
    return path


def test_a_real_prometheus_scrapes_the_counters(gas_city, tmp_path):
    _ids, workers = gas_city
    binary = shutil.which("prometheus")
    assert binary is not None, "Debian's prometheus is required (.ci/run installs it)"
    port = free_port()
    config = prometheus_config(workers[0].web.removeprefix("http://"), tmp_path)
    log = (tmp_path / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    api = f"http://127.0.0.1:{port}/api/v1/query?query="

    def query(expression: str) -> float | None:
        try:
            status, body = get_json(api + urllib.parse.quote(expression))
        except (urllib.error.URLError, ConnectionError):
            return None
        result = body.get("data", {}).get("result", []) if status == 200 else []
        return float(result[0]["value"][1]) if result else None

    try:
        expected_alerts = ASSETS
        wait_until(
            lambda: (
                sum(metric_sum(w.metrics(), "gridwatch_alerts_total") for w in workers)
                >= expected_alerts
            ),
            timeout=90,
            message="the workers to publish the alerts",
        )
        own = workers[0].metrics()
        alerts = metric_sum(own, "gridwatch_alerts_total")
        events = metric_sum(own, "gridwatch_engine_events_total")
        assert alerts > 0  # this worker owns some of the gas mains
        wait_until(
            lambda: (
                query('sum(gridwatch_alerts_total{msg_type="Alert",severity="Extreme"})') == alerts
            ),
            timeout=60,
            message="Prometheus to scrape the alert counter",
        )
        assert query("sum(gridwatch_engine_events_total)") == events
        assert query('up{job="gridwatch"}') == 1.0
        assert query('sum(gridwatch_active_incidents{level="critical"})') == ASSETS
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
