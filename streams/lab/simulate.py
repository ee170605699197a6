"""A seeded, deterministic synthetic city: registry, event log and ground truth.

Every asset carries one sensor reporting once a minute (at its own second
within the minute), with daily cycles, weekday/weekend differences, noise and
occasional dropouts. Citizens call the hotline about mostly irrelevant things;
inspectors file routine low-severity findings and later rectify them. On top
of that, ``incidents`` injected incidents produce the signals they would
really produce (sensor shifts, a rise of fitting hotline calls from nearby,
sometimes an inspection finding), and decoys that must not alert: stuck
sensors, lone complaints and normal rush hours. The ground truth lists both.

Output is produced in event-time order, one minute at a time, so memory stays
bounded by the number of assets (a compact tuple each), not by the number of
events: ``--assets 100000`` over hours works.

Pure Python: nothing here imports faust, kafka or prometheus.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
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

_INCIDENT_SUBTYPES: Final[dict[str, tuple[str, ...]]] = {
    "water_main_burst": ("water_main",),
    "gas_leak": ("gas_main",),
    "power_cable_overheat": ("power_cable",),
    "bridge_strain": ("bridge", "tunnel"),
    "traffic_incident": ("expressway", "arterial"),
    "crowd_surge": ("metro_station", "square", "transit_hub"),
}
_INCIDENT_CALLS: Final[dict[str, str]] = {
    "water_main_burst": "water_leak",
    "gas_leak": "gas_smell",
    "power_cable_overheat": "power_outage",
    "bridge_strain": "structural_damage",
    "traffic_incident": "traffic_jam",
    "crowd_surge": "crowding",
}
_INCIDENT_FINDINGS: Final[dict[str, str]] = {
    "water_main_burst": "leak",
    "gas_leak": "leak",
    "power_cable_overheat": "other",
    "bridge_strain": "crack",
    "traffic_incident": "obstruction",
    "crowd_surge": "overcrowding",
}
_IRRELEVANT_CODES: Final = ("noise", "litter", "illegal_parking", "street_light", "other")
_SUBTYPE_METRIC: Final[dict[str, str]] = {
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
class _Injected:
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
    incidents: list[_Injected]
    stuck: dict[str, tuple[float, float]]  # asset_id -> (from, to) seconds
    lone_calls: list[tuple[float, SimAsset]]
    truth: list[TruthEntry]


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``15m``, ``6h``, ``2d`` (or a bare number of seconds)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return timedelta(seconds=float(text[:-1]) * units[text[-1]])
    return timedelta(seconds=float(text))


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
    injected: list[_Injected] = []
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
        asset = pick(_INCIDENT_SUBTYPES[kind])
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
        injected.append(_Injected(entry, asset, ramp, severity, calls, finding))
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


def _rush(local: datetime) -> float:
    """0..1: how much of a rush hour it is (30-minute ramps); weekends at half strength."""
    hour = local.hour + local.minute / 60 + local.second / 3600
    level = 0.0
    for begin, end in ((7.0, 9.0), (17.0, 19.0)):
        if begin - 0.5 <= hour < begin:
            level = max(level, (hour - begin + 0.5) / 0.5)
        elif begin <= hour < end:
            level = 1.0
        elif end <= hour < end + 0.5:
            level = max(level, 1 - (hour - end) / 0.5)
    return level * (0.5 if local.weekday() >= 5 else 1.0)


def _daylight(local: datetime) -> float:
    """0..1 activity over the day, lowest around 04:00."""
    hour = local.hour + local.minute / 60
    return 0.5 - 0.5 * math.cos((hour - 4) / 24 * 2 * math.pi)


def normal_value(subtype: str, capacity: float, local: datetime, rng: random.Random) -> float:
    """A normal reading for the asset's metric at this local time."""
    rush = _rush(local)
    day = _daylight(local)
    if subtype == "water_main":
        return 410 - 25 * max(rush, day * 0.6) + rng.gauss(0, 3)
    if subtype == "gas_main":
        return max(0.0, 2.0 + rng.gauss(0, 0.3))
    if subtype == "power_cable":
        return 38 + 12 * day + rng.gauss(0, 0.5)
    if subtype == "heat_pipe":
        return 85 + 3 * (1 - day) + rng.gauss(0, 0.6)
    if subtype in ("bridge", "tunnel"):
        return 260 + 90 * max(rush, day * 0.5) + rng.gauss(0, 8)
    if subtype == "expressway":
        return 80 * (1 - 0.5 * rush) * (1 + rng.gauss(0, 0.04))
    if subtype == "arterial":
        return 42 * (1 - 0.45 * rush) * (1 + rng.gauss(0, 0.04))
    share = 0.08 + 0.25 * day + 0.3 * rush
    return max(0.0, capacity * share * (1 + rng.gauss(0, 0.03)))


