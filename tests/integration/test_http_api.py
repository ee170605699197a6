"""The worker's HTTP API with two workers in one group, and a real Prometheus scraping one.

The guards (token, Faust's views gone, body size, rate limit) are tested on
one more worker, started once for the module with a token and a low limit.
"""

from __future__ import annotations

import http.client
import json
import secrets
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    worker_env,
)
from tests.unit.test_prometheus_config import documented_authorization

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


def prometheus_config(
    target: str, out_dir: Path, *, authorization: dict[str, Any] | None = None
) -> Path:
    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    shipped["global"]["scrape_interval"] = "1s"
    shipped["global"]["evaluation_interval"] = "1s"
    shipped["rule_files"] = [str(ROOT / "deploy" / "prometheus" / "alerts.yml")]
    job = next(job for job in shipped["scrape_configs"] if job["job_name"] == "gridwatch")
    job["scrape_interval"] = "1s"
    job["static_configs"] = [{"targets": [target]}]
    if authorization is not None:
        job.update(authorization)
    path = out_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(shipped))
    return path


@contextmanager
def running_prometheus(config: Path, tmp_path: Path) -> Iterator[Callable[[str], float | None]]:
    """A real Prometheus on ``config``; yields a function that runs an instant query."""
    binary = shutil.which("prometheus")
    assert binary is not None, "Debian's prometheus is required (.ci/run installs it)"
    port = free_port()
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
        yield query
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_a_real_prometheus_scrapes_the_counters(gas_city, tmp_path):
    _ids, workers = gas_city
    config = prometheus_config(workers[0].web.removeprefix("http://"), tmp_path)
    with running_prometheus(config, tmp_path) as query:
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


# --- the guards -------------------------------------------------------------------------

TOKEN = secrets.token_urlsafe(24)
RATE_PER_S = 2
BURST = 30
MAX_BODY = 256


@pytest.fixture(scope="module")
def guarded_worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker with an API token, a low rate limit and a small body limit."""
    home = tmp_path_factory.mktemp("guarded")
    env = worker_env(
        kafka_bootstrap,
        f"t{uuid.uuid4().hex[:10]}.",
        home / "w",
        GRIDWATCH_API_TOKEN=TOKEN,
        GRIDWATCH_API_RATE_PER_S=str(RATE_PER_S),
        GRIDWATCH_API_BURST=str(BURST),
        GRIDWATCH_API_MAX_BODY_BYTES=str(MAX_BODY),
    )
    worker = WorkerProcess(env, home / "worker.log").start()
    try:
        worker.wait_ready()  # /health needs no token
        yield worker
    finally:
        worker.stop()


def call(
    worker: WorkerProcess,
    path: str,
    *,
    source: str,
    token: str | None = TOKEN,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request from the loopback address ``source``.

    Each test sends from its own 127.0.0.x address: the rate limit is per
    client address, so the tests do not spend each other's budget.
    """
    port = int(worker.env["GRIDWATCH_WEB_PORT"])
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_api_wants_the_token_but_health_does_not(guarded_worker: WorkerProcess) -> None:
    source = "127.0.0.3"
    for path in ("/risk", "/risk/nothing", "/alerts/active", "/metrics"):
        for token in (None, "wrong", TOKEN[:-1]):
            status, headers, body = call(guarded_worker, path, source=source, token=token)
            assert status == 401, (path, token)
            assert headers["WWW-Authenticate"].startswith("Bearer"), path
            assert json.loads(body)["status"] == 401
    assert call(guarded_worker, "/risk", source=source)[0] == 200
    assert call(guarded_worker, "/alerts/active", source=source)[0] == 200
    assert call(guarded_worker, "/risk/nothing", source=source)[0] == 404  # the view answered
    status, _, body = call(guarded_worker, "/metrics", source=source)
    assert status == 200
    assert b"gridwatch_engine_events_total" in body
    for path in ("/health", "/health/live"):
        assert call(guarded_worker, path, source=source, token=None)[0] == 200, path
    assert TOKEN not in Path(guarded_worker.log_path).read_text(errors="replace")


def test_fausts_own_views_are_gone(guarded_worker: WorkerProcess) -> None:
    source = "127.0.0.4"
    paths = ("/router/", "/router/topics", "/table/", "/table/asset-state/", "/graph/", "/")
    for path in (*paths, "/router", "/table", "/assignment/", "/performance/"):
        assert call(guarded_worker, path, source=source)[0] == 404, path
        # Without the token nothing tells what exists.
        assert call(guarded_worker, path, source=source, token=None)[0] == 401, path


def test_an_oversize_request_is_refused(guarded_worker: WorkerProcess) -> None:
    source = "127.0.0.5"
    large = b"x" * (MAX_BODY + 1)
    for method in ("GET", "POST"):
        status, _, body = call(guarded_worker, "/risk", source=source, method=method, body=large)
        assert status == 413, method
        assert str(MAX_BODY) in json.loads(body)["error"]
    assert call(guarded_worker, "/health", source=source, token=None, body=large)[0] == 413
    assert call(guarded_worker, "/risk", source=source, body=b"x" * MAX_BODY)[0] == 200


def test_the_rate_limit_answers_429_per_client_address(guarded_worker: WorkerProcess) -> None:
    source = "127.0.0.2"
    statuses = []
    retry_after = None
    for _ in range(3 * BURST):
        status, headers, _ = call(guarded_worker, "/alerts/active", source=source)
        statuses.append(status)
        if status == 429:
            retry_after = headers["Retry-After"]
    assert statuses[:BURST] == [200] * BURST
    assert statuses.count(429) >= BURST, statuses
    assert retry_after is not None
    assert int(retry_after) >= 1
    # Wrong tokens spend the same budget: still 429, not 401.
    assert call(guarded_worker, "/alerts/active", source=source, token="guess")[0] == 429
    # The probes are never limited, and another address has its own budget.
    assert call(guarded_worker, "/health", source=source, token=None)[0] == 200
    assert call(guarded_worker, "/alerts/active", source="127.0.0.6")[0] == 200
    wait_until(
        lambda: call(guarded_worker, "/alerts/active", source=source)[0] == 200,
        timeout=10,
        interval=1.0 / RATE_PER_S,
        message="the bucket to refill",
    )


def test_prometheus_scrapes_with_the_documented_token(
    guarded_worker: WorkerProcess, tmp_path: Path
) -> None:
    """The commented authorization block of deploy/prometheus/prometheus.yml, switched on."""
    token_file = tmp_path / "gridwatch-api-token"
    token_file.write_text(TOKEN + "\n")
    authorization = documented_authorization()
    authorization["authorization"]["credentials_file"] = str(token_file)
    target = guarded_worker.web.removeprefix("http://")
    config = prometheus_config(target, tmp_path, authorization=authorization)
    # The same target without the token, for contrast.
    spec = yaml.safe_load(config.read_text())
    (job,) = spec["scrape_configs"]
    spec["scrape_configs"].append(
        {k: v for k, v in job.items() if k != "authorization"} | {"job_name": "no-token"}
    )
    config.write_text(yaml.safe_dump(spec))
    with running_prometheus(config, tmp_path) as query:
        wait_until(
            lambda: query('up{job="gridwatch"}') == 1.0 and query('up{job="no-token"}') == 0.0,
            timeout=60,
            message="Prometheus to scrape the guarded worker with the token (and not without)",
        )
        samples = query('scrape_samples_scraped{job="gridwatch"}')
        assert samples is not None
        assert samples > 0
