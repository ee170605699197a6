"""The risk engine's flow: typed events in, risk-state updates and CAP alert messages out.

Pure and deterministic: the output is a function of the per-asset arrival
order of events, so the Faust agents and the offline ``process`` command give
the same alerts for the same input. State types live in
:mod:`streams.engine.state`, CAP message building in :mod:`streams.engine.messages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from schemas import (
    Acknowledgement,
    AnyEvent,
    Asset,
    CapCertainty,
    HotlineCase,
    InspectionFinding,
    SensorReading,
)
from streams.engine.config import EngineConfig, MetricRule
from streams.engine.dedup import id_hash
from streams.engine.messages import (
    CERTAINTY_ORDER,
    build_alert,
    build_risk_state,
    cap_area,
    incident_id,
)
from streams.engine.signals import Factor, RobustBaseline, SensorSeries
from streams.engine.state import (
    AssetState,
    EngineResult,
    FamilyScore,
    IncidentLifecycle,
    MemoryStore,
    StateStore,
)


class AssetLookup(Protocol):
    """What the engine needs of the asset registry."""

    def get(self, asset_id: str) -> Asset | None:
        """The asset, or None when the registry does not know it."""
        ...


def _signature(factors: tuple[Factor, ...]) -> tuple[tuple[str, float], ...]:
    return tuple((f.name, f.contribution) for f in factors)


def _health_factor(series: SensorSeries, detail: str) -> Factor:
    return Factor(
        f"data_health:{series.sensor_id}:{series.metric}", "data_health", series.family, 0.0, detail
    )


# Shared results for the fast path (never mutated by callers).
_NOTHING: Final = EngineResult()
_NOTHING_UNKNOWN: Final = EngineResult(unknown_asset=True)


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

    def process(self, event: AnyEvent, origin: tuple[str, int] | None = None) -> EngineResult:
        """Apply one event (``asset_id`` set) and return what changed.

        Args:
            event: The event.
            origin: (source, offset) of the message the event came in, when there
                is one. A message before the asset's persisted ``frontier`` for its
                source was applied before a crash or rebalance and is skipped, so
                state changes apply exactly once.

        Raises:
            ValueError: For a hotline case without ``asset_id`` (match it first).
        """
        asset_id = event.asset_id
        if asset_id is None:
            raise ValueError("hotline cases must be matched to an asset before the engine")
        asset = self.registry.get(asset_id)
        state = self._state(asset_id)
        if origin is not None and origin[1] < state.frontier.get(origin[0], 0):
            return EngineResult(redelivered=True, unknown_asset=asset is None)
        hashed = id_hash(event.event_id)
        if state.recent.seen(hashed):
            return EngineResult(duplicate=True, unknown_asset=asset is None)
        t = event.event_time.timestamp()
        config = self.config
        if state.watermark is not None and t < state.watermark - config.allowed_lateness_s:
            return EngineResult(late=True, unknown_asset=asset is None)
        state.recent.remember(
            hashed,
            t,
            t if state.watermark is None else max(state.watermark, t),
            config.dedup_horizon_s,
            config.dedup_max_ids,
        )
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
        """Mark the asset's open incident(s) acknowledged; returns the new risk state.

        Applying an acknowledgement twice changes nothing the second time.
        """
        asset = self.registry.get(ack.asset_id)
        state = self.store.get(ack.asset_id)
        if state is None:
            return EngineResult(unknown_asset=asset is None)
        changed = False
        for lifecycle in state.incidents.values():
            wanted = ack.incident is None or ack.incident == incident_id(ack.asset_id, lifecycle)
            if lifecycle.active and wanted and not lifecycle.acknowledged:
                lifecycle.acknowledged = True
                changed = True
        result = EngineResult(unknown_asset=asset is None)
        if changed:
            now = state.watermark if state.watermark is not None else ack.event_time.timestamp()
            scores = self._scores(state, asset, now, ())
            result.risk = build_risk_state(self.config, state, asset, scores, now, force=True)
            self.dirty.add(ack.asset_id)
        return result

    def drain_dirty(self, frontier: Mapping[str, int] | None = None) -> list[AssetState]:
        """States changed since the last call (for persisting only what changed).

        Args:
            frontier: The input sources' first offsets not yet applied, stamped on
                each state so a restart can tell redeliveries from new messages.
        """
        states = [s for a in sorted(self.dirty) if (s := self.store.get(a)) is not None]
        if frontier is not None:
            for state in states:
                state.frontier = dict(frontier)
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
                certainty = CERTAINTY_ORDER[max(CERTAINTY_ORDER.index(certainty) - 1, 0)]
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
                result.alerts.append(
                    build_alert(
                        self.config,
                        cap_area(self.registry, state.asset_id, asset),
                        state,
                        asset,
                        lifecycle,
                        msg_type,
                        scored,
                        now,
                        t,
                    )
                )
        result.risk = build_risk_state(
            self.config, state, asset, scores, now, force=bool(result.alerts)
        )
        state.quiet = not any(lc.active for lc in state.incidents.values()) and all(
            scored.score == 0 for scored in scores.values()
        )
        state.next_evaluation = now + (
            self.config.quiet_evaluate_every_s if state.quiet else self.config.evaluate_every_s
        )
        return result
