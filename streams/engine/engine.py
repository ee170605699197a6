"""The risk engine: typed events in, risk-state updates and CAP alert messages out.

Pure and deterministic: the output is a function of the per-asset arrival
order of events, so the Faust agents and the offline ``process`` command give
the same alerts for the same input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from schemas import (
    Acknowledgement,
    Alert,
    AnyEvent,
    Asset,
    CapArea,
    CapCertainty,
    CapInfo,
    CapParameter,
    CapSeverity,
    CapUrgency,
    Evidence,
    HotlineCase,
    IncidentRef,
    InspectionFinding,
    RiskFactor,
    RiskLevel,
    RiskState,
    SensorReading,
)
from streams.engine.config import EngineConfig, MetricRule
from streams.engine.signals import (
    Factor,
    HotlinePressure,
    InspectionFindings,
    RobustBaseline,
    SensorSeries,
    level_rank,
)

_SEVERITY: dict[RiskLevel, CapSeverity] = {
    "watch": "Moderate",
    "warning": "Severe",
    "critical": "Extreme",
}
_URGENCY: dict[RiskLevel, CapUrgency] = {
    "watch": "Expected",
    "warning": "Immediate",
    "critical": "Immediate",
}
_CERTAINTY_ORDER: tuple[CapCertainty, ...] = ("Unlikely", "Possible", "Likely", "Observed")
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


class AssetLookup(Protocol):
    """What the engine needs of the asset registry."""

    def get(self, asset_id: str) -> Asset | None:
        """The asset, or None when the registry does not know it."""
        ...


@runtime_checkable
class AreaLookup(Protocol):
    """Optional: where an asset is, for the CAP ``area`` block."""

    def representative_point(self, asset_id: str) -> tuple[float, float] | None:
        """(lat, lon) of a point on the asset."""
        ...

    def radius_m(self, asset_id: str) -> float | None:
        """Distance from that point to the farthest point of the asset."""
        ...


def safe_id(text: str) -> str:
    """Make text safe inside a CAP identifier (no spaces, commas, < or &)."""
    return _UNSAFE.sub("_", text)


def _signature(factors: tuple[Factor, ...]) -> tuple[tuple[str, float], ...]:
    return tuple((f.name, f.contribution) for f in factors)


def _health_factor(series: SensorSeries, detail: str) -> Factor:
    return Factor(
        f"data_health:{series.sensor_id}:{series.metric}", "data_health", series.family, 0.0, detail
    )


def _iso(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


# --------------------------------------------------------------------------- lifecycle


@dataclass(slots=True)
class IncidentLifecycle:
    """The alert lifecycle of one asset and hazard family.

    ``Alert`` on entering watch or above; ``Update`` when the level changes
    (up at once, down only after ``downgrade_dwell_s`` below the level's start
    minus the hysteresis); ``Cancel`` once the score stays under the exit
    score for ``cancel_dwell_s``.
    """

    family: str
    count: int = 0
    active: bool = False
    level: RiskLevel | None = None
    peak: RiskLevel | None = None
    onset: float = 0.0
    messages: list[tuple[str, float]] = field(default_factory=list)
    below_since: float | None = None
    downgrade_since: float | None = None
    acknowledged: bool = False

    @property
    def incident_id(self) -> str:
        """Identifier of the current (or last) incident."""
        return f"{self.family}-{self.count}"

    def step(self, score: float, now: float, config: EngineConfig) -> str | None:
        """Advance with the family's score at event time ``now``; return the msgType to send."""
        target = config.level_for(score)
        if not self.active:
            if target is None:
                return None
            self.count += 1
            self.active = True
            self.level = target
            self.peak = target
            self.onset = now
            self.messages = []
            self.acknowledged = False
            self.below_since = self.downgrade_since = None
            return "Alert"
        if level_rank(target) > level_rank(self.level):
            self.level = target
            self.peak = target if level_rank(target) > level_rank(self.peak) else self.peak
            self.below_since = self.downgrade_since = None
            return "Update"
        if score < config.exit_score:
            self.downgrade_since = None
            if self.below_since is None:
                self.below_since = now
            if now - self.below_since >= config.cancel_dwell_s:
                self.active = False
                return "Cancel"
            return None
        self.below_since = None
        assert self.level is not None
        start = config.level_starts[self.level]
        if level_rank(target) < level_rank(self.level) and score < start - config.hysteresis:
            if self.downgrade_since is None:
                self.downgrade_since = now
            if now - self.downgrade_since >= config.downgrade_dwell_s:
                self.downgrade_since = None
                if target is not None:
                    self.level = target
                    return "Update"
            return None
        self.downgrade_since = None
        return None

    def snapshot(self) -> list[Any]:
        """Plain data for persistence."""
        return [
            self.family,
            self.count,
            self.active,
            self.level,
            self.peak,
            self.onset,
            [list(m) for m in self.messages],
            self.below_since,
            self.downgrade_since,
            self.acknowledged,
        ]

    @classmethod
    def restore(cls, data: list[Any]) -> IncidentLifecycle:
        """Rebuild from :meth:`snapshot`."""
        family, count, active, level, peak, onset, messages, below, down, acked = data
        return cls(
            family,
            count,
            active,
            level,
            peak,
            onset,
            [(str(i), float(t)) for i, t in messages],
            below,
            down,
            acked,
        )


