"""Hand-built city scenarios, shared by the engine unit tests and the broker tests.

Each scenario is a small registry (GeoJSON features) and the wire events in
arrival order. Times are Shanghai time (+08:00), starting Monday 2026-11-23.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)

# ~111 m per 0.001 degree of latitude.
WATER_MAIN = {
    "type": "Feature",
    "geometry": {"type": "LineString", "coordinates": [[121.4700, 31.2300], [121.4900, 31.2300]]},
    "properties": {
        "asset_id": "wm-1",
        "asset_type": "lifeline_corridor",
        "subtype": "water_main",
        "name": "Yan'an Rd water main DN800",
        "district": "Huangpu",
    },
}
SECOND_WATER_MAIN = {
    "type": "Feature",
    "geometry": {"type": "LineString", "coordinates": [[121.4700, 31.2600], [121.4800, 31.2650]]},
    "properties": {
        "asset_id": "wm-2",
        "asset_type": "lifeline_corridor",
        "subtype": "water_main",
        "name": "Hengfeng Rd water main DN600",
        "district": "Jing'an",
    },
}
GAS_MAIN = {
    "type": "Feature",
    "geometry": {"type": "LineString", "coordinates": [[121.4700, 31.2400], [121.4900, 31.2410]]},
    "properties": {
        "asset_id": "gm-1",
        "asset_type": "lifeline_corridor",
        "subtype": "gas_main",
        "name": "Weihai Rd gas main",
        "district": "Jing'an",
    },
}
EXPRESSWAY = {
    "type": "Feature",
    "geometry": {"type": "LineString", "coordinates": [[121.40, 31.2500], [121.50, 31.2550]]},
    "properties": {
        "asset_id": "ex-1",
        "asset_type": "traffic_trunk",
        "subtype": "expressway",
        "name": "Yan'an Elevated Rd",
        "district": "Changning",
    },
}
METRO_STATION = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [121.4750, 31.2200]},
    "properties": {
        "asset_id": "ms-1",
        "asset_type": "crowded_place",
        "subtype": "metro_station",
        "name": "People's Square metro station",
        "district": "Huangpu",
        "capacity": 4000,
    },
}
ALL_ASSETS = [WATER_MAIN, SECOND_WATER_MAIN, GAS_MAIN, EXPRESSWAY, METRO_STATION]


@dataclass
class Scenario:
    """A registry and events in arrival order."""

    name: str
    events: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=lambda: list(ALL_ASSETS))
    _n: int = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{self.name}-{prefix}-{self._n}"

    def sensor(
        self, at: datetime, asset_id: str, sensor_id: str, metric: str, value: float
    ) -> dict[str, Any]:
        event = {
            "kind": "sensor",
            "event_id": self._id("s"),
            "event_time": at.isoformat(),
            "source": "scada",
            "sensor_id": sensor_id,
            "asset_id": asset_id,
            "metric": metric,
            "value": round(value, 3),
        }
        self.events.append(event)
        return event

    def call(
        self,
        at: datetime,
        service_code: str,
        lat: float,
        long: float,
        *,
        asset_id: str | None = None,
        status: str = "open",
        case_id: str | None = None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "kind": "hotline",
            "event_id": self._id("h"),
            "event_time": at.isoformat(),
            "source": "12345",
            "service_request_id": case_id or self._id("SR"),
            "service_code": service_code,
            "status": status,
            "description": f"Citizen reports {service_code.replace('_', ' ')}",
            "lat": lat,
            "long": long,
        }
        if asset_id is not None:
            event["asset_id"] = asset_id
        self.events.append(event)
        return event

    def inspection(
        self,
        at: datetime,
        asset_id: str,
        inspection_id: str,
        hazard: str,
        severity: int,
        status: str,
    ) -> dict[str, Any]:
        event = {
            "kind": "inspection",
            "event_id": self._id("i"),
            "event_time": at.isoformat(),
            "source": "field-app",
            "inspection_id": inspection_id,
            "asset_id": asset_id,
            "inspector_id": "insp-7",
            "hazard": hazard,
            "severity": severity,
            "status": status,
        }
        self.events.append(event)
        return event


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def water_main_burst() -> Scenario:
    """Pressure drops 30% in 10 min, then three leak calls within 300 m, then recovery."""
    s = Scenario("water")
    rng = random.Random(11)
    for m in range(0, 30):
        s.sensor(minutes(m), "wm-1", "ps-1", "water_pressure_kpa", 400 + rng.uniform(-4, 4))
    for m in range(30, 41):
        drop = 120 * (m - 30) / 10
        s.sensor(minutes(m), "wm-1", "ps-1", "water_pressure_kpa", 400 - drop + rng.uniform(-2, 2))
    calls = {44: (31.2315, 121.4790), 47: (31.2290, 121.4810), 50: (31.2320, 121.4805)}
    for m in range(41, 60):
        s.sensor(minutes(m), "wm-1", "ps-1", "water_pressure_kpa", 280 + rng.uniform(-3, 3))
        if m in calls:
            lat, long = calls[m]
            s.call(minutes(m + 0.5), "water_leak", lat, long)
    for m in range(60, 150):
        s.sensor(minutes(m), "wm-1", "ps-1", "water_pressure_kpa", 400 + rng.uniform(-4, 4))
    return s


def gas_leak() -> Scenario:
    """gas_ppm jumps over its critical threshold."""
    s = Scenario("gas")
    rng = random.Random(12)
    for m in range(0, 20):
        s.sensor(minutes(m), "gm-1", "gs-1", "gas_ppm", 2 + rng.uniform(0, 1))
    for m in range(20, 30):
        s.sensor(minutes(m), "gm-1", "gs-1", "gas_ppm", 150 + rng.uniform(-5, 5))
    return s


def _speed_profile(at: datetime) -> float:
    # Free flow 80 km/h; weekday rush hours 07-09 and 17-19 slow to ~35 km/h,
    # with 30-minute ramps.
    hour = at.hour + at.minute / 60
    slow = 0.0
    for start, end in ((7.0, 9.0), (17.0, 19.0)):
        if start - 0.5 <= hour < start:
            slow = max(slow, (hour - (start - 0.5)) / 0.5)
        elif start <= hour < end:
            slow = 1.0
        elif end <= hour < end + 0.5:
            slow = max(slow, 1 - (hour - end) / 0.5)
    return 80 - 45 * slow


def traffic_trunk(*, collapse: bool) -> Scenario:
    """Two weekdays of history at 5-minute steps, then a third day with a normal
    evening rush hour and (optionally) a speed collapse at 11:00."""
    s = Scenario("traffic-collapse" if collapse else "traffic-rush")
    rng = random.Random(13)
    start = datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)
    for step in range(3 * 24 * 12 - 12 * 4):  # until Wednesday 20:00
        at = start + timedelta(minutes=5 * step)
        speed = _speed_profile(at) * (1 + rng.gauss(0, 0.04))
        if collapse and at.day == 25 and 11 <= at.hour < 12:
            speed = 0.2 * _speed_profile(at)
        s.sensor(at, "ex-1", "det-1", "speed_kmh", speed)
    return s


def crowd_growth() -> Scenario:
    """A station's crowd grows toward, then over, its capacity of 4000."""
    s = Scenario("crowd")
    counts = [1000, 1400, 1900, 2400, 2900, 3100, 3250, 3400, 3500, 3650, 3750, 3850, 4000, 4200]
    for m, count in enumerate(counts):
        s.sensor(minutes(2 * m), "ms-1", "pc-1", "crowd_count", count)
    return s


