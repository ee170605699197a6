"""Live/offline parity: a simulated day replayed through the broker and a worker
gives the alerts `gridwatch process` gives for the same log."""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from schemas import Alert, decode_model
from streams.core.eventlog import read_log
from streams.core.offline import process_log
from streams.core.topics import Topics
from streams.engine.config import load_config
from streams.engine.registry_file import load_registry
from tests.support import GRIDWATCH, WorkerProcess, metric_sum, wait_until

REPLAY_SPEED = "120"  # see the README: per-asset order across input topics needs pacing


def gridwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [GRIDWATCH, *args], env=env, capture_output=True, timeout=600, check=False
    )


def per_asset(alerts: list[Alert]) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for alert in alerts:
        out[alert.asset_id].append((alert.identifier, alert.msgType, alert.level))
    return dict(out)


def test_replayed_simulation_gives_the_offline_alerts(
    kafka_bootstrap: str,
    topic_prefix: str,
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    log, registry_file, truth = (
        tmp_path / "city.jsonl",
        tmp_path / "r.geojson",
        tmp_path / "t.jsonl",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env |= {"GRIDWATCH_BOOTSTRAP": kafka_bootstrap, "GRIDWATCH_TOPIC_PREFIX": topic_prefix}
    made = gridwatch(
        env, "simulate", "--assets", "80", "--duration", "40m", "--incidents", "4", "--seed", "21",
        "--out", str(log), "--registry", str(registry_file), "--truth", str(truth),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()

    # Offline: the expected alerts, and how many events reach the engine.
    registry, problems = load_registry(registry_file)
    assert problems == []
    offline_out = tmp_path / "offline.jsonl"
    with offline_out.open("wb") as handle:
        summary = process_log(read_log(log), registry, load_config(), handle)
    offline = [decode_model(line, Alert) for line in offline_out.read_bytes().splitlines()]
    assert offline, "the simulated incidents must alert"
    reaching_engine = summary.events - summary.unmatched

    # Live: topics and registry first, so the worker recovers the registry at start.
    created = gridwatch(env, "topics", "create")
    assert created.returncode == 0, created.stderr.decode()
    loaded = gridwatch(env, "assets", "load", str(registry_file))
    assert loaded.returncode == 0, loaded.stderr.decode()
    worker = worker_factory()
    replayed = gridwatch(env, "replay", str(log), "--speed", REPLAY_SPEED)
    assert replayed.returncode == 0, replayed.stderr.decode()
    wait_until(
        lambda: metric_sum(worker.metrics(), "gridwatch_engine_events_total") >= reaching_engine,
        timeout=120,
        message=lambda: f"the engine to apply {reaching_engine} events\n{worker.tail()}",
    )
    assert metric_sum(worker.metrics(), "gridwatch_late_events_total") == 0

    def recorded() -> list[Alert] | None:
        out = tmp_path / "live.jsonl"
        result = gridwatch(env, "record", "--topic", Topics(topic_prefix).alerts, "--out", str(out))
        assert result.returncode == 0, result.stderr.decode()
        alerts = [decode_model(line, Alert) for line in out.read_bytes().splitlines()]
        return alerts if len(alerts) >= len(offline) else None

    live = wait_until(recorded, timeout=60, message="the live alerts")
    assert per_asset(live) == per_asset(offline)
