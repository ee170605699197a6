"""Per-asset signals: small stateful objects fed in event time.

Times are float seconds since the epoch (UTC) inside the engine; every object
can be turned into plain JSON-able data (``snapshot``) and back (``restore``)
so the Faust shell can keep it in a changelog-backed table.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Literal, Self

from schemas import RiskLevel
from streams.engine.config import LEVELS, EngineConfig, MetricRule

Source = Literal["sensor", "hotline", "inspection", "data_health"]

_LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS, start=1)}


def level_rank(level: RiskLevel | None) -> int:
    """0 for None, then 1 (watch), 2 (warning), 3 (critical)."""
    return 0 if level is None else _LEVEL_RANK[level]


def max_level(a: RiskLevel | None, b: RiskLevel | None) -> RiskLevel | None:
    """The higher of two levels."""
    return a if level_rank(a) >= level_rank(b) else b


@dataclass(frozen=True, slots=True)
class Factor:
    """One signal's contribution to a family's score.

    Attributes:
        name: e.g. ``threshold:gas_ppm``, ``hotline_pressure``, ``inspection:crack``.
        source: Which independent source it comes from.
        family: The hazard family it belongs to.
        contribution: Standalone score, 0-100 (0 for data-health notes).
        detail: One line an operator can read.
        observed: True when a physical threshold is crossed.
        evidence: (event_id, summary) pairs behind it, newest last.
    """

    name: str
    source: Source
    family: str
    contribution: float
    detail: str
    observed: bool = False
    evidence: tuple[tuple[str, str], ...] = ()


def factor_to_data(factor: Factor) -> list[Any]:
    """A factor as plain data."""
    return [
        factor.name,
        factor.source,
        factor.family,
        factor.contribution,
        factor.detail,
        factor.observed,
        [list(e) for e in factor.evidence],
    ]


def factor_from_data(data: list[Any]) -> Factor:
    """Rebuild a factor from :func:`factor_to_data`."""
    name, source, family, contribution, detail, observed, evidence = data
    return Factor(
        name, source, family, contribution, detail, observed, tuple((a, b) for a, b in evidence)
    )


def _rate_sample(value: float, rule: MetricRule, capacity: float | None) -> float:
    """What the rate check compares: the share of capacity where the rule says so."""
    if rule.relative_to == "capacity" and capacity:
        return value / capacity
    return value


def _fmt(value: float) -> str:
    return f"{value:.4g}"


# --------------------------------------------------------------------------- baseline


class RobustBaseline:
    """A learnt usual value per hour of the week, robust to outliers; O(1) memory.

    48 slots (weekday/weekend x 24 hours) plus one global slot each hold a
    count, a location and a scale, updated by a clipped exponentially-weighted
    rule: residuals are clipped at 3 scales and points beyond ``outlier_z``
    learn at a tenth of the rate, so a spike or an ongoing incident barely
    moves the baseline. A slot judges nothing until ``warmup`` points.
    """

    GLOBAL = 48
    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[int, list[float]] = {}

    @staticmethod
    def slot(weekend: bool, hour: int) -> int:
        """Slot index of a local hour of a weekday or weekend day."""
        return (24 if weekend else 0) + hour

    def expected(self, slot: int, warmup: int, *, allow_global: bool) -> tuple[float, float] | None:
        """(location, scale) of a warm slot, falling back to the weekday slot, then global."""
        candidates = [slot]
        if slot >= 24:
            candidates.append(slot - 24)
        if allow_global:
            candidates.append(self.GLOBAL)
        for index in candidates:
            entry = self._slots.get(index)
            if entry is not None and entry[0] >= warmup and (index == self.GLOBAL or entry[4] >= 2):
                return entry[1], entry[2]
        return None

    def band(self, slot: int, warmup: int) -> tuple[float, float] | None:
        """Lowest and highest usual value of this hour and the hours either side.

        Comparing against the neighbours too tolerates profiles that change
        sharply within an hour (a rush hour starting at 07:00 or 07:20). None
        until the slot (or, for weekends, the weekday slot) is warm.
        """
        slots = self._slots
        own = slots.get(slot)
        if own is None or own[0] < warmup or own[4] < 2:
            if slot < 24:
                return None
            slot -= 24
            own = slots.get(slot)
            if own is None or own[0] < warmup or own[4] < 2:
                return None
        block = 24 if slot >= 24 else 0
        hour = slot - block
        low = high = own[1]
        for index in (block + (hour - 1) % 24, block + (hour + 1) % 24):
            entry = slots.get(index)
            if entry is not None and entry[0] >= warmup and entry[4] >= 2:
                loc = entry[1]
                low = min(low, loc)
                high = max(high, loc)
        return low, high

    def _warm(self, index: int, warmup: int) -> bool:
        entry = self._slots.get(index)
        return entry is not None and entry[0] >= warmup

    def update(
        self,
        slot: int,
        value: float,
        min_rate: float,
        outlier_z: float,
        *,
        with_global: bool,
        day: int,
    ) -> None:
        """Learn one value into its slot (and the global slot when asked).

        ``day`` (any day number) lets a slot count the distinct days it has
        seen: an hour's "usual" value needs at least two of them.
        """
        for index in (slot, self.GLOBAL) if with_global else (slot,):
            entry = self._slots.get(index)
            if entry is None:
                self._slots[index] = [1.0, value, abs(value) * 0.05 + 1e-9, float(day), 1.0]
                continue
            if day != entry[3]:
                entry[3] = float(day)
                entry[4] += 1.0
            count, loc, scale = entry[0], entry[1], entry[2]
            rate = max(1.0 / (count + 1.0), min_rate)
            residual = value - loc
            if abs(residual) > outlier_z * scale and count >= 3:
                rate *= 0.1
            clipped = max(-3.0 * scale, min(3.0 * scale, residual))
            loc += rate * clipped
            # Mean absolute deviation of clipped residuals, x1.25 ~ a standard deviation.
            scale += rate * (1.25 * abs(clipped) - scale)
            entry[0] = count + 1.0
            entry[1] = loc
            entry[2] = max(scale, abs(loc) * 0.01, 1e-9)

    def snapshot(self) -> dict[str, list[float]]:
        """Plain data for persistence."""
        return {str(k): list(v) for k, v in self._slots.items()}

    @classmethod
    def restore(cls, data: dict[str, list[float]]) -> RobustBaseline:
        """Rebuild from :meth:`snapshot`."""
        baseline = cls()
        baseline._slots = {int(k): list(v) for k, v in data.items()}
        return baseline


# --------------------------------------------------------------------------- sensors


class SensorSeries:
    """One sensor's readings of one metric on one asset.

    Keeps the latest reading's judgement (threshold, rate of change, learnt
    baseline), its usual reporting interval and how often it repeated the
    same value, for data health.
    """

    __slots__ = (
        "_latched_ref",
        "_rate_t",
        "_rate_x",
        "baseline",
        "current",
        "family",
        "intervals",
        "last_event_id",
        "last_t",
        "last_value",
        "mean_interval",
        "metric",
        "same_count",
        "sensor_id",
        "variety",
    )

    def __init__(self, sensor_id: str, metric: str, family: str) -> None:
        self.sensor_id = sensor_id
        self.metric = metric
        self.family = family
        self.last_t = -math.inf
        self.last_value = math.nan
        self.last_event_id = ""
        self.intervals = 0
        self.mean_interval = 0.0
        self.same_count = 0
        self.variety = False  # seen at least two different values
        self.baseline = RobustBaseline()
        # Recent (time, value) samples for the rate check, sorted by time, kept
        # as two flat lists so bisect and max run in C.
        self._rate_t: list[float] = []
        self._rate_x: list[float] = []
        self._latched_ref: float | None = None
        self.current: tuple[Factor, ...] = ()

    @property
    def key(self) -> str:
        """Identity of the series within its asset."""
        return f"{self.sensor_id}|{self.metric}"

    def observe(
        self,
        t: float,
        value: float,
        event_id: str,
        slot: int,
        rule: MetricRule | None,
        capacity: float | None,
        config: EngineConfig,
        day: int = 0,
    ) -> tuple[Factor, ...]:
        """Take one reading; return the factors it supports on its own.

        ``slot`` is the hour-of-week slot and ``day`` a local day number of the
        reading (see :class:`RobustBaseline`).
        """
        factors = self._judge(t, value, event_id, slot, rule, capacity, config)
        if t > self.last_t:
            if self.last_t > -math.inf:
                gap = t - self.last_t
                self.intervals += 1
                weight = max(1.0 / self.intervals, 0.1)
                self.mean_interval += weight * (gap - self.mean_interval)
            if value == self.last_value:
                self.same_count += 1
            else:
                self.variety = self.variety or not math.isnan(self.last_value)
                self.same_count = 1
        if t >= self.last_t:
            self.last_t = t
            self.last_value = value
            self.last_event_id = event_id
            self.current = factors
        if rule is None or rule.baseline_ratio_watch is not None:
            # Only learnt-baseline checks read the baseline; skip the work otherwise.
            self.baseline.update(
                slot,
                value,
                config.baseline_min_rate,
                config.baseline_outlier_z,
                with_global=rule is None,
                day=day,
            )
        if rule is not None and rule.rate_window_s is not None:
            times, values = self._rate_t, self._rate_x
            sample = _rate_sample(value, rule, capacity)
            if not times or t >= times[-1]:
                times.append(t)
                values.append(sample)
            else:
                at = bisect_right(times, t)
                times.insert(at, t)
                values.insert(at, sample)
            horizon = self.last_t - 2 * rule.rate_window_s - config.allowed_lateness_s
            if times[0] < horizon or len(times) > 512:
                cut = max(bisect_left(times, horizon), len(times) - 512)
                del times[:cut]
                del values[:cut]
        return factors

    def stuck(self, config: EngineConfig) -> bool:
        """Whether the sensor repeats one value suspiciously often."""
        return self.same_count >= config.stuck_count

    def silent_for(self, now: float, config: EngineConfig) -> float | None:
        """Seconds of silence when longer than k x the usual interval, else None."""
        if self.intervals < config.silence_min_samples or self.mean_interval <= 0:
            return None
        gap = now - self.last_t
        return gap if gap > config.silence_factor * self.mean_interval else None

    def _factor(
        self, name: str, level: RiskLevel, detail: str, observed: bool, event_id: str,
        value: float, config: EngineConfig,
    ) -> Factor:  # fmt: skip
        return Factor(
            name=name,
            source="sensor",
            family=self.family,
            contribution=config.contributions[level],
            detail=detail,
            observed=observed,
            evidence=((event_id, f"{self.sensor_id}: {self.metric} {_fmt(value)}"),),
        )

    def _judge(
        self,
        t: float,
        value: float,
        event_id: str,
        slot: int,
        rule: MetricRule | None,
        capacity: float | None,
        config: EngineConfig,
    ) -> tuple[Factor, ...]:
        # Hot path: most readings are normal, so every check first asks the
        # cheapest question and builds text only for a factor that fires.
        factors: list[Factor] = []
        metric = self.metric
        if rule is None:
            expected = self.baseline.expected(slot, config.baseline_warmup, allow_global=True)
            if expected is not None:
                loc, scale = expected
                z = (value - loc) / scale
                magnitude = abs(z)
                z_watch, z_warning, z_critical = config.z_levels
                if magnitude >= z_watch:
                    z_level: RiskLevel = (
                        "critical"
                        if magnitude >= z_critical
                        else "warning"
                        if magnitude >= z_warning
                        else "watch"
                    )
                    detail = (
                        f"{metric} {_fmt(value)} is {z:+.1f} robust deviations from its "
                        f"usual {_fmt(loc)}"
                    )
                    factors.append(
                        self._factor(
                            f"baseline:{metric}", z_level, detail, False, event_id, value, config
                        )
                    )
            return tuple(factors)
        if rule.has_thresholds:
            relative = rule.relative_to == "capacity"
            measured = (value / capacity if capacity else math.nan) if relative else value
            crossed = rule.threshold_level(measured)
            if crossed is not None:
                limit = getattr(rule, crossed)
                sign = ">=" if rule.direction == "above" else "<="
                if relative:
                    detail = (
                        f"{metric} {_fmt(value)} = {measured:.0%} of capacity {sign} "
                        f"{crossed} threshold {limit:.0%}"
                    )
                else:
                    detail = f"{metric} {_fmt(value)} {sign} {crossed} threshold {_fmt(limit)}"
                factors.append(
                    self._factor(
                        f"threshold:{metric}", crossed, detail, True, event_id, value, config
                    )
                )
        if rule.rate_window_s is not None:
            rate = self._judge_rate(t, _rate_sample(value, rule, capacity), rule)
            if rate is not None:
                factors.append(
                    self._factor(f"rate:{metric}", rate[0], rate[1], False, event_id, value, config)
                )
        if rule.baseline_ratio_watch is not None:
            band = self.baseline.band(slot, config.baseline_warmup)
            usual = None if band is None else band[0] if rule.direction == "below" else band[1]
            if usual is not None and usual > 0:
                ratio = value / usual
                ratio_level = rule.ratio_level(ratio)
                if ratio_level is not None:
                    detail = (
                        f"{metric} {_fmt(value)} is {ratio:.0%} of its usual {_fmt(usual)} "
                        "for this hour"
                    )
                    factors.append(
                        self._factor(
                            f"baseline:{metric}",
                            ratio_level,
                            detail,
                            False,
                            event_id,
                            value,
                            config,
                        )
                    )
        return tuple(factors)

    def _judge_rate(self, t: float, value: float, rule: MetricRule) -> tuple[RiskLevel, str] | None:
        window = rule.rate_window_s or 0.0
        # Shares of capacity change in percentage points; other metrics relatively.
        absolute = rule.relative_to == "capacity"
        times = self._rate_t
        first = bisect_left(times, t - window)
        last = bisect_left(times, t)
        below = rule.direction == "below"
        level: RiskLevel | None = None
        ref = 0.0
        change = 0.0
        if last > first:
            earlier = self._rate_x[first:last]
            ref = max(earlier) if below else min(earlier)
            if ref != 0 or absolute:
                change = value - ref if absolute else (value - ref) / abs(ref)
                level = rule.rate_level(change)
                if level is not None and t >= self.last_t:
                    latched = self._latched_ref
                    if latched is None:
                        self._latched_ref = ref
                    else:
                        self._latched_ref = max(latched, ref) if below else min(latched, ref)
        detail = ""
        if level is not None:
            shown = f"{value:.0%} of capacity" if absolute else _fmt(value)
            against = f"{ref:.0%}" if absolute else _fmt(ref)
            unit = " points" if absolute else ""
            detail = (
                f"{self.metric} {shown}, {change:+.0%}{unit} against {against} "
                f"within {window / 60:.0f} min"
            )
        latched = self._latched_ref
        if latched is not None and (latched != 0 or absolute):
            held_change = value - latched if absolute else (value - latched) / abs(latched)
            held = rule.rate_level(held_change)
            if level_rank(held) > level_rank(level):
                level = held
                shown = f"{value:.0%} of capacity" if absolute else _fmt(value)
                against = f"{latched:.0%}" if absolute else _fmt(latched)
                unit = " points" if absolute else ""
                detail = (
                    f"{self.metric} {shown} still {held_change:+.0%}{unit} against "
                    f"{against} before the change"
                )
            recovered_at = (rule.rate_watch or 0.0) / 2
            if t >= self.last_t and (
                (below and held_change > recovered_at) or (not below and held_change < recovered_at)
            ):
                self._latched_ref = None
        return None if level is None else (level, detail)

    def snapshot(self) -> dict[str, Any]:
        """Plain data for persistence."""
        return {
            "sensor_id": self.sensor_id,
            "metric": self.metric,
            "family": self.family,
            "last_t": self.last_t if self.last_t > -math.inf else None,
            "last_value": None if math.isnan(self.last_value) else self.last_value,
            "last_event_id": self.last_event_id,
            "intervals": self.intervals,
            "mean_interval": self.mean_interval,
            "same_count": self.same_count,
            "variety": self.variety,
            "baseline": self.baseline.snapshot(),
            "rate": [self._rate_t, self._rate_x],
            "latched": self._latched_ref,
            "current": [factor_to_data(f) for f in self.current],
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> SensorSeries:
        """Rebuild from :meth:`snapshot`."""
        series = cls(data["sensor_id"], data["metric"], data["family"])
        series.last_t = -math.inf if data["last_t"] is None else data["last_t"]
        series.last_value = math.nan if data["last_value"] is None else data["last_value"]
        series.last_event_id = data["last_event_id"]
        series.intervals = data["intervals"]
        series.mean_interval = data["mean_interval"]
        series.same_count = data["same_count"]
        series.variety = data["variety"]
        series.baseline = RobustBaseline.restore(data["baseline"])
        series._rate_t = [float(t) for t in data["rate"][0]]
        series._rate_x = [float(x) for x in data["rate"][1]]
        series._latched_ref = data["latched"]
        series.current = tuple(factor_from_data(f) for f in data["current"])
        return series


# --------------------------------------------------------------------------- hotline


class _Records:
    """A dict of id -> record list that persists as plain data."""

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: dict[str, list[Any]] = {}

    def snapshot(self) -> dict[str, list[Any]]:
        """Plain data for persistence."""
        return self._records

    @classmethod
    def restore(cls, data: dict[str, list[Any]]) -> Self:
        """Rebuild from :meth:`snapshot`."""
        records = cls()
        records._records = {k: list(v) for k, v in data.items()}
        return records


class HotlinePressure(_Records):
    """Relevant complaints per family in a sliding event-time window, time-decayed.

    De-duplicated by ``service_request_id``: a case counts once however often
    it is updated; a closed case stops counting.
    """

    # Records: service_request_id -> [t, family, open, event_id, summary, status_t]
    __slots__ = ()

    def observe(
        self, t: float, case_id: str, family: str, is_open: bool, event_id: str, summary: str
    ) -> None:
        """Record a case update (its newest status by event time wins)."""
        entry = self._records.get(case_id)
        if entry is None:
            self._records[case_id] = [t, family, is_open, event_id, summary, t]
            return
        entry[0] = min(entry[0], t)  # the case counts from when it was first reported
        if t >= entry[5]:
            entry[2] = is_open
            entry[5] = t
            if is_open:
                entry[3], entry[4] = event_id, summary

    def factors(self, now: float, config: EngineConfig) -> list[Factor]:
        """One factor per family with open cases in the window."""
        window = config.hotline_window_s
        for case_id in [k for k, v in self._records.items() if v[0] < now - window - 60]:
            del self._records[case_id]
        weights: dict[str, float] = {}
        counts: dict[str, int] = {}
        evidence: dict[str, list[tuple[float, str, str]]] = {}
        for t, family, is_open, event_id, summary, _ in self._records.values():
            if not is_open or t < now - window or t > now:
                continue
            weight = 0.5 ** ((now - t) / config.hotline_half_life_s)
            weights[family] = weights.get(family, 0.0) + weight
            counts[family] = counts.get(family, 0) + 1
            evidence.setdefault(family, []).append((t, event_id, summary))
        result = []
        for family, weight in weights.items():
            contribution = config.hotline_cap * (1.0 - math.exp(-weight / config.hotline_scale))
            cases = sorted(evidence[family])[-config.max_evidence :]
            result.append(
                Factor(
                    name="hotline_pressure",
                    source="hotline",
                    family=family,
                    contribution=contribution,
                    detail=f"{counts[family]} open complaint(s) in "
                    f"{window / 60:.0f} min, decayed weight {weight:.2f}",
                    evidence=tuple((event_id, summary) for _, event_id, summary in cases),
                )
            )
        return result


# --------------------------------------------------------------------------- inspections


class InspectionFindings(_Records):
    """Open inspection findings by severity, until rectified."""

    # Records: inspection_id -> [t, family, hazard, severity, open, event_id]
    __slots__ = ()

    def observe(
        self,
        t: float,
        inspection_id: str,
        family: str,
        hazard: str,
        severity: int,
        is_open: bool,
        event_id: str,
    ) -> None:
        """Record a finding's status (its newest status by event time wins)."""
        entry = self._records.get(inspection_id)
        if entry is not None and entry[0] > t:
            return
        # A rectification is remembered too, so an older "open" arriving late is ignored.
        self._records[inspection_id] = [t, family, hazard, severity, is_open, event_id]

    def factors(self, now: float, config: EngineConfig) -> list[Factor]:
        """The most severe open finding per family (others listed as evidence)."""
        for key in [k for k, v in self._records.items() if not v[4] and v[0] < now - 86_400.0]:
            del self._records[key]
        best: dict[str, list[Any]] = {}
        evidence: dict[str, list[tuple[str, str]]] = {}
        for _, family, hazard, severity, is_open, event_id in self._records.values():
            if not is_open:
                continue
            evidence.setdefault(family, []).append(
                (event_id, f"open {hazard} finding, severity {severity}")
            )
            current = best.get(family)
            if current is None or severity > current[1]:
                best[family] = [hazard, severity]
        return [
            Factor(
                name=f"inspection:{hazard}",
                source="inspection",
                family=family,
                contribution=config.inspection_severity[severity - 1],
                detail=f"open {hazard} finding of severity {severity}",
                evidence=tuple(evidence[family][-config.max_evidence :]),
            )
            for family, (hazard, severity) in best.items()
        ]