def lone_complaint() -> Scenario:
    """One leak call near the main and nothing else."""
    s = Scenario("lone")
    s.call(minutes(5), "water_leak", 31.2310, 121.4800)
    return s


def oscillating_sensor() -> Scenario:
    """gas_ppm oscillates around its watch threshold (25) for 30 min, then settles."""
    s = Scenario("oscillating")
    rng = random.Random(14)
    for m in range(0, 10):
        s.sensor(minutes(m), "gm-1", "gs-1", "gas_ppm", 3 + rng.uniform(0, 1))
    for m in range(10, 40):
        s.sensor(minutes(m), "gm-1", "gs-1", "gas_ppm", 25 + (1.5 if m % 2 else -1.5))
    for m in range(40, 90):
        s.sensor(minutes(m), "gm-1", "gs-1", "gas_ppm", 3 + rng.uniform(0, 1))
    return s


def silent_sensor() -> Scenario:
    """A gas sensor raises a warning, then falls silent while another sensor reports."""
    s = Scenario("silent")
    rng = random.Random(15)
    for m in range(0, 20):
        s.sensor(minutes(m), "gm-1", "gs-1", "gas_ppm", 3 + rng.uniform(0, 1))
        s.sensor(minutes(m + 0.5), "gm-1", "gp-1", "gas_line_pressure_kpa", 8 + rng.uniform(0, 0.1))
    for m in range(20, 25):
        s.sensor(minutes(m), "gm-1", "gs-1", "gas_ppm", 60 + rng.uniform(-2, 2))
        s.sensor(minutes(m + 0.5), "gm-1", "gp-1", "gas_line_pressure_kpa", 8 + rng.uniform(0, 0.1))
    for m in range(25, 90):  # gs-1 silent from here on
        s.sensor(minutes(m + 0.5), "gm-1", "gp-1", "gas_line_pressure_kpa", 8 + rng.uniform(0, 0.1))
    return s