# --------------------------------------------------------------------------- asset state


@dataclass(slots=True)
class FamilyScore:
    """A family's combined score and why."""

    family: str
    score: float
    certainty: CapCertainty
    factors: list[Factor]


@dataclass(slots=True)
class AssetState:
    """Everything the engine remembers about one asset."""

    asset_id: str
    watermark: float | None = None
    series: dict[str, SensorSeries] = field(default_factory=dict)
    hotline: HotlinePressure = field(default_factory=HotlinePressure)
    inspections: InspectionFindings = field(default_factory=InspectionFindings)
    incidents: dict[str, IncidentLifecycle] = field(default_factory=dict)
    published: list[Any] | None = None
    quiet: bool = True
    next_evaluation: float = 0.0
    position: list[int] | None = None

    def snapshot(self) -> dict[str, Any]:
        """Plain JSON-able data (for the changelog-backed table)."""
        return {
            "asset_id": self.asset_id,
            "watermark": self.watermark,
            "series": {k: s.snapshot() for k, s in self.series.items()},
            "hotline": self.hotline.snapshot(),
            "inspections": self.inspections.snapshot(),
            "incidents": {k: i.snapshot() for k, i in self.incidents.items()},
            "published": self.published,
            "quiet": self.quiet,
            "next_evaluation": self.next_evaluation,
            "position": self.position,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> AssetState:
        """Rebuild from :meth:`snapshot`."""
        return cls(
            asset_id=data["asset_id"],
            watermark=data["watermark"],
            series={k: SensorSeries.restore(v) for k, v in data["series"].items()},
            hotline=HotlinePressure.restore(data["hotline"]),
            inspections=InspectionFindings.restore(data["inspections"]),
            incidents={k: IncidentLifecycle.restore(v) for k, v in data["incidents"].items()},
            published=data["published"],
            quiet=data["quiet"],
            next_evaluation=data["next_evaluation"],
            position=data["position"],
        )


class StateStore(Protocol):
    """Where per-asset state lives between events."""

    def get(self, asset_id: str) -> AssetState | None:
        """The asset's state, or None if it has none yet."""
        ...

    def put(self, asset_id: str, state: AssetState) -> None:
        """Keep the asset's state."""
        ...


class MemoryStore:
    """A plain in-memory state store (offline processing and tests)."""

    def __init__(self) -> None:
        self.states: dict[str, AssetState] = {}

    def get(self, asset_id: str) -> AssetState | None:
        """The asset's state, or None."""
        return self.states.get(asset_id)

    def put(self, asset_id: str, state: AssetState) -> None:
        """Keep the asset's state."""
        self.states[asset_id] = state


@dataclass(slots=True)
class EngineResult:
    """What one input changed.

    Attributes:
        alerts: CAP messages to publish, in order.
        risk: The asset's new risk state, when it changed meaningfully.
        late: True when the event was later than the allowed lateness (not applied).
        unknown_asset: True when the registry does not know the asset.
        redelivered: True when the input position was already applied (not applied again).
    """

    alerts: list[Alert] = field(default_factory=list)
    risk: RiskState | None = None
    late: bool = False
    unknown_asset: bool = False
    redelivered: bool = False


# Shared results for the fast path (never mutated by callers).
_NOTHING: Final = EngineResult()
_NOTHING_UNKNOWN: Final = EngineResult(unknown_asset=True)


# --------------------------------------------------------------------------- engine


class RiskEngine:
    """Joins sensor, hotline and inspection events per asset into risk and alerts.

    Args:
        registry: Asset lookup (and optionally area lookup for CAP areas).
        config: Thresholds, families, scoring and lifecycle settings.
        store: Where per-asset state lives; in memory by default.
    """

    def __init__(
        self, registry: AssetLookup, config: EngineConfig, store: StateStore | None = None
    ) -> None:
        self._registry = registry
        self.config = config
        self.store: StateStore = store if store is not None else MemoryStore()
        self._zone = ZoneInfo(config.timezone)
        self.dirty: set[str] = set()
        self._rules: dict[tuple[str, str], MetricRule | None] = {}
        self._slots: dict[int, tuple[int, int]] = {}

    @property
    def registry(self) -> AssetLookup:
        """The asset registry in use."""
        return self._registry

    @registry.setter
    def registry(self, registry: AssetLookup) -> None:
        self._registry = registry
        self._rules.clear()

    # -- input

    def process(self, event: AnyEvent, position: tuple[int, int] | None = None) -> EngineResult:
        """Apply one event (``asset_id`` set) and return what changed.

        Args:
            event: The event.
            position: (partition, offset) of the message on the per-asset stream,
                when there is one. An asset's messages all come from one partition,
                so a position at or before the last one applied is a redelivery
                (after a crash or rebalance) and is skipped: state changes apply
                exactly once.

        Raises:
            ValueError: For a hotline case without ``asset_id`` (match it first).
        """
        asset_id = event.asset_id
        if asset_id is None:
            raise ValueError("hotline cases must be matched to an asset before the engine")
        asset = self.registry.get(asset_id)
        state = self._state(asset_id)
        if position is not None:
            last = state.position
            if last is not None and last[0] == position[0] and position[1] <= last[1]:
                return EngineResult(redelivered=True, unknown_asset=asset is None)
            state.position = [position[0], position[1]]
        t = event.event_time.timestamp()
        config = self.config
        if state.watermark is not None and t < state.watermark - config.allowed_lateness_s:
            return EngineResult(late=True, unknown_asset=asset is None)
        transient: tuple[Factor, ...] = ()
        if isinstance(event, SensorReading):
            series, before, transient = self._sensor(state, asset, event, t)
            after = series.current
            unchanged = not transient and (
                (not before and not after) or _signature(before) == _signature(after)
            )
            watermark = t if state.watermark is None else max(state.watermark, t)
            froze = series.same_count == self.config.stuck_count and series.variety
            if (
                unchanged
                and not froze
                and watermark >= state.next_evaluation
                and state.quiet
                and not self._health_changed(state, watermark)
            ):
                # A quiet asset due for its periodic check, with no sensor gone
                # silent or stuck and none reported before: nothing to re-score.
                state.next_evaluation = watermark + self.config.quiet_evaluate_every_s
            if unchanged and not froze and watermark < state.next_evaluation:
                # Fast path: a reading that changes no factor cannot raise a level.
                # Decay, dwell timers and silent sensors are re-checked at least
                # every `evaluate_every_s` of event time (`quiet_evaluate_every_s`
                # on an asset with nothing going on).
                state.watermark = watermark
                self.dirty.add(asset_id)
                return _NOTHING if asset is not None else _NOTHING_UNKNOWN
        elif isinstance(event, HotlineCase):
            family = config.service_code_family.get(event.service_code) or config.asset_family(
                asset
            )
            state.hotline.observe(
                t,
                event.service_request_id,
                family,
                event.status == "open",
                event.event_id,
                f"{event.service_code} call {event.service_request_id}",
            )
        elif isinstance(event, InspectionFinding):
            family = config.hazard_family.get(event.hazard) or config.asset_family(asset)
            state.inspections.observe(
                t,
                event.inspection_id,
                family,
                event.hazard,
                event.severity,
                event.status == "open",
                event.event_id,
            )
        state.watermark = t if state.watermark is None else max(state.watermark, t)
        result = self._evaluate(state, asset, t, transient)
        result.unknown_asset = asset is None
        self.dirty.add(asset_id)
        return result

    def acknowledge(self, ack: Acknowledgement) -> EngineResult:
        """Mark the asset's open incident(s) acknowledged; returns the new risk state."""
        asset = self.registry.get(ack.asset_id)
        state = self.store.get(ack.asset_id)
        if state is None:
            return EngineResult(unknown_asset=asset is None)
        changed = False
        for lifecycle in state.incidents.values():
            wanted = ack.incident is None or ack.incident == self._incident_id(
                ack.asset_id, lifecycle
            )
            if lifecycle.active and wanted and not lifecycle.acknowledged:
                lifecycle.acknowledged = True
                changed = True
        result = EngineResult(unknown_asset=asset is None)
        if changed:
            now = state.watermark if state.watermark is not None else ack.event_time.timestamp()
            scores = self._scores(state, asset, now, ())
            result.risk = self._risk_state(state, asset, scores, now, force=True)
            self.dirty.add(ack.asset_id)
        return result

    def drain_dirty(self) -> list[AssetState]:
        """States changed since the last call (for persisting only what changed)."""
        states = [s for a in sorted(self.dirty) if (s := self.store.get(a)) is not None]
        self.dirty.clear()
        return states

    # -- signals

    def _state(self, asset_id: str) -> AssetState:
        # States are mutated in place: a new one is handed to the store once.
        state = self.store.get(asset_id)
        if state is None:
            state = AssetState(asset_id)
            self.store.put(asset_id, state)
        return state

    def _health_changed(self, state: AssetState, now: float) -> bool:
        """Whether any sensor of the asset is silent or stuck, or was reported so before."""
        published = state.published
        if published is not None and len(published[0]) > 3 and published[0][3]:
            return True
        config = self.config
        return any(
            series.silent_for(now, config) is not None or (series.stuck(config) and series.variety)
            for series in state.series.values()
        )

    def _slot(self, t: float) -> tuple[int, int]:
        # Local (hour-of-week slot, day number), cached per quarter hour
        # (zone conversion is slow).
        quarter = int(t // 900)
        slot = self._slots.get(quarter)
        if slot is None:
            if len(self._slots) > 50_000:
                self._slots.clear()
            local = datetime.fromtimestamp(quarter * 900, self._zone)
            slot = (RobustBaseline.slot(local.weekday() >= 5, local.hour), local.toordinal())
            self._slots[quarter] = slot
        return slot

    def _rule(self, asset_id: str, asset: Asset | None, metric: str) -> MetricRule | None:
        key = (asset_id, metric)
        try:
            return self._rules[key]
        except KeyError:
            rule = self._rules[key] = self.config.rule(asset, metric)
            return rule

    def _sensor(
        self, state: AssetState, asset: Asset | None, event: SensorReading, t: float
    ) -> tuple[SensorSeries, tuple[Factor, ...], tuple[Factor, ...]]:
        """Feed a reading to its series: (series, its factors before, transient factors)."""
        config = self.config
        key = f"{event.sensor_id}|{event.metric}"
        series = state.series.get(key)
        if series is None:
            family = config.metric_family.get(event.metric) or config.asset_family(asset)
            series = SensorSeries(event.sensor_id, event.metric, family)
            state.series[key] = series
        before = series.current
        slot, day = self._slot(t)
        factors = series.observe(
            t,
            event.value,
            event.event_id,
            slot,
            self._rule(state.asset_id, asset, event.metric),
            asset.capacity if asset is not None else None,
            config,
            day,
        )
        # A reading older than the series' newest still counts where it belongs:
        # its factors join this evaluation (alerts never wait for stragglers).
        return series, before, (() if series.last_event_id == event.event_id else factors)

    def _scores(
        self, state: AssetState, asset: Asset | None, now: float, transient: tuple[Factor, ...]
    ) -> dict[str, FamilyScore]:
        config = self.config
        by_family: dict[str, list[Factor]] = {}
        health: dict[str, list[Factor]] = {}
        for series in state.series.values():
            factors = list(series.current)
            # A sensor that always read one value may be a two-state device;
            # "stuck" means it varied before and then froze.
            if series.stuck(config) and series.variety:
                cap = config.contribution("watch")
                factors = [
                    Factor(f.name, f.source, f.family, min(f.contribution, cap), f.detail)
                    for f in factors
                ]
                health.setdefault(series.family, []).append(
                    _health_factor(
                        series,
                        f"{series.sensor_id} stuck at {series.last_value:.4g} for "
                        f"{series.same_count} readings",
                    )
                )
            silent = series.silent_for(now, config)
            if silent is not None:
                health.setdefault(series.family, []).append(
                    _health_factor(
                        series,
                        f"{series.sensor_id} silent for {silent / 60:.0f} min "
                        f"(usually every {series.mean_interval:.0f} s); last "
                        f"{series.metric} {series.last_value:.4g}",
                    )
                )
            for factor in factors:
                by_family.setdefault(factor.family, []).append(factor)
        for factor in transient:
            by_family.setdefault(factor.family, []).append(factor)
        for factor in state.hotline.factors(now, config):
            by_family.setdefault(factor.family, []).append(factor)
        for factor in state.inspections.factors(now, config):
            by_family.setdefault(factor.family, []).append(factor)
        families = (
            set(by_family) | set(health) | {f for f, lc in state.incidents.items() if lc.active}
        )
        scores: dict[str, FamilyScore] = {}
        for family in sorted(families):
            factors = by_family.get(family, [])
            best: dict[str, float] = {}
            for factor in factors:
                best[factor.source] = max(best.get(factor.source, 0.0), factor.contribution)
            remaining = 1.0
            for contribution in best.values():
                remaining *= 1.0 - min(contribution, 100.0) / 100.0
            score = round(100.0 * (1.0 - remaining), 2)
            agreeing = sum(1 for c in best.values() if c >= config.min_corroboration)
            if any(f.observed for f in factors):
                certainty: CapCertainty = "Observed"
            elif agreeing >= 2:
                certainty = "Likely"
            else:
                certainty = "Possible"
            notes = health.get(family, [])
            if notes:
                certainty = _CERTAINTY_ORDER[max(_CERTAINTY_ORDER.index(certainty) - 1, 0)]
            ranked = sorted(factors, key=lambda f: (-f.contribution, f.name)) + notes
            scores[family] = FamilyScore(family, score, certainty, ranked)
        return scores

    # -- evaluation

    def _evaluate(
        self, state: AssetState, asset: Asset | None, t: float, transient: tuple[Factor, ...]
    ) -> EngineResult:
        now = state.watermark if state.watermark is not None else t
        scores = self._scores(state, asset, now, transient)
        result = EngineResult()
        for family, scored in scores.items():
            lifecycle = state.incidents.get(family)
            if lifecycle is None:
                if scored.score < self.config.level_starts["watch"]:
                    continue
                lifecycle = IncidentLifecycle(family)
                state.incidents[family] = lifecycle
            msg_type = lifecycle.step(scored.score, now, self.config)
            if msg_type is not None:
                result.alerts.append(self._alert(state, asset, lifecycle, msg_type, scored, now, t))
        result.risk = self._risk_state(state, asset, scores, now, force=bool(result.alerts))
        state.quiet = not any(lc.active for lc in state.incidents.values()) and all(
            scored.score == 0 for scored in scores.values()
        )
        state.next_evaluation = now + (
            self.config.quiet_evaluate_every_s if state.quiet else self.config.evaluate_every_s
        )
        return result

    def _incident_id(self, asset_id: str, lifecycle: IncidentLifecycle) -> str:
        return f"gridwatch-{safe_id(asset_id)}-{lifecycle.incident_id}"

    def _alert(
        self,
        state: AssetState,
        asset: Asset | None,
        lifecycle: IncidentLifecycle,
        msg_type: str,
        scored: FamilyScore,
        now: float,
        event_t: float,
    ) -> Alert:
        config = self.config
        incident = self._incident_id(state.asset_id, lifecycle)
        identifier = f"{incident}-{len(lifecycle.messages) + 1}"
        sent = _iso(now)
        references = [
            f"{config.sender},{ident},{_iso(at).isoformat()}" for ident, at in lifecycle.messages
        ]
        lifecycle.messages.append((identifier, now))
        level = lifecycle.level
        assert level is not None
        category, event_name = config.family_description.get(
            lifecycle.family, config.family_description.get("other", ("Other", "Asset risk"))
        )
        name = asset.name if asset is not None else state.asset_id
        if msg_type == "Cancel":
            headline = f"CANCEL {event_name} at {name}: back to normal"
            urgency: CapUrgency = "Past"
        else:
            headline = f"{level.upper()}: {event_name} at {name}"
            urgency = _URGENCY[level]
        contributing = [
            f for f in scored.factors if f.contribution > 0 or f.source == "data_health"
        ]
        description = (
            "\n".join(f"- {f.name} (+{f.contribution:.0f}): {f.detail}" for f in contributing)
            or "No contributing signals remain."
        )
        evidence: list[Evidence] = []
        seen: set[str] = set()
        for factor in contributing:
            for event_id, summary in reversed(factor.evidence):
                if event_id not in seen and len(evidence) < config.max_evidence:
                    seen.add(event_id)
                    evidence.append(Evidence(event_id=event_id, summary=summary))
        parameters = [
            CapParameter(valueName="gridwatch:family", value=lifecycle.family),
            CapParameter(valueName="gridwatch:risk_score", value=f"{scored.score:.1f}"),
            CapParameter(valueName="gridwatch:level", value=level),
        ]
        return Alert(
            identifier=identifier,
            sender=config.sender,
            sent=sent,
            msgType=msg_type,
            references=references,
            incidents=incident,
            info=[
                CapInfo(
                    category=[category],
                    event=event_name,
                    urgency=urgency,
                    severity=_SEVERITY[level],
                    certainty=scored.certainty,
                    headline=headline,
                    description=description,
                    onset=_iso(lifecycle.onset),
                    parameter=parameters,
                    area=self._area(state.asset_id, asset),
                )
            ],
            asset_id=state.asset_id,
            asset_type=asset.asset_type if asset is not None else None,
            risk_score=min(scored.score, 100.0),
            level=level,
            event_time=_iso(event_t),
            evidence=evidence,
        )

    def _area(self, asset_id: str, asset: Asset | None) -> list[CapArea]:
        description = asset_id
        if asset is not None:
            description = asset.name + (f", {asset.district}" if asset.district else "")
        circles: list[str] = []
        lookup = self.registry
        if isinstance(lookup, AreaLookup):
            point = lookup.representative_point(asset_id)
            radius = lookup.radius_m(asset_id)
            if point is not None:
                radius_km = max((radius or 0.0) / 1000.0, 0.05)
                circles.append(f"{point[0]:.6f},{point[1]:.6f} {radius_km:.3f}")
        return [CapArea(areaDesc=description, circle=circles)]

    def _risk_state(
        self,
        state: AssetState,
        asset: Asset | None,
        scores: dict[str, FamilyScore],
        now: float,
        *,
        force: bool,
    ) -> RiskState | None:
        top = max(scores.values(), key=lambda s: (s.score, s.family), default=None)
        incidents = [
            IncidentRef(
                incident=self._incident_id(state.asset_id, lc),
                hazard=lc.family,
                level=lc.level,
                last_identifier=lc.messages[-1][0],
                acknowledged=lc.acknowledged,
            )
            for lc in sorted(state.incidents.values(), key=lambda lc: lc.family)
            if lc.active and lc.level is not None and lc.messages
        ]
        level: RiskLevel | None = None
        for ref in incidents:
            if level_rank(ref.level) > level_rank(level):
                level = ref.level
        score = top.score if top is not None else 0.0
        certainty: CapCertainty = top.certainty if top is not None else "Unlikely"
        health = sorted(
            f.name
            for scored in scores.values()
            for f in scored.factors
            if f.source == "data_health"
        )
        signature = [
            level,
            certainty if score > 0 or health else None,
            [[r.incident, r.level, r.acknowledged] for r in incidents],
            health,
        ]
        previous = state.published
        if not force:
            delta = self.config.risk_publish_delta
            if previous is None:
                if score < delta and not health:
                    return None
            elif previous[0] == signature and abs(previous[1] - score) < delta:
                return None
        state.published = [signature, score]
        factors = [
            RiskFactor(
                name=f.name,
                source=f.source,
                contribution=min(round(f.contribution, 2), 100.0),
                detail=f.detail,
            )
            for family in sorted(scores)
            for f in scores[family].factors
        ]
        return RiskState(
            asset_id=state.asset_id,
            asset_type=asset.asset_type if asset is not None else None,
            risk_score=min(score, 100.0),
            level=level,
            certainty=certainty,
            factors=factors,
            incidents=incidents,
            event_time=_iso(now),
        )
