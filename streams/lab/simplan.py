"""The simulated city's plan: its assets in compact form, the incidents and decoys, and when.

Everything here is decided before the first event, deterministically for a seed;
:mod:`streams.lab.simulate` then turns the plan into events. Pure Python.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from schemas import Asset
from streams.lab.citygen import generate_registry

INCIDENT_TYPES: Final = (
    "water_main_burst",
    "gas_leak",
    "power_cable_overheat",
    "bridge_strain",
    "traffic_incident",
    "crowd_surge",
)
"""Incident types the simulator injects."""

DECOY_TYPES: Final = ("decoy_stuck_sensor", "decoy_lone_complaint", "decoy_rush_hour")
"""Situations that must not raise an alert above watch."""

INCIDENT_SUBTYPES: Final[dict[str, tuple[str, ...]]] = {
    "water_main_burst": ("water_main",),
    "gas_leak": ("gas_main",),
    "power_cable_overheat": ("power_cable",),
    "bridge_strain": ("bridge", "tunnel"),
    "traffic_incident": ("expressway", "arterial"),
    "crowd_surge": ("metro_station", "square", "transit_hub"),
}
INCIDENT_CALLS: Final[dict[str, str]] = {
    "water_main_burst": "water_leak",
    "gas_leak": "gas_smell",
    "power_cable_overheat": "power_outage",
    "bridge_strain": "structural_damage",
    "traffic_incident": "traffic_jam",
    "crowd_surge": "crowding",
}
INCIDENT_FINDINGS: Final[dict[str, str]] = {
    "water_main_burst": "leak",
    "gas_leak": "leak",
    "power_cable_overheat": "other",
    "bridge_strain": "crack",
    "traffic_incident": "obstruction",
    "crowd_surge": "overcrowding",
}
IRRELEVANT_CODES: Final = ("noise", "litter", "illegal_parking", "street_light", "other")
SUBTYPE_METRIC: Final[dict[str, str]] = {
    "water_main": "water_pressure_kpa",
    "gas_main": "gas_ppm",
    "power_cable": "cable_temp_c",
    "heat_pipe": "supply_temp_c",
    "bridge": "strain_ue",
    "tunnel": "strain_ue",
    "expressway": "speed_kmh",
    "arterial": "speed_kmh",
    "metro_station": "crowd_count",
    "square": "crowd_count",
    "transit_hub": "crowd_count",
}


class SimAsset(NamedTuple):
    """What the simulator keeps of an asset (compact: 100k of them fit easily)."""

    asset_id: str
    subtype: str
    capacity: float
    lon: float
    lat: float
    phase: int  # second within the minute at which its sensor reports


@dataclass(frozen=True, slots=True)
class TruthEntry:
    """One injected incident or decoy."""

    incident_id: str
    type: str
    asset_id: str
    start: datetime
    end: datetime
    decoy: bool

    def as_json(self) -> dict[str, Any]:
        """The ground-truth line."""
        return {
            "incident_id": self.incident_id,
            "type": self.type,
            "asset_id": self.asset_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "decoy": self.decoy,
        }


@dataclass(slots=True)
class Injected:
    """An incident in the plan: its truth, asset, how fast and how hard it hits, calls, finding."""

    truth: TruthEntry
    asset: SimAsset
    ramp_s: float  # how long the signal takes to reach its peak
    severity: float  # peak size, meaning depends on type
    calls: list[float] = field(default_factory=list)  # seconds after start
    finding_at: float | None = None


@dataclass(frozen=True, slots=True)
class SimulationPlan:
    """Everything decided before the first event: assets, incidents and decoys."""

    start: datetime
    duration_s: float
    assets: list[SimAsset]
    incidents: list[Injected]
    stuck: dict[str, tuple[float, float]]  # asset_id -> (from, to) seconds
    lone_calls: list[tuple[float, SimAsset]]
    truth: list[TruthEntry]


def _point(asset: Asset) -> tuple[float, float]:
    node: Any = asset.geometry.coordinates
    while isinstance(node[0], list):
        # the middle vertex of a line, a vertex of a polygon ring
        node = node[len(node) // 2] if isinstance(node[0][0], float | int) else node[0]
    return float(node[0]), float(node[1])


def compact(asset: Asset, rng: random.Random) -> SimAsset:
    """The simulator's view of an asset."""
    lon, lat = _point(asset)
    return SimAsset(
        asset.asset_id, asset.subtype, asset.capacity or 0.0, lon, lat, rng.randrange(60)
    )