def shuffled(scenario: Scenario, within_s: float, seed: int) -> Scenario:
    """The same events, arrival order perturbed by up to ``within_s`` of event time."""
    rng = random.Random(seed)
    keyed = [
        (datetime.fromisoformat(e["event_time"]).timestamp() + rng.uniform(0, within_s), i, e)
        for i, e in enumerate(scenario.events)
    ]
    out = Scenario(scenario.name + "-shuffled", assets=scenario.assets)
    out.events = [e for _, _, e in sorted(keyed)]
    return out


def inspection_and_anomaly(*, anomaly: bool, inspection: bool) -> Scenario:
    """A mild pressure anomaly (-18%) and/or an open severity-4 inspection, later rectified."""
    s = Scenario(f"insp-{int(anomaly)}{int(inspection)}")
    rng = random.Random(16)
    for m in range(0, 120):
        value = 400.0
        if anomaly and m >= 20:
            value = 400 - 72 * min((m - 20) / 5, 1)  # -18% within 5 min, sustained
        s.sensor(minutes(m), "wm-2", "ps-9", "water_pressure_kpa", value + rng.uniform(-2, 2))
        if inspection and m == 30:
            s.inspection(minutes(m + 0.2), "wm-2", "IN-42", "corrosion", 4, "open")
        if inspection and m == 70:
            s.inspection(minutes(m + 0.2), "wm-2", "IN-42", "corrosion", 4, "rectified")
    return s


def late_event(scenario: Scenario, late_by_s: float) -> dict[str, Any]:
    """A copy of the scenario's first sensor event, re-timed to be late at its end."""
    last = max(datetime.fromisoformat(e["event_time"]) for e in scenario.events)
    first = next(e for e in scenario.events if e["kind"] == "sensor")
    return {
        **first,
        "event_id": f"{scenario.name}-late",
        "event_time": (last - timedelta(seconds=late_by_s)).isoformat(),
    }


def relocated(scenario: Scenario, tag: str, index: int) -> Scenario:
    """The scenario on its own copy of the city: asset ids prefixed, moved north by
    ``index`` x 0.05 degrees (5.5 km, far beyond the matching radius), so many
    scenarios can share one worker without touching each other's assets."""
    shift = 0.05 * index

    def move(node: Any) -> Any:
        if isinstance(node[0], list):
            return [move(child) for child in node]
        return [node[0], round(node[1] + shift, 6)]

    assets = []
    for feature in scenario.assets:
        properties = dict(feature["properties"])
        properties["asset_id"] = f"{tag}.{properties['asset_id']}"
        geometry = {
            "type": feature["geometry"]["type"],
            "coordinates": move(feature["geometry"]["coordinates"]),
        }
        assets.append({"type": "Feature", "geometry": geometry, "properties": properties})
    out = Scenario(f"{tag}.{scenario.name}", assets=assets)
    for event in scenario.events:
        moved = {**event, "event_id": f"{tag}.{event['event_id']}"}
        if "asset_id" in moved:
            moved["asset_id"] = f"{tag}.{moved['asset_id']}"
        if moved["kind"] == "hotline":
            moved["lat"] = round(moved["lat"] + shift, 6)
            moved["service_request_id"] = f"{tag}.{moved['service_request_id']}"
        out.events.append(moved)
    return out
