"""The acceptance pipeline of the engineers' tools: simulate → process → evaluate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support import GRIDWATCH


def gridwatch(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([GRIDWATCH, *args], capture_output=True, timeout=600, check=False)


def test_simulated_city_is_detected_with_the_required_quality(tmp_path: Path) -> None:
    log, registry, truth = tmp_path / "city.jsonl.gz", tmp_path / "r.geojson", tmp_path / "t.jsonl"
    made = gridwatch(
        "simulate", "--assets", "2000", "--duration", "6h", "--incidents", "40", "--seed", "7",
        "--registry", str(registry), "--out", str(log), "--truth", str(truth),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()
    alerts = tmp_path / "alerts.jsonl"
    processed = gridwatch("process", str(log), "--assets", str(registry), "--out", str(alerts))
    assert processed.returncode == 0, processed.stderr.decode()
    again = gridwatch("process", str(log), "--assets", str(registry))
    assert again.stdout == alerts.read_bytes()  # byte-identical across runs
    scored = gridwatch("evaluate", "--alerts", str(alerts), "--truth", str(truth), "--json")
    assert scored.returncode == 0, scored.stderr.decode()
    result = json.loads(scored.stdout)
    assert result["incidents"] == 40
    assert result["recall"] >= 0.95, result
    assert result["precision"] >= 0.90, result
    assert result["time_to_detect_p90_s"] <= 180, result
    assert result["decoy_alerts"] == 0, result
    assert set(result["by_type"]) == {
        "water_main_burst",
        "gas_leak",
        "power_cable_overheat",
        "bridge_strain",
        "traffic_incident",
        "crowd_surge",
    }


def test_simulate_is_deterministic(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        result = gridwatch(
            "simulate", "--assets", "120", "--duration", "30m", "--incidents", "6", "--seed", "11",
            "--out", str(out), "--truth", str(tmp_path / f"{name}-truth.jsonl"),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode()
        outputs.append((out.read_bytes(), (tmp_path / f"{name}-truth.jsonl").read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].count(b"\n") > 120 * 29


def test_sample_city_alerts_on_both_incidents(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    alerts = tmp_path / "alerts.jsonl"
    processed = gridwatch(
        "process", str(sample / "city-15m.jsonl"), "--assets", str(sample / "registry.geojson"),
        "--out", str(alerts),
    )  # fmt: skip
    assert processed.returncode == 0, processed.stderr.decode()
    scored = gridwatch(
        "evaluate", "--alerts", str(alerts), "--truth", str(sample / "truth.jsonl"), "--json"
    )
    result = json.loads(scored.stdout)
    assert (result["incidents"], result["detected"]) == (2, 2)
    assert result["decoy_alerts"] == result["decoy_watch_alerts"] == 0