def plan(
    assets: list[SimAsset], start: datetime, duration: timedelta, incidents: int, seed: int
) -> SimulationPlan:
    """Choose incidents, decoys and their timing, deterministically for ``seed``."""
    rng = random.Random(f"plan-{seed}")  # noqa: S311 - reproducible simulation, not cryptography
    total = duration.total_seconds()
    by_subtype: dict[str, list[SimAsset]] = {}
    for each in assets:
        by_subtype.setdefault(each.subtype, []).append(each)
    used: set[str] = set()
    injected: list[Injected] = []
    truth: list[TruthEntry] = []

    def pick(subtypes: tuple[str, ...]) -> SimAsset | None:
        pool = [a for s in subtypes for a in by_subtype.get(s, []) if a.asset_id not in used]
        if not pool:
            return None
        chosen = pool[rng.randrange(len(pool))]
        used.add(chosen.asset_id)
        return chosen

    for n in range(incidents):
        kind = INCIDENT_TYPES[n % len(INCIDENT_TYPES)]
        asset = pick(INCIDENT_SUBTYPES[kind])
        if asset is None:
            continue
        length = rng.uniform(20 * 60, 75 * 60)
        begin = rng.uniform(0.08 * total, max(0.08 * total, 0.95 * total - length))
        ramp, severity = _shape(kind, rng)
        start_t = start + timedelta(seconds=round(begin))
        end_t = start_t + timedelta(seconds=round(length + ramp))
        entry = TruthEntry(f"inc-{n + 1:04d}", kind, asset.asset_id, start_t, end_t, False)
        calls = sorted(rng.uniform(60, min(length, 25 * 60)) for _ in range(rng.randint(2, 5)))
        finding = rng.uniform(15 * 60, length) if rng.random() < 0.4 else None
        injected.append(Injected(entry, asset, ramp, severity, calls, finding))
        truth.append(entry)

    decoys = max(1, incidents // 4)
    stuck: dict[str, tuple[float, float]] = {}
    for n in range(decoys):
        subtypes = ("water_main", "gas_main", "power_cable", "bridge")
        asset = pick((subtypes[n % len(subtypes)],))
        if asset is None:
            continue
        begin = rng.uniform(0.1 * total, 0.6 * total)
        end = min(total, begin + rng.uniform(40 * 60, 120 * 60))
        stuck[asset.asset_id] = (begin, end)
        truth.append(
            TruthEntry(
                f"decoy-stuck-{n + 1:03d}",
                "decoy_stuck_sensor",
                asset.asset_id,
                start + timedelta(seconds=round(begin)),
                start + timedelta(seconds=round(end)),
                True,
            )
        )
    lone: list[tuple[float, SimAsset]] = []
    for n in range(decoys):
        asset = pick(("water_main", "gas_main", "arterial", "metro_station")[n % 4 : n % 4 + 1])
        if asset is None:
            continue
        at = rng.uniform(0.05 * total, 0.95 * total)
        lone.append((at, asset))
        moment = start + timedelta(seconds=round(at))
        truth.append(
            TruthEntry(
                f"decoy-lone-{n + 1:03d}",
                "decoy_lone_complaint",
                asset.asset_id,
                moment,
                moment + timedelta(minutes=30),
                True,
            )
        )
    for n, trunk in enumerate(
        sorted(by_subtype.get("expressway", []) + by_subtype.get("arterial", []))[:decoys]
    ):
        if trunk.asset_id in used:
            continue
        for window_start, window_end in _rush_windows(start, total):
            truth.append(
                TruthEntry(
                    f"decoy-rush-{n + 1:03d}-{window_start:%H%M}",
                    "decoy_rush_hour",
                    trunk.asset_id,
                    window_start,
                    window_end,
                    True,
                )
            )
    lone.sort(key=lambda item: item[0])
    truth.sort(key=lambda e: (e.start, e.incident_id))
    return SimulationPlan(start, total, assets, injected, stuck, lone, truth)


def _shape(kind: str, rng: random.Random) -> tuple[float, float]:
    """(ramp seconds, peak severity) of an incident's sensor signal."""
    if kind == "water_main_burst":
        return rng.uniform(120, 300), rng.uniform(0.30, 0.55)  # share of pressure lost
    if kind == "gas_leak":
        return rng.uniform(60, 300), rng.uniform(60, 300)  # peak ppm
    if kind == "power_cable_overheat":
        return rng.uniform(300, 600), rng.uniform(85, 105)  # peak degrees C
    if kind == "bridge_strain":
        return rng.uniform(90, 240), rng.uniform(900, 1300)  # peak microstrain
    if kind == "traffic_incident":
        return rng.uniform(60, 180), rng.uniform(0.15, 0.30)  # speed share kept
    return rng.uniform(120, 360), rng.uniform(1.0, 1.3)  # crowd: share of capacity


def _rush_windows(start: datetime, total: float) -> Iterator[tuple[datetime, datetime]]:
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(seconds=total)
    while day < end:
        if day.weekday() < 5:
            for begin_h, end_h in ((7, 9), (17, 19)):
                window = (day + timedelta(hours=begin_h), day + timedelta(hours=end_h))
                if window[1] > start and window[0] < end:
                    yield max(window[0], start), min(window[1], end)
        day += timedelta(days=1)


# --------------------------------------------------------------------------- normal behaviour


def registry_with_compact(n_assets: int, seed: int, into: list[SimAsset]) -> Iterator[Asset]:
    """Yield the registry's assets (for writing) while keeping their compact form in ``into``.

    Only the compact tuples stay in memory, so 100k assets cost a few MB.
    """
    rng = random.Random(f"assets-{seed}")  # noqa: S311 - reproducible simulation
    for asset in generate_registry(n_assets, seed):
        into.append(compact(asset, rng))
        yield asset
