"""The engine scenarios through a real broker and worker, compared with offline runs.

One worker serves every scenario, each on its own relocated copy of the city.
Events are sent in segments (a run of messages for one input topic; hotline
cases one at a time) and the test waits for the engine to consume each
segment, so the per-asset arrival order equals the offline order and the live
alerts must equal the offline alerts byte for byte.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pytest

from schemas import Alert, Asset, DeadLetter, RiskState, decode_model, encode
from streams.broker.admin import ensure_topics
from streams.core.topics import Topics
from tests.engine_support import LEVEL_RANK, Run, run
from tests.integration.live import LiveCity, assert_same_alerts, sorted_records
from tests.scenarios import (
    Scenario,
    crowd_growth,
    gas_leak,
    inspection_and_anomaly,
    late_event,
    lone_complaint,
    minutes,
    oscillating_sensor,
    relocated,
    shuffled,
    silent_sensor,
    traffic_trunk,
    water_main_burst,
)
from tests.support import (
    WorkerProcess,
    produce,
    read_all,
    wait_until,
    worker_env,
)

SCENARIOS: dict[str, Scenario] = {
    "water": water_main_burst(),
    "gas": gas_leak(),
    "traffic_collapse": traffic_trunk(collapse=True),
    "traffic_rush": traffic_trunk(collapse=False),
    "crowd": crowd_growth(),
    "lone": lone_complaint(),
    "oscillating": oscillating_sensor(),
    "silent": silent_sensor(),
    "shuffled": shuffled(water_main_burst(), within_s=240, seed=3),
    "insp_anomaly": inspection_and_anomaly(anomaly=True, inspection=False),
    "insp_inspection": inspection_and_anomaly(anomaly=False, inspection=True),
    "insp_both": inspection_and_anomaly(anomaly=True, inspection=True),
}
PLACED = {
    name: relocated(scenario, name, index)
    for index, (name, scenario) in enumerate(SCENARIOS.items())
}


@pytest.fixture(scope="module")
def live_city(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    prefix = f"r{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    ensure_topics(kafka_bootstrap, topics.specs(4), 4, 1)
    assets = [Asset.from_feature(f) for placed in PLACED.values() for f in placed.assets]
    produce(kafka_bootstrap, topics.assets, [(a.asset_id.encode(), encode(a)) for a in assets])
    home = tmp_path_factory.mktemp("live-city")
    worker = WorkerProcess(worker_env(kafka_bootstrap, prefix, home), home / "worker.log").start()
    try:
        worker.wait_ready()
        yield LiveCity(kafka_bootstrap, topics, worker)
    finally:
        worker.stop()


def live_and_offline(city: LiveCity, name: str) -> tuple[list[Alert], Run]:
    scenario = PLACED[name]
    offline = run(scenario)
    city.send(scenario, offline)
    live = city.wait_for_alerts(scenario, len(offline.alerts))
    assert_same_alerts(live, offline.alerts, name)
    return live, offline


def peak(alerts: list[Alert]) -> int:
    return max((LEVEL_RANK[a.level] for a in alerts), default=0)


def test_water_main(live_city):
    live, _ = live_and_offline(live_city, "water")
    assert peak(live) == LEVEL_RANK["critical"]
    assert live[-1].msgType == "Cancel"
    criticals = [a for a in live if a.level == "critical" and a.msgType != "Cancel"]
    assert criticals[0].info[0].certainty in {"Likely", "Observed"}


def test_gas_leak_then_acknowledged(live_city):
    live, _ = live_and_offline(live_city, "gas")
    assert (live[0].msgType, live[0].level, live[0].info[0].certainty) == (
        "Alert",
        "critical",
        "Observed",
    )
    asset_id = live[0].asset_id
    ack = {
        "ack_id": "ack-gas-1",
        "asset_id": asset_id,
        "incident": live[0].incidents,
        "acknowledged_by": "duty officer Wang",
        "event_time": minutes(31).isoformat(),
    }
    produce(live_city.bootstrap, live_city.topics.acks, [(asset_id.encode(), orjson.dumps(ack))])

    def acknowledged() -> RiskState | None:
        for record in reversed(
            sorted_records(read_all(live_city.bootstrap, live_city.topics.risk))
        ):
            if record.key == asset_id.encode():
                state = decode_model(record.value, RiskState)
                return state if state.incidents and state.incidents[0].acknowledged else None
        return None

    state = wait_until(acknowledged, timeout=30, message="the acknowledged risk state")
    assert state.level == "critical"


def test_traffic_collapse_is_a_warning_and_rush_hour_is_nothing(live_city):
    collapse, _ = live_and_offline(live_city, "traffic_collapse")
    assert peak(collapse) == LEVEL_RANK["warning"]
    rush, _ = live_and_offline(live_city, "traffic_rush")
    assert rush == []


def test_crowd_growth(live_city):
    live, _ = live_and_offline(live_city, "crowd")
    assert [(a.msgType, a.level) for a in live] == [
        ("Alert", "watch"),
        ("Update", "warning"),
        ("Update", "critical"),
    ]


def test_lone_complaint(live_city):
    live, _ = live_and_offline(live_city, "lone")
    assert peak(live) <= LEVEL_RANK["watch"]


def test_oscillating_sensor(live_city):
    live, _ = live_and_offline(live_city, "oscillating")
    kinds = [a.msgType for a in live]
    assert (kinds.count("Alert"), kinds.count("Cancel")) == (1, 1)


def test_silent_sensor(live_city):
    live, _ = live_and_offline(live_city, "silent")
    assert [a.msgType for a in live] == ["Alert"]


def test_shuffled_within_lateness_then_one_late_event(live_city):
    # A log out of event-time order: events out of order within one input are applied
    # on arrival, within the lateness, so the incident still peaks as in order.
    scenario = PLACED["shuffled"]
    in_order = run(relocated(SCENARIOS["water"], "shuffled", 8))
    live_city.send(scenario, run(scenario))
    live = live_city.wait_for_alerts(scenario, len(in_order.alerts) // 2)
    assert Run(alerts=live).peaks() == in_order.peaks()
    late = late_event(scenario, late_by_s=400)
    produce(
        live_city.bootstrap,
        live_city.topics.sensor,
        [(late["asset_id"].encode(), orjson.dumps(late))],
    )

    def late_letter() -> DeadLetter | None:
        for record in read_all(live_city.bootstrap, live_city.topics.dlq):
            letter = decode_model(record.value, DeadLetter)
            body: dict[str, Any] = orjson.loads(letter.original_value() or b"{}")
            if body.get("event_id") == late["event_id"]:
                return letter
        return None

    letter = wait_until(late_letter, timeout=30, message="the late event in the DLQ")
    assert letter.reason.value == "late"
    assert letter.topic == live_city.topics.sensor  # where it entered gridwatch
    assert letter.original_value() == orjson.dumps(late)


def test_inspection_with_mild_anomaly(live_city):
    anomaly, _ = live_and_offline(live_city, "insp_anomaly")
    inspection, _ = live_and_offline(live_city, "insp_inspection")
    both, _ = live_and_offline(live_city, "insp_both")
    assert peak(both) > max(peak(anomaly), peak(inspection))
    rectified = next(e for e in PLACED["insp_both"].events if e.get("status") == "rectified")
    after = [a for a in both if a.event_time >= datetime.fromisoformat(rectified["event_time"])]
    assert after
    assert LEVEL_RANK[after[-1].level] < peak(both) or after[-1].msgType == "Cancel"
