"""Engine properties beyond single scenarios: state, acks, determinism, CAP output."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from schemas import EVENT_ADAPTER, Acknowledgement, Alert, encode
from streams.core.cap_xml import cap_xsd_path, render_cap_xml, validate_cap_xml
from streams.engine.config import load_config
from streams.engine.pipeline import RiskPipeline
from streams.engine.state import AssetState, MemoryStore
from tests.engine_support import registry_of, run
from tests.scenarios import ALL_ASSETS, Scenario, gas_leak, minutes, water_main_burst


def test_same_input_gives_byte_identical_alerts():
    first = [encode(a) for a in run(water_main_burst()).alerts]
    second = [encode(a) for a in run(water_main_burst()).alerts]
    assert first == second
    assert len({orjson.loads(a)["identifier"] for a in first}) == len(first)


def test_restored_state_continues_exactly_like_an_uninterrupted_run():
    scenario = water_main_burst()
    whole = run(scenario)
    half = len(scenario.events) // 2
    registry = registry_of(scenario.assets)
    before = RiskPipeline(registry, load_config())
    alerts: list[Alert] = []
    for wire in scenario.events[:half]:
        alerts.extend(before.handle(EVENT_ADAPTER.validate_python(wire)).alerts)
    # What a restarted worker gets back from its changelog-backed table.
    persisted = {
        state.asset_id: orjson.dumps(state.snapshot()) for state in before.engine.drain_dirty()
    }
    store = MemoryStore()
    for asset_id, blob in persisted.items():
        store.put(asset_id, AssetState.restore(orjson.loads(blob)))
    after = RiskPipeline(registry, load_config(), store)
    for wire in scenario.events[half:]:
        alerts.extend(after.handle(EVENT_ADAPTER.validate_python(wire)).alerts)
    assert [encode(a) for a in alerts] == [encode(a) for a in whole.alerts]


def test_only_changed_assets_are_drained_for_persistence():
    pipeline = RiskPipeline(registry_of(ALL_ASSETS), load_config())
    for wire in gas_leak().events[:3]:
        pipeline.handle(EVENT_ADAPTER.validate_python(wire))
    assert [s.asset_id for s in pipeline.engine.drain_dirty()] == ["gm-1"]
    assert pipeline.engine.drain_dirty() == []


def test_risk_state_is_published_on_meaningful_change_only():
    scenario = water_main_burst()
    result = run(scenario)
    assert 0 < len(result.risks) < len(scenario.events) / 5
    assert result.risks[-1].level is None  # cancelled: back to normal


def test_acknowledgement_marks_the_incident():
    scenario = gas_leak()
    result = run(scenario)
    pipeline = result.pipeline
    assert pipeline is not None
    incident = result.alerts[0].incidents
    ack = Acknowledgement(
        ack_id="ack-1",
        asset_id="gm-1",
        incident=incident,
        acknowledged_by="duty officer Li",
        event_time=minutes(31),
    )
    output = pipeline.handle(ack)
    assert output.acknowledged
    assert output.risk is not None
    assert [(r.incident, r.acknowledged) for r in output.risk.incidents] == [(incident, True)]
    again = pipeline.handle(ack)
    assert again.risk is None  # nothing changed


def test_event_for_an_unknown_asset_is_processed_as_far_as_possible():
    s = Scenario("unknown")
    for m in range(5):
        s.sensor(minutes(m), "zz-404", "gs-9", "gas_ppm", 3 if m < 4 else 150)
    result = run(s)
    assert [(a.msgType, a.level, a.asset_type) for a in result.alerts] == [
        ("Alert", "critical", None)
    ]


def test_hotline_case_far_from_any_fitting_asset_is_unmatched_not_lost():
    s = Scenario("far")
    s.call(minutes(1), "water_leak", 31.30, 121.60)
    s.call(minutes(2), "water_leak", 31.2310, 121.4800)  # 110 m from wm-1
    result = run(s)
    assert result.unmatched == [s.events[0]["event_id"]]


def test_per_asset_threshold_override_wins():
    gas: dict[str, Any] = dict(ALL_ASSETS[2])
    properties: dict[str, Any] = dict(gas["properties"])
    gas["properties"] = properties | {"thresholds": {"gas_ppm": {"critical": 10.0}}}
    s = Scenario("override", assets=[gas])
    s.sensor(minutes(0), "gm-1", "gs-1", "gas_ppm", 12)
    assert [a.level for a in run(s).alerts] == ["critical"]


def test_cap_xml_of_engine_output_validates_for_every_message_type():
    xsd = cap_xsd_path()
    assert xsd is not None, "the OASIS CAP 1.2 schema must be present (../shared/data/cap)"
    alerts = run(water_main_burst()).alerts
    assert {a.msgType for a in alerts} == {"Alert", "Update", "Cancel"}
    for alert in alerts:
        assert validate_cap_xml(render_cap_xml(alert), xsd) == [], alert.identifier


def test_sent_uses_event_time_with_numeric_offset():
    alert = run(gas_leak()).alerts[0]
    assert alert.sent.utcoffset() == timedelta(0)
    assert b"+00:00" in encode(alert)
    assert alert.sent <= datetime.fromisoformat(gas_leak().events[-1]["event_time"])


def test_redelivered_messages_are_applied_once():
    scenario = gas_leak()
    once = RiskPipeline(registry_of(scenario.assets), load_config())
    twice = RiskPipeline(registry_of(scenario.assets), load_config())
    events = [EVENT_ADAPTER.validate_python(w) for w in scenario.events]
    expected = [a for i, e in enumerate(events) for a in once.handle(e, ("sensor", i)).alerts]
    got: list[Alert] = []
    for i, event in enumerate(events):
        got.extend(twice.handle(event, ("sensor", i)).alerts)
        if i % 5 == 4:
            # Persisted with the frontier after offset i-2; then a crash: the last
            # five are delivered again (two before the frontier, three after it).
            for state in twice.engine.drain_dirty({"sensor": i - 1}):
                twice.engine.store.put(state.asset_id, AssetState.restore(state.snapshot()))
            for j in range(i - 4, i + 1):
                output = twice.handle(events[j], ("sensor", j))
                assert output.redelivered == (j < i - 1)
                assert output.duplicate == (j >= i - 1)
                assert output.alerts == []
    assert [encode(a) for a in got] == [encode(a) for a in expected]


def test_stuck_sensor_on_a_quiet_asset_is_reported_without_an_alert():
    s = Scenario("stuck")
    for m in range(30):
        s.sensor(minutes(m), "wm-1", "ps-1", "water_pressure_kpa", 400 + (m % 3))
    for m in range(30, 60):
        s.sensor(minutes(m), "wm-1", "ps-1", "water_pressure_kpa", 401)
    result = run(s)
    assert result.alerts == []
    assert result.risks, "the data-health change must be published"
    state = result.risks[-1]
    assert state.level is None
    assert [f.detail.split(" for ")[0] for f in state.factors] == ["ps-1 stuck at 401"]


def test_silent_sensor_on_a_quiet_asset_is_reported_once_time_moves_on():
    s = Scenario("quiet-silent")
    for m in range(40):
        s.sensor(minutes(m), "wm-1", "ps-1", "water_pressure_kpa", 400 + (m % 3))
        if m < 10:
            s.sensor(minutes(m + 0.5), "wm-1", "ps-2", "water_pressure_kpa", 395 + (m % 2))
    result = run(s)
    assert result.alerts == []
    health = [f for r in result.risks for f in r.factors if f.source == "data_health"]
    assert health
    assert health[0].name == "data_health:ps-2:water_pressure_kpa"
    assert "silent" in health[0].detail
