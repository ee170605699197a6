from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from click.testing import CliRunner

from schemas import Alert, CapInfo, CapParameter, encode
from streams.cli.main import cli
from streams.lab.evaluate import (
    INCIDENT_TYPE_FAMILY,
    TruthIncident,
    evaluate,
    group_alerts,
    load_alerts,
    load_truth,
    nearest_rank_percentile,
)

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alert(
    incident: str,
    asset_id: str,
    seconds: float,
    *,
    family: str = "water",
    level: str = "warning",
    msg_type: str = "Alert",
    k: int = 1,
) -> Alert:
    return Alert(
        identifier=f"{incident}-{k}",
        sender="gridwatch@ops.example",
        sent=at(seconds),
        msgType=msg_type,
        incidents=incident,
        info=[
            CapInfo(
                category=["Infra"],
                event="Asset risk",
                urgency="Immediate",
                severity="Severe",
                certainty="Likely",
                parameter=[CapParameter(valueName="gridwatch:family", value=family)],
            )
        ],
        asset_id=asset_id,
        asset_type="lifeline_corridor",
        risk_score=65.0,
        level=level,
        event_time=at(seconds),
    )


def truth(
    incident_id: str,
    asset_id: str,
    start_s: float,
    end_s: float,
    *,
    type_: str = "water_main_burst",
    decoy: bool = False,
) -> TruthIncident:
    return TruthIncident(
        incident_id=incident_id,
        type=type_,
        asset_id=asset_id,
        start=at(start_s),
        end=at(end_s),
        decoy=decoy,
    )


def test_type_family_constant():
    assert INCIDENT_TYPE_FAMILY == {
        "water_main_burst": "water",
        "gas_leak": "gas",
        "power_cable_overheat": "power",
        "bridge_strain": "structural",
        "traffic_incident": "traffic",
        "crowd_surge": "crowd",
    }


def test_perfect_detection():
    alerts = [
        alert("gridwatch-wm-1-water-1", "wm-1", 30),
        alert("gridwatch-wm-1-water-1", "wm-1", 200, level="critical", msg_type="Update", k=2),
        alert("gridwatch-wm-1-water-1", "wm-1", 5000, msg_type="Cancel", k=3),
        alert("gridwatch-gm-1-gas-1", "gm-1", 120, family="gas"),
    ]
    result = evaluate(
        alerts,
        [
            truth("t-water", "wm-1", 0, 600),
            truth("t-gas", "gm-1", 100, 700, type_="gas_leak"),
        ],
    )
    assert result["precision"] == 1.0
    assert result["recall"] == 1.0
    assert result["incidents"] == 2
    assert result["detected"] == 2
    assert result["alert_incidents"] == 2
    assert result["false_positive_incidents"] == []
    assert result["by_type"]["water_main_burst"]["time_to_detect_p50_s"] == 30.0
    assert result["by_type"]["gas_leak"]["time_to_detect_p50_s"] == 20.0
    assert result["by_type"]["gas_leak"]["missed"] == []


def test_group_alerts_summarises_an_incident():
    messages = [
        alert("gridwatch-wm-1-water-1", "wm-1", 30, level="watch"),
        alert("gridwatch-wm-1-water-1", "wm-1", 200, level="critical", msg_type="Update", k=2),
        alert("gridwatch-wm-1-water-1", "wm-1", 200, level="critical", msg_type="Update", k=2),
        alert("gridwatch-wm-1-water-1", "wm-1", 5000, level="warning", msg_type="Cancel", k=3),
    ]
    (incident,) = group_alerts(messages)
    assert incident.incident == "gridwatch-wm-1-water-1"
    assert incident.asset_id == "wm-1"
    assert incident.family == "water"
    assert incident.first_time == at(30)
    assert incident.last_time == at(5000)
    assert incident.peak_level == "critical"
    assert incident.messages == 3  # the redelivered Update counts once


def test_open_incident_has_no_last_time():
    (incident,) = group_alerts([alert("gridwatch-wm-1-water-1", "wm-1", 30)])
    assert incident.last_time is None


