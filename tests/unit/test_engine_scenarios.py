"""The risk engine on hand-built scenarios, with no broker."""

from __future__ import annotations

from datetime import datetime

from tests.engine_support import LEVEL_RANK, run
from tests.scenarios import (
    SHANGHAI,
    crowd_growth,
    gas_leak,
    inspection_and_anomaly,
    late_event,
    lone_complaint,
    oscillating_sensor,
    shuffled,
    silent_sensor,
    traffic_trunk,
    water_main_burst,
)


def test_water_main_pressure_drop_then_calls_then_recovery():
    scenario = water_main_burst()
    result = run(scenario)
    first_call = next(e for e in scenario.events if e["kind"] == "hotline")
    call_time = datetime.fromisoformat(first_call["event_time"])
    before_calls = [a for a in result.alerts if a.event_time < call_time]
    assert max(LEVEL_RANK[a.level] for a in before_calls) == LEVEL_RANK["warning"]
    assert all(a.info[0].certainty == "Possible" for a in before_calls)
    critical = [a for a in result.alerts if a.level == "critical" and a.msgType != "Cancel"]
    assert critical, result.msg_types()
    assert critical[0].event_time >= call_time
    assert critical[0].info[0].certainty in {"Likely", "Observed"}
    assert critical[0].info[0].severity == "Extreme"
    assert {e.summary.split()[0] for e in critical[0].evidence} >= {"ps-1:", "water_leak"}
    # The calls carried no asset_id: they were matched to the main within 300 m.
    assert result.unmatched == []
    last = result.alerts[-1]
    assert last.msgType == "Cancel"
    recovery = datetime.fromisoformat(scenario.events[-90]["event_time"])
    assert (last.event_time - recovery).total_seconds() >= 900  # not before the dwell time
    assert len(result.incidents()) == 1
    # Every Update and the Cancel reference the message before them.
    for previous, message in zip(result.alerts, result.alerts[1:], strict=False):
        assert message.references[-1].split(",")[1] == previous.identifier


def test_gas_over_threshold_is_critical_at_once_and_observed():
    scenario = gas_leak()
    result = run(scenario)
    first = result.alerts[0]
    assert first.msgType == "Alert"
    assert first.level == "critical"
    assert first.info[0].certainty == "Observed"
    assert first.info[0].urgency == "Immediate"
    jump = next(e for e in scenario.events if e["value"] > 100)
    assert result.caused[jump["event_id"]] == [first]


def test_speed_collapse_against_the_usual_hour_is_a_warning():
    result = run(traffic_trunk(collapse=True))
    assert result.alerts, "a collapse to 20% of the usual speed must alert"
    peak = max(LEVEL_RANK[a.level] for a in result.alerts)
    assert peak == LEVEL_RANK["warning"]
    first = result.alerts[0]
    # Nothing before the collapse (two days of rush hours included), then at 11:00 sharp.
    assert first.event_time.astimezone(SHANGHAI) == datetime(2026, 11, 25, 11, 0, tzinfo=SHANGHAI)
    assert first.msgType == "Alert"
    assert "20% of its usual" in (first.info[0].description or "")


def test_normal_evening_rush_hour_raises_nothing():
    result = run(traffic_trunk(collapse=False))
    assert result.alerts == []


def test_crowd_grows_to_watch_then_warning_then_critical_over_capacity():
    result = run(crowd_growth())
    assert [(a.msgType, a.level) for a in result.alerts] == [
        ("Alert", "watch"),
        ("Update", "warning"),
        ("Update", "critical"),
    ]
    assert result.alerts[-1].info[0].certainty == "Observed"
    assert result.alerts[-1].asset_type == "crowded_place"


def test_one_lone_complaint_raises_nothing_above_watch():
    result = run(lone_complaint())
    assert all(LEVEL_RANK[a.level] <= LEVEL_RANK["watch"] for a in result.alerts)
    assert result.unmatched == []


def test_sensor_oscillating_around_threshold_gives_one_alert_and_one_cancel():
    result = run(oscillating_sensor())
    kinds = [a.msgType for a in result.alerts]
    assert kinds.count("Alert") == 1
    assert kinds.count("Cancel") == 1
    assert kinds[-1] == "Cancel"


def test_silent_sensor_is_reported_and_never_cancels():
    result = run(silent_sensor())
    assert [a.msgType for a in result.alerts] == ["Alert"]
    assert result.alerts[0].level == "warning"
    final = result.risks[-1]
    assert final.level == "warning"
    health = [f for f in final.factors if f.source == "data_health"]
    assert health
    assert "gs-1 silent" in health[0].detail
    assert final.certainty == "Likely"  # Observed, lowered one step by the silence


def test_events_shuffled_within_lateness_give_the_same_incidents_and_peaks():
    scenario = water_main_burst()
    in_order = run(scenario)
    for seed in range(5):
        mixed = run(shuffled(scenario, within_s=240, seed=seed))
        assert mixed.late == []
        assert mixed.peaks() == in_order.peaks(), seed


def test_event_later_than_the_lateness_is_late():
    scenario = gas_leak()
    late = late_event(scenario, late_by_s=301)
    on_time = late_event(scenario, late_by_s=299) | {"event_id": "on-time"}
    result = run(scenario, [*scenario.events, late, on_time])
    assert result.late == [late["event_id"]]


def test_inspection_and_mild_anomaly_together_rank_higher_and_fall_back():
    alone_anomaly = run(inspection_and_anomaly(anomaly=True, inspection=False))
    alone_inspection = run(inspection_and_anomaly(anomaly=False, inspection=True))
    both = run(inspection_and_anomaly(anomaly=True, inspection=True))
    peak = {
        name: max(LEVEL_RANK[a.level] for a in r.alerts)
        for name, r in (
            ("anomaly", alone_anomaly),
            ("inspection", alone_inspection),
            ("both", both),
        )
    }
    assert peak["both"] > max(peak["anomaly"], peak["inspection"]), peak
    rectified = next(
        e
        for e in inspection_and_anomaly(anomaly=True, inspection=True).events
        if e.get("status") == "rectified"
    )
    after = [
        a for a in both.alerts if a.event_time >= datetime.fromisoformat(rectified["event_time"])
    ]
    assert after
    assert LEVEL_RANK[after[-1].level] < peak["both"] or after[-1].msgType == "Cancel"