def _incident_value(inc: _Injected, normal: float, elapsed: float, end_s: float) -> float:
    """The reading while an incident is on (``elapsed`` seconds after its start)."""
    progress = min(1.0, elapsed / inc.ramp_s)
    recovery = max(0.0, min(1.0, (elapsed - end_s) / 300.0))  # 5-minute return to normal
    strength = progress * (1.0 - recovery)
    kind = inc.truth.type
    if kind == "water_main_burst":
        return normal * (1 - inc.severity * strength)
    if kind == "traffic_incident":
        return normal * (1 - (1 - inc.severity) * strength)
    if kind == "crowd_surge":
        return normal + (inc.asset.capacity * inc.severity - normal) * strength
    return normal + (inc.severity - normal) * strength


# --------------------------------------------------------------------------- events


class Simulator:
    """Generates the event log of a plan, in event-time order, one minute at a time."""

    def __init__(self, sim: SimulationPlan, seed: int) -> None:
        self.plan = sim
        self.seed = seed
        self._rng = random.Random(f"events-{seed}")  # noqa: S311 - reproducible simulation
        self._counter = 0

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self.seed}-{self._counter}"

    def events(self) -> Iterator[dict[str, Any]]:
        """Every event of the simulation, in event-time order."""
        sim = self.plan
        rng = self._rng
        order = sorted(sim.assets, key=lambda a: (a.phase, a.asset_id))
        active_by_asset = {inc.asset.asset_id: inc for inc in sim.incidents}
        extra: list[tuple[float, int, dict[str, Any]]] = []  # heap of (t, seq, event)
        seq = 0
        for inc in sim.incidents:
            for offset in inc.calls:
                seq += 1
                heapq.heappush(extra, (self._start_s(inc) + offset, seq, self._call(inc, offset)))
            if inc.finding_at is not None:
                for status, at in (("open", inc.finding_at), ("rectified", None)):
                    when = self._start_s(inc) + (
                        inc.finding_at if at is not None else self._end_s(inc) + 600
                    )
                    if when < sim.duration_s:
                        seq += 1
                        heapq.heappush(extra, (when, seq, self._finding(inc, status, when)))
        for at, asset in sim.lone_calls:
            seq += 1
            heapq.heappush(extra, (at, seq, self._lone_call(asset, at)))
        dropouts: dict[str, float] = {}
        stuck_values: dict[str, float] = {}
        minutes = int(sim.duration_s // 60)
        background_rate = max(len(sim.assets) / 2000, 0.05)  # calls per minute
        inspection_rate = max(len(sim.assets) / 20000, 0.01)
        open_findings: list[tuple[float, str, SimAsset]] = []
        for minute in range(minutes):
            base = minute * 60.0
            for _ in range(_poisson(rng, background_rate)):
                seq += 1
                at = base + rng.uniform(0, 60)
                heapq.heappush(extra, (at, seq, self._background_call(at)))
            for _ in range(_poisson(rng, inspection_rate)):
                asset = sim.assets[rng.randrange(len(sim.assets))]
                if asset.asset_id in active_by_asset:
                    continue
                at = base + rng.uniform(0, 60)
                inspection_id = self._id("IN")
                seq += 1
                heapq.heappush(
                    extra, (at, seq, self._routine_finding(asset, inspection_id, "open", at))
                )
                open_findings.append((at + rng.uniform(1800, 7200), inspection_id, asset))
            for close_at, inspection_id, asset in [f for f in open_findings if f[0] < base + 60]:
                open_findings.remove((close_at, inspection_id, asset))
                seq += 1
                heapq.heappush(
                    extra,
                    (
                        close_at,
                        seq,
                        self._routine_finding(asset, inspection_id, "rectified", close_at),
                    ),
                )
            for asset in order:
                at = base + asset.phase
                while extra and extra[0][0] <= at:
                    yield heapq.heappop(extra)[2]
                reading = self._reading(asset, at, active_by_asset, dropouts, stuck_values)
                if reading is not None:
                    yield reading
            while extra and extra[0][0] < base + 60:
                yield heapq.heappop(extra)[2]

    # -- single events

    def _start_s(self, inc: _Injected) -> float:
        return (inc.truth.start - self.plan.start).total_seconds()

    def _end_s(self, inc: _Injected) -> float:
        return (inc.truth.end - self.plan.start).total_seconds()

    def _time(self, at: float) -> str:
        moment = self.plan.start + timedelta(seconds=round(at, 3))
        return moment.isoformat(timespec="milliseconds")

    def _local(self, at: float) -> datetime:
        # Local time is the start's own offset (the city's).
        return self.plan.start + timedelta(seconds=at)

    def _reading(
        self,
        asset: SimAsset,
        at: float,
        active: dict[str, _Injected],
        dropouts: dict[str, float],
        stuck_values: dict[str, float],
    ) -> dict[str, Any] | None:
        rng = self._rng
        until = dropouts.get(asset.asset_id)
        if until is not None:
            if at < until:
                return None
            del dropouts[asset.asset_id]
        elif rng.random() < 0.0002:  # ~1% of sensors drop out for a while each hour
            dropouts[asset.asset_id] = at + rng.uniform(300, 1800)
            return None
        value = normal_value(asset.subtype, asset.capacity, self._local(at), rng)
        inc = active.get(asset.asset_id)
        if inc is not None:
            start = self._start_s(inc)
            if at >= start:
                value = _incident_value(inc, value, at - start, self._end_s(inc) - start - 300)
        window = self.plan.stuck.get(asset.asset_id)
        if window is not None and window[0] <= at < window[1]:
            value = stuck_values.setdefault(asset.asset_id, value)
        return {
            "kind": "sensor",
            "event_id": self._id("s"),
            "event_time": self._time(at),
            "source": "scada",
            "sensor_id": f"s-{asset.asset_id}",
            "asset_id": asset.asset_id,
            "metric": _SUBTYPE_METRIC[asset.subtype],
            "value": round(value, 2),
            "quality": "good",
        }

    def _near(self, asset: SimAsset, metres: float) -> tuple[float, float]:
        rng = self._rng
        angle = rng.uniform(0, 2 * math.pi)
        distance = rng.uniform(0, metres)
        dlat = distance * math.cos(angle) / 111_320
        dlon = distance * math.sin(angle) / (111_320 * math.cos(math.radians(asset.lat)))
        return round(asset.lat + dlat, 6), round(asset.lon + dlon, 6)

    def _hotline(
        self, at: float, code: str, lat: float, long: float, description: str
    ) -> dict[str, Any]:
        return {
            "kind": "hotline",
            "event_id": self._id("h"),
            "event_time": self._time(at),
            "source": "12345",
            "service_request_id": self._id("SR"),
            "service_code": code,
            "status": "open",
            "description": description,
            "lat": lat,
            "long": long,
        }

    def _call(self, inc: _Injected, offset: float) -> dict[str, Any]:
        lat, long = self._near(inc.asset, 150)
        code = _INCIDENT_CALLS[inc.truth.type]
        return self._hotline(
            self._start_s(inc) + offset, code, lat, long, f"Caller reports {code.replace('_', ' ')}"
        )

    def _lone_call(self, asset: SimAsset, at: float) -> dict[str, Any]:
        code = {
            "water_main": "water_leak",
            "gas_main": "gas_smell",
            "arterial": "traffic_jam",
            "metro_station": "crowding",
        }[asset.subtype]
        lat, long = self._near(asset, 150)
        return self._hotline(at, code, lat, long, "A single worried caller")

    def _background_call(self, at: float) -> dict[str, Any]:
        rng = self._rng
        asset = self.plan.assets[rng.randrange(len(self.plan.assets))]
        lat, long = self._near(asset, 2000)
        lat = min(max(lat, -90.0), 90.0)
        code = _IRRELEVANT_CODES[rng.randrange(len(_IRRELEVANT_CODES))]
        return self._hotline(at, code, lat, long, f"Citizen complaint about {code}")

    def _finding(self, inc: _Injected, status: str, at: float) -> dict[str, Any]:
        return {
            "kind": "inspection",
            "event_id": self._id("i"),
            "event_time": self._time(at),
            "source": "field-app",
            "inspection_id": f"IN-{inc.truth.incident_id}",
            "asset_id": inc.asset.asset_id,
            "inspector_id": f"insp-{self._rng.randrange(40)}",
            "hazard": _INCIDENT_FINDINGS[inc.truth.type],
            "severity": 4,
            "status": status,
        }

    def _routine_finding(
        self, asset: SimAsset, inspection_id: str, status: str, at: float
    ) -> dict[str, Any]:
        return {
            "kind": "inspection",
            "event_id": self._id("i"),
            "event_time": self._time(at),
            "source": "field-app",
            "inspection_id": inspection_id,
            "asset_id": asset.asset_id,
            "inspector_id": f"insp-{self._rng.randrange(40)}",
            "hazard": ("corrosion", "obstruction", "signal_fault", "other")[self._rng.randrange(4)],
            "severity": 1 + self._rng.randrange(2),
            "status": status,
        }


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means used here.
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def registry_with_compact(n_assets: int, seed: int, into: list[SimAsset]) -> Iterator[Asset]:
    """Yield the registry's assets (for writing) while keeping their compact form in ``into``.

    Only the compact tuples stay in memory, so 100k assets cost a few MB.
    """
    rng = random.Random(f"assets-{seed}")  # noqa: S311 - reproducible simulation
    for asset in generate_registry(n_assets, seed):
        into.append(compact(asset, rng))
        yield asset


def default_start() -> datetime:
    """Monday 2026-11-23 06:00 Shanghai time: a morning rush hour within the first hours."""
    return datetime(2026, 11, 23, 6, 0, tzinfo=timezone(timedelta(hours=8)))


@dataclass
class SimulationSummary:
    """What a run produced."""

    assets: int = 0
    events: dict[str, int] = field(default_factory=dict)
    incidents: int = 0
    decoys: int = 0
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        """Events of every kind."""
        return sum(self.events.values())


def run_simulation(
    *,
    n_assets: int,
    duration: timedelta,
    incidents: int,
    seed: int,
    start: datetime,
    emit: Callable[[bytes], None],
    registry_out: Path | None = None,
    truth_out: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationSummary:
    """Generate the city and stream its events (JSON bytes, event-time order) to ``emit``.

    Args:
        n_assets: Size of the registry.
        duration: Simulated time span.
        incidents: Incidents to inject (decoys come on top: about a quarter as many).
        seed: Everything is a function of the seed.
        start: Event time of the first minute (timezone-aware; its offset is local time).
        emit: Receives each event as compact JSON bytes.
        registry_out: Where to write the GeoJSON registry (``.gz`` allowed).
        truth_out: Where to write the ground truth as JSON Lines.
        progress: Called with the number of events emitted so far, now and then.
    """
    import time

    import orjson

    from streams.lab.citygen import write_geojson

    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    began = time.perf_counter()
    compacted: list[SimAsset] = []
    assets = registry_with_compact(n_assets, seed, compacted)
    if registry_out is not None:
        write_geojson(assets, registry_out)
    else:
        for _ in assets:
            pass
    sim = plan(compacted, start, duration, incidents, seed)
    if truth_out is not None:
        with truth_out.open("wb") as handle:
            for entry in sim.truth:
                handle.write(orjson.dumps(entry.as_json()) + b"\n")
    summary = SimulationSummary(
        assets=len(compacted),
        incidents=len(sim.incidents),
        decoys=sum(1 for entry in sim.truth if entry.decoy),
    )
    counts = summary.events
    for number, event in enumerate(Simulator(sim, seed).events(), start=1):
        kind = event["kind"]
        counts[kind] = counts.get(kind, 0) + 1
        emit(orjson.dumps(event))
        if progress is not None and number % 10_000 == 0:
            progress(number)
    summary.elapsed_s = time.perf_counter() - began
    return summary