def test_missed_incident():
    result = evaluate(
        [alert("gridwatch-wm-1-water-1", "wm-1", 10)],
        [truth("t-1", "wm-1", 0, 600), truth("t-2", "wm-2", 0, 600)],
    )
    assert result["recall"] == 0.5
    assert result["detected"] == 1
    assert result["precision"] == 1.0
    assert result["by_type"]["water_main_burst"]["missed"] == ["t-2"]
    assert result["by_type"]["water_main_burst"]["recall"] == 0.5


def test_alert_on_another_asset_does_not_match():
    result = evaluate([alert("gridwatch-wm-9-water-1", "wm-9", 10)], [truth("t-1", "wm-1", 0, 60)])
    assert result["detected"] == 0
    assert result["precision"] == 0.0
    assert result["false_positive_incidents"] == ["gridwatch-wm-9-water-1"]


def test_alert_before_start_minus_60s_does_not_match():
    too_early = evaluate([alert("a-1", "wm-1", 1000 - 61)], [truth("t-1", "wm-1", 1000, 2000)])
    assert too_early["detected"] == 0
    assert too_early["false_positive_incidents"] == ["a-1"]
    just_in = evaluate([alert("a-1", "wm-1", 1000 - 60)], [truth("t-1", "wm-1", 1000, 2000)])
    assert just_in["detected"] == 1
    assert just_in["time_to_detect_p50_s"] == 0.0  # early alerts detect in 0 s


def test_grace_window_boundary():
    truth_list = [truth("t-1", "wm-1", 0, 600)]
    on_edge = evaluate([alert("a-1", "wm-1", 600 + 900)], truth_list)
    assert on_edge["detected"] == 1
    assert on_edge["time_to_detect_p50_s"] == 1500.0
    past_edge = evaluate([alert("a-1", "wm-1", 600 + 901)], truth_list)
    assert past_edge["detected"] == 0
    assert past_edge["precision"] == 0.0
    wider = evaluate([alert("a-1", "wm-1", 600 + 901)], truth_list, grace_s=1000)
    assert wider["detected"] == 1


def test_false_positive_lowers_precision():
    result = evaluate(
        [
            alert("a-hit", "wm-1", 10),
            alert("a-fp-1", "wm-2", 10),
            alert("a-fp-2", "wm-1", 50_000),
        ],
        [truth("t-1", "wm-1", 0, 600)],
    )
    assert result["precision"] == pytest.approx(1 / 3)
    assert result["recall"] == 1.0
    assert result["false_positive_incidents"] == ["a-fp-1", "a-fp-2"]


def test_earliest_matching_alert_incident_detects():
    result = evaluate(
        [alert("late", "wm-1", 300, family="traffic"), alert("early", "wm-1", 100)],
        [truth("t-1", "wm-1", 0, 600)],
    )
    assert result["time_to_detect_p50_s"] == 100.0
    assert result["precision"] == 1.0  # both match the incident


def test_decoy_alerts_split_by_level():
    result = evaluate(
        [
            alert("d-warn", "pipe-1", 100, level="watch"),
            alert("d-warn", "pipe-1", 200, level="warning", msg_type="Update", k=2),
            alert("d-watch", "pipe-2", 100, level="watch"),
            alert("d-far", "pipe-3", 10_000, level="critical"),
        ],
        [
            truth("decoy-1", "pipe-1", 0, 600, type_="decoy_stuck_sensor", decoy=True),
            truth("decoy-2", "pipe-2", 0, 600, type_="decoy_lone_complaint", decoy=True),
            truth("decoy-3", "pipe-3", 0, 600, type_="decoy_rush_hour", decoy=True),
        ],
    )
    assert result["decoy_alerts"] == 1
    assert result["decoy_watch_alerts"] == 1
    # Decoys are not true incidents: every alert incident is a false positive.
    assert result["incidents"] == 0
    assert result["recall"] == 1.0
    assert result["precision"] == 0.0
    assert result["false_positive_incidents"] == ["d-warn", "d-watch", "d-far"]
    assert result["by_type"] == {}


