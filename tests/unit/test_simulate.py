"""The synthetic city: determinism, order, validity, incidents and decoys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import InputLimits, decode_event
from streams.core.settings import project_root
from streams.lab.simplan import DECOY_TYPES, INCIDENT_TYPES
from streams.lab.simulate import default_start, parse_duration, run_simulation

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
SAMPLE = (project_root() or Path.cwd()) / "data" / "sample"


def simulate(tmp_path: Path, **overrides: Any) -> tuple[list[bytes], list[dict[str, Any]], bytes]:
    params: dict[str, Any] = {
        "n_assets": 200,
        "duration": timedelta(hours=2),
        "incidents": 12,
        "seed": 5,
        "start": default_start(),
    }
    params.update(overrides)
    lines: list[bytes] = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    truth = tmp_path / "truth.jsonl"
    registry = tmp_path / "registry.geojson"
    run_simulation(emit=lines.append, registry_out=registry, truth_out=truth, **params)
    return (
        lines,
        [orjson.loads(line) for line in truth.read_bytes().splitlines()],
        registry.read_bytes(),
    )


def test_same_seed_gives_identical_output(tmp_path):
    first = simulate(tmp_path / "a")
    second = simulate(tmp_path / "b")
    assert first == second
    third = simulate(tmp_path / "c", seed=6)
    assert third[0] != first[0]


def test_events_are_valid_and_in_event_time_order(tmp_path):
    lines, _, _ = simulate(tmp_path)
    limits = InputLimits()
    times = [decode_event(line, limits=limits, now=FAR_FUTURE).event_time for line in lines]
    assert times == sorted(times)
    kinds = {orjson.loads(line)["kind"] for line in lines}
    assert kinds == {"sensor", "hotline", "inspection"}
    ids = [orjson.loads(line)["event_id"] for line in lines]
    assert len(ids) == len(set(ids))


def test_every_incident_type_and_decoy_type_is_in_the_truth(tmp_path):
    _, truth, _ = simulate(tmp_path)
    assert {t["type"] for t in truth if not t["decoy"]} == set(INCIDENT_TYPES)
    assert {t["type"] for t in truth if t["decoy"]} == set(DECOY_TYPES)
    for entry in truth:
        assert datetime.fromisoformat(entry["start"]) < datetime.fromisoformat(entry["end"])


def test_incident_assets_show_their_signals(tmp_path):
    lines, truth, _ = simulate(tmp_path)
    events = [orjson.loads(line) for line in lines]
    for entry in (t for t in truth if t["type"] == "gas_leak"):
        start = datetime.fromisoformat(entry["start"])
        readings = [
            e["value"]
            for e in events
            if e["kind"] == "sensor"
            and e["asset_id"] == entry["asset_id"]
            and datetime.fromisoformat(e["event_time"]) > start + timedelta(minutes=6)
        ]
        assert readings
        assert max(readings) > 50  # over the gas thresholds
    calls = [e for e in events if e["kind"] == "hotline" and e["service_code"] == "gas_smell"]
    assert calls


def test_stuck_decoy_repeats_one_value(tmp_path):
    lines, truth, _ = simulate(tmp_path)
    stuck = next(t for t in truth if t["type"] == "decoy_stuck_sensor")
    start, end = (datetime.fromisoformat(stuck[k]) for k in ("start", "end"))
    values = {
        e["value"]
        for e in (orjson.loads(line) for line in lines)
        if e["kind"] == "sensor"
        and e["asset_id"] == stuck["asset_id"]
        and start + timedelta(minutes=1) < datetime.fromisoformat(e["event_time"]) < end
    }
    assert len(values) == 1


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800), ("30", 30)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_committed_sample_is_what_the_simulator_makes(tmp_path):
    lines, truth, registry = simulate(
        tmp_path, n_assets=60, duration=parse_duration("15m"), incidents=2, seed=3
    )
    assert (SAMPLE / "city-15m.jsonl").read_bytes() == b"".join(line + b"\n" for line in lines)
    assert (SAMPLE / "registry.geojson").read_bytes() == registry
    committed_truth = (SAMPLE / "truth.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in committed_truth] == truth
    assert sum(1 for t in truth if not t["decoy"]) == 2
