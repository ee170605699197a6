"""``gridwatch bench engine``: decode-validate-and-engine against decode-only, one process.

Both passes read the same generated log of wire bytes in one run, so the
ratio tells what the risk engine costs relative to the decoding it sits on.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas import Asset, InputLimits
from streams.core.ingest import Accepted, Intake
from streams.engine.config import load_config
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.lab.citygen import generate_registry

# One sensor metric per subtype, with its usual value and noise.
SUBTYPE_METRIC: dict[str, tuple[str, float, float]] = {
    "water_main": ("water_pressure_kpa", 400.0, 4.0),
    "gas_main": ("gas_ppm", 2.0, 0.5),
    "power_cable": ("cable_temp_c", 45.0, 1.0),
    "heat_pipe": ("supply_temp_c", 90.0, 1.0),  # no physical threshold: learnt baseline
    "bridge": ("strain_ue", 300.0, 10.0),
    "tunnel": ("strain_ue", 250.0, 10.0),
    "expressway": ("speed_kmh", 75.0, 4.0),
    "arterial": ("speed_kmh", 40.0, 3.0),
    "metro_station": ("crowd_count", 0.3, 0.02),  # share of capacity
    "square": ("crowd_count", 0.2, 0.02),
    "transit_hub": ("crowd_count", 0.3, 0.02),
}
_CODES = ("water_leak", "gas_smell", "traffic_jam", "crowding", "road_damage", "other")


@dataclass(frozen=True, slots=True)
class BenchLog:
    """A generated log: the registry and the wire bytes of every event."""

    assets: list[Asset]
    lines: list[bytes]


def synthetic_log(events: int, assets: int, seed: int) -> BenchLog:
    """Generate ``events`` wire events over ``assets`` assets of the synthetic city.

    99.6% sensor readings (one sensor per asset, every minute on average),
    0.35% hotline cases (half without asset_id, so spatial matching runs), 0.05%
    inspection findings; event time increases.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not cryptography
    registry = list(generate_registry(assets, seed))
    start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    step = 60.0 / max(len(registry), 1)
    lines: list[bytes] = []
    for n in range(events):
        at = (start + timedelta(seconds=n * step)).isoformat()
        asset = registry[rng.randrange(len(registry))]
        roll = rng.random()
        event: dict[str, Any]
        if roll < 0.996:
            metric, usual, noise = SUBTYPE_METRIC[asset.subtype]
            value = rng.gauss(usual, noise)
            if metric == "crowd_count":
                value *= asset.capacity or 1000.0
            event = {
                "kind": "sensor",
                "event_id": f"b{n}",
                "event_time": at,
                "source": "bench",
                "sensor_id": f"s-{asset.asset_id}",
                "asset_id": asset.asset_id,
                "metric": metric,
                "value": round(value, 3),
            }
        elif roll < 0.9995:
            lon, lat = _first_position(asset.geometry.coordinates)
            event = {
                "kind": "hotline",
                "event_id": f"b{n}",
                "event_time": at,
                "source": "12345",
                "service_request_id": f"SR-{n}",
                "service_code": rng.choice(_CODES),
                "status": "open",
                "description": "reported by a citizen",
                "lat": round(lat + rng.uniform(-0.001, 0.001), 6),
                "long": round(lon + rng.uniform(-0.001, 0.001), 6),
            }
            if rng.random() < 0.5:
                event["asset_id"] = asset.asset_id
        else:
            event = {
                "kind": "inspection",
                "event_id": f"b{n}",
                "event_time": at,
                "source": "field-app",
                "inspection_id": f"IN-{n}",
                "asset_id": asset.asset_id,
                "inspector_id": "bench",
                "hazard": rng.choice(("leak", "crack", "corrosion", "obstruction")),
                "severity": rng.randint(1, 3),
                "status": "open",
            }
        lines.append(orjson.dumps(event))
    return BenchLog(registry, lines)


def _first_position(coordinates: Any) -> tuple[float, float]:
    node = coordinates
    while isinstance(node[0], list):
        node = node[0]
    return float(node[0]), float(node[1])


def _intake() -> Intake:
    return Intake(InputLimits())


def bench_engine(events: int, assets: int, seed: int, repeat: int = 3) -> dict[str, Any]:
    """Time decode-only and decode+engine over the same log; best of ``repeat`` runs."""
    log = synthetic_log(events, assets, seed)
    registry = AssetRegistry(log.assets)
    config = load_config()
    now = datetime(2100, 1, 1, tzinfo=UTC)  # a replay: no future-time limit

    def decode_only() -> float:
        intake = _intake()
        started = time.perf_counter()
        for raw in log.lines:
            intake.event(raw, now)
        return time.perf_counter() - started

    def decode_and_engine() -> tuple[float, int]:
        intake = _intake()
        pipeline = RiskPipeline(registry, config)
        alerts = 0
        started = time.perf_counter()
        for raw in log.lines:
            decision = intake.event(raw, now)
            if isinstance(decision, Accepted):
                alerts += len(pipeline.handle(decision.item).alerts)
        return time.perf_counter() - started, alerts

    decode_s = []
    engine_s = []
    alerts = 0
    for _ in range(repeat):
        gc.collect()
        decode_s.append(decode_only())
        gc.collect()
        elapsed, alerts = decode_and_engine()
        engine_s.append(elapsed)
    decode_rate = events / min(decode_s)
    engine_rate = events / min(engine_s)
    return {
        "events": events,
        "assets": assets,
        "seed": seed,
        "repeat": repeat,
        "alerts": alerts,
        "decode_events_per_s": round(decode_rate, 1),
        "engine_events_per_s": round(engine_rate, 1),
        "ratio": round(engine_rate / decode_rate, 3),
    }