def test_ttd_percentiles_nearest_rank():
    truth_list = [truth(f"t-{i}", f"wm-{i}", 0, 600) for i in range(1, 11)]
    alerts = [alert(f"a-{i}", f"wm-{i}", 10 * i) for i in range(1, 11)]
    result = evaluate(alerts, truth_list)
    assert result["time_to_detect_p50_s"] == 50.0
    assert result["time_to_detect_p90_s"] == 90.0
    assert result["by_type"]["water_main_burst"]["time_to_detect_p90_s"] == 90.0


def test_nearest_rank_percentile_edges():
    assert nearest_rank_percentile([], 50) is None
    assert nearest_rank_percentile([7.0], 90) == 7.0
    assert nearest_rank_percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert nearest_rank_percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert nearest_rank_percentile([1.0, 2.0, 3.0, 4.0], 90) == 4.0


def test_nothing_detected_has_no_percentiles():
    result = evaluate([], [truth("t-1", "wm-1", 0, 600)])
    assert result["time_to_detect_p50_s"] is None
    assert result["time_to_detect_p90_s"] is None
    assert result["precision"] == 0.0
    assert result["recall"] == 0.0


def test_no_alerts_and_no_truth():
    result = evaluate([], [])
    assert result["precision"] == 1.0
    assert result["recall"] == 1.0
    assert result["alert_incidents"] == 0


def test_per_type_precision_by_family():
    result = evaluate(
        [
            alert("gas-hit", "gm-1", 10, family="gas"),
            alert("gas-fp", "gm-2", 10, family="gas"),
            alert("water-hit", "wm-1", 10, family="water"),
            alert("power-fp", "pc-1", 10, family="power"),
        ],
        [
            truth("t-gas", "gm-1", 0, 600, type_="gas_leak"),
            truth("t-water", "wm-1", 0, 600),
            truth("t-crowd", "st-1", 0, 600, type_="crowd_surge"),
        ],
    )
    assert result["by_type"]["gas_leak"]["precision"] == 0.5
    assert result["by_type"]["water_main_burst"]["precision"] == 1.0
    assert result["by_type"]["crowd_surge"]["precision"] == 1.0  # no crowd alerts
    assert result["by_type"]["crowd_surge"]["recall"] == 0.0
    assert result["by_type"]["crowd_surge"]["missed"] == ["t-crowd"]
    assert "power_cable_overheat" not in result["by_type"]
    assert result["precision"] == 0.5
    assert sorted(result["by_type"]) == ["crowd_surge", "gas_leak", "water_main_burst"]


def test_result_keys_and_json():
    result = evaluate([alert("a-1", "wm-1", 10)], [truth("t-1", "wm-1", 0, 600)])
    assert set(result) == {
        "precision",
        "recall",
        "time_to_detect_p50_s",
        "time_to_detect_p90_s",
        "decoy_alerts",
        "decoy_watch_alerts",
        "incidents",
        "detected",
        "alert_incidents",
        "false_positive_incidents",
        "by_type",
    }
    assert orjson.loads(orjson.dumps(result)) == result


def _truth_line(t: TruthIncident) -> bytes:
    return orjson.dumps(t.model_dump(mode="json"))


def _write_files(tmp_path, alerts, truth_list, gz=False):
    alerts_path = tmp_path / ("alerts.jsonl.gz" if gz else "alerts.jsonl")
    body = b"".join(encode(a) + b"\n" for a in alerts)
    if gz:
        with gzip.open(alerts_path, "wb") as handle:
            handle.write(body)
    else:
        alerts_path.write_bytes(body)
    truth_path = tmp_path / "truth.jsonl"
    truth_path.write_bytes(b"".join(_truth_line(t) + b"\n" for t in truth_list))
    return alerts_path, truth_path


def test_load_round_trip_with_gzip(tmp_path):
    alerts = [alert("a-1", "wm-1", 10), alert("a-2", "gm-1", 20, family="gas")]
    truth_list = [truth("t-1", "wm-1", 0, 600), truth("d-1", "x-1", 0, 5, decoy=True)]
    alerts_path, truth_path = _write_files(tmp_path, alerts, truth_list, gz=True)
    assert load_alerts(alerts_path) == alerts
    assert load_truth(truth_path) == truth_list


