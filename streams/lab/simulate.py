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
from typing import Any

from streams.lab.simplan import (
    INCIDENT_CALLS,
    INCIDENT_FINDINGS,
    IRRELEVANT_CODES,
    SUBTYPE_METRIC,
    Injected,
    SimAsset,
    SimulationPlan,
    plan,
    registry_with_compact,
)


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``15m``, ``6h``, ``2d`` (or a bare number of seconds)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return timedelta(seconds=float(text[:-1]) * units[text[-1]])
    return timedelta(seconds=float(text))


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


def _incident_value(inc: Injected, normal: float, elapsed: float, end_s: float) -> float:
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

    def _start_s(self, inc: Injected) -> float:
        return (inc.truth.start - self.plan.start).total_seconds()

    def _end_s(self, inc: Injected) -> float:
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
        active: dict[str, Injected],
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
            "metric": SUBTYPE_METRIC[asset.subtype],
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

    def _call(self, inc: Injected, offset: float) -> dict[str, Any]:
        lat, long = self._near(inc.asset, 150)
        code = INCIDENT_CALLS[inc.truth.type]
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
        code = IRRELEVANT_CODES[rng.randrange(len(IRRELEVANT_CODES))]
        return self._hotline(at, code, lat, long, f"Citizen complaint about {code}")

    def _finding(self, inc: Injected, status: str, at: float) -> dict[str, Any]:
        inspector = self._rng.randrange(40)
        return self._inspection(
            inc.asset.asset_id,
            f"IN-{inc.truth.incident_id}",
            inspector,
            INCIDENT_FINDINGS[inc.truth.type],
            4,
            status,
            at,
        )

    def _routine_finding(
        self, asset: SimAsset, inspection_id: str, status: str, at: float
    ) -> dict[str, Any]:
        inspector = self._rng.randrange(40)
        hazard = ("corrosion", "obstruction", "signal_fault", "other")[self._rng.randrange(4)]
        severity = 1 + self._rng.randrange(2)
        return self._inspection(
            asset.asset_id, inspection_id, inspector, hazard, severity, status, at
        )

    def _inspection(
        self,
        asset_id: str,
        inspection_id: str,
        inspector: int,
        hazard: str,
        severity: int,
        status: str,
        at: float,
    ) -> dict[str, Any]:
        return {
            "kind": "inspection",
            "event_id": self._id("i"),
            "event_time": self._time(at),
            "source": "field-app",
            "inspection_id": inspection_id,
            "asset_id": asset_id,
            "inspector_id": f"insp-{inspector}",
            "hazard": hazard,
            "severity": severity,
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

    from streams.lab.geojson import write_geojson

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
