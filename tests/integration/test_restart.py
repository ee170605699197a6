"""A worker stopped mid-incident is replaced; the new one continues from the tables."""

from __future__ import annotations

import uuid

from schemas import Asset, encode
from streams.broker.admin import ensure_topics
from streams.core.topics import Topics
from tests.engine_support import run
from tests.integration.live import LiveCity, assert_same_alerts
from tests.scenarios import Scenario, water_main_burst
from tests.support import WorkerProcess, produce, worker_env


def test_restarted_worker_continues_where_it_stopped(kafka_bootstrap, tmp_path):
    scenario = water_main_burst()
    offline = run(scenario)
    assert {a.msgType for a in offline.alerts} == {"Alert", "Update", "Cancel"}
    prefix = f"rs{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    ensure_topics(kafka_bootstrap, topics.specs(4), 4, 1)
    assets = [Asset.from_feature(f) for f in scenario.assets]
    produce(kafka_bootstrap, topics.assets, [(a.asset_id.encode(), encode(a)) for a in assets])

    # First worker: up to the middle of the incident (after the critical Update).
    half = len(scenario.events) // 2
    first_half = Scenario(scenario.name, events=scenario.events[:half], assets=scenario.assets)
    second_half = Scenario(scenario.name, events=scenario.events[half:], assets=scenario.assets)
    first = WorkerProcess(
        worker_env(kafka_bootstrap, prefix, tmp_path / "a"), tmp_path / "a.log"
    ).start()
    try:
        first.wait_ready()
        city = LiveCity(kafka_bootstrap, topics, first)
        city.send(first_half, offline)
        assert any(a.level == "critical" for a in city.alerts_for(scenario))
    finally:
        assert first.stop() == 0

    # Second worker: a fresh data dir, so its state can only come from the changelog.
    second = WorkerProcess(
        worker_env(kafka_bootstrap, prefix, tmp_path / "b"), tmp_path / "b.log"
    ).start()
    try:
        second.wait_ready()
        city = LiveCity(kafka_bootstrap, topics, second)
        city.send(second_half, offline)
        live = city.wait_for_alerts(scenario, len(offline.alerts))
        assert_same_alerts(live, offline.alerts, "restart")
        assert second.metrics().get("gridwatch_state_writes_total", 0) > 0
    finally:
        second.stop()