def test_malformed_lines_name_their_line_number(tmp_path):
    bad_alerts = tmp_path / "alerts.jsonl"
    bad_alerts.write_bytes(encode(alert("a-1", "wm-1", 10)) + b"\n\n{not json}\n")
    with pytest.raises(ValueError, match=r"alerts\.jsonl:3:"):
        load_alerts(bad_alerts)
    bad_truth = tmp_path / "truth.jsonl"
    bad_truth.write_bytes(_truth_line(truth("t-1", "wm-1", 0, 600)) + b'\n{"incident_id": "t-2"}\n')
    with pytest.raises(ValueError, match=r"truth\.jsonl:2:"):
        load_truth(bad_truth)


def test_truth_end_before_start_is_rejected(tmp_path):
    path = tmp_path / "truth.jsonl"
    path.write_bytes(
        orjson.dumps(
            {
                "incident_id": "t-1",
                "type": "gas_leak",
                "asset_id": "gm-1",
                "start": "2026-11-27T09:00:00+00:00",
                "end": "2026-11-27T08:00:00+00:00",
                "decoy": False,
            }
        )
        + b"\n"
    )
    with pytest.raises(ValueError, match=r"truth\.jsonl:1:.*end is before start"):
        load_truth(path)


CLI_ALERTS = [
    alert("gas-hit", "gm-1", 10, family="gas"),
    alert("gas-fp", "gm-2", 10, family="gas"),
    alert("power-hit", "pc-1", 400, family="power", level="critical"),
    alert("decoy-hit", "wm-7", 30, level="warning"),
]
CLI_TRUTH = [
    truth("t-gas", "gm-1", 0, 600, type_="gas_leak"),
    truth("t-power", "pc-1", 0, 600, type_="power_cable_overheat"),
    truth("t-bridge", "br-1", 0, 600, type_="bridge_strain"),
    truth("d-1", "wm-7", 0, 600, type_="decoy_stuck_sensor", decoy=True),
]


def test_cli_json_matches_evaluate(tmp_path):
    alerts_path, truth_path = _write_files(tmp_path, CLI_ALERTS, CLI_TRUTH)
    result = CliRunner().invoke(
        cli, ["evaluate", "--alerts", str(alerts_path), "--truth", str(truth_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output) == evaluate(CLI_ALERTS, CLI_TRUTH)
    assert orjson.loads(result.output)["decoy_alerts"] == 1


def test_cli_json_honours_grace(tmp_path):
    alerts = [alert("a-1", "wm-1", 600 + 901)]
    truth_list = [truth("t-1", "wm-1", 0, 600)]
    alerts_path, truth_path = _write_files(tmp_path, alerts, truth_list)
    args = ["evaluate", "--alerts", str(alerts_path), "--truth", str(truth_path), "--json"]
    default = orjson.loads(CliRunner().invoke(cli, args).output)
    wider = orjson.loads(CliRunner().invoke(cli, [*args, "--grace-s", "1000"]).output)
    assert default["detected"] == 0
    assert wider == evaluate(alerts, truth_list, grace_s=1000)
    assert wider["detected"] == 1


def test_cli_table_prints_each_type(tmp_path):
    alerts_path, truth_path = _write_files(tmp_path, CLI_ALERTS, CLI_TRUTH)
    result = CliRunner().invoke(
        cli, ["evaluate", "--alerts", str(alerts_path), "--truth", str(truth_path)]
    )
    assert result.exit_code == 0, result.output
    for name in ("gas_leak", "power_cable_overheat", "bridge_strain", "total"):
        assert name in result.output
    assert "gas-fp" in result.output
    assert "decoy-hit" in result.output


def test_cli_reports_malformed_input(tmp_path):
    alerts_path, truth_path = _write_files(tmp_path, CLI_ALERTS, CLI_TRUTH)
    truth_path.write_bytes(truth_path.read_bytes() + b"nope\n")
    result = CliRunner().invoke(
        cli, ["evaluate", "--alerts", str(alerts_path), "--truth", str(truth_path), "--json"]
    )
    assert result.exit_code == 2
    assert "truth.jsonl:5:" in result.output
