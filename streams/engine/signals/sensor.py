"""One sensor's series: thresholds, rate of change, learnt baseline and data health."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import Any

from schemas import RiskLevel
from streams.engine.config import EngineConfig, MetricRule
from streams.engine.signals.baseline import RobustBaseline
from streams.engine.signals.factor import (
    Factor,
    factor_from_data,
    factor_to_data,
    fmt_value,
    level_rank,
)
from streams.engine.signals.learned import LearnedDetector


def _rate_sample(value: float, rule: MetricRule, capacity: float | None) -> float:
    """What the rate check compares: the share of capacity where the rule says so."""
    if rule.relative_to == "capacity" and capacity:
        return value / capacity
    return value


class SensorSeries:
    """One sensor's readings of one metric on one asset.

    Keeps the latest reading's judgement (threshold, rate of change, learnt
    baseline, learned detector), its usual reporting interval and how often it
    repeated the same value, for data health. A metric without a rule is judged
    by the learned detector alone.
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
        "learned",
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
        self.learned: LearnedDetector | None = None
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
        mode = config.learned.rule_metrics
        if t >= self.last_t and (rule is None or mode != "off"):
            # Event-time order only: a straggler is not learnt (nor judged) again.
            if self.learned is None:
                self.learned = LearnedDetector()
            finding = self.learned.observe(t, value, slot % 24, day, config.learned)
            if finding is not None:
                corroborating = rule is not None and mode == "corroborate"
                learned = self._factor(
                    f"learned:{self.metric}", "watch", f"{self.metric} {finding.detail}", False,
                    event_id, value, config,
                    config.learned.corroborate_contribution if corroborating else None,
                )  # fmt: skip
                factors = (*factors, learned)
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
        if rule is not None and rule.baseline_ratio_watch is not None:
            # Only learnt-baseline checks read the baseline; skip the work otherwise.
            self.baseline.update(
                slot,
                value,
                config.baseline_min_rate,
                config.baseline_outlier_z,
                with_global=False,
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
        value: float, config: EngineConfig, contribution: float | None = None,
    ) -> Factor:  # fmt: skip
        """A factor of this series; its contribution is the level's unless given."""
        return Factor(
            name=name,
            source="sensor",
            family=self.family,
            contribution=config.contributions[level] if contribution is None else contribution,
            detail=detail,
            observed=observed,
            evidence=((event_id, f"{self.sensor_id}: {self.metric} {fmt_value(value)}"),),
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
            return ()
        if rule.has_thresholds:
            relative = rule.relative_to == "capacity"
            measured = (value / capacity if capacity else math.nan) if relative else value
            crossed = rule.threshold_level(measured)
            if crossed is not None:
                limit = getattr(rule, crossed)
                sign = ">=" if rule.direction == "above" else "<="
                if relative:
                    detail = (
                        f"{metric} {fmt_value(value)} = {measured:.0%} of capacity {sign} "
                        f"{crossed} threshold {limit:.0%}"
                    )
                else:
                    detail = (
                        f"{metric} {fmt_value(value)} {sign} {crossed} threshold {fmt_value(limit)}"
                    )
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
                        f"{metric} {fmt_value(value)} is {ratio:.0%} of its usual "
                        f"{fmt_value(usual)} for this hour"
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
            shown = f"{value:.0%} of capacity" if absolute else fmt_value(value)
            against = f"{ref:.0%}" if absolute else fmt_value(ref)
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
                shown = f"{value:.0%} of capacity" if absolute else fmt_value(value)
                against = f"{latched:.0%}" if absolute else fmt_value(latched)
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
            "learned": None if self.learned is None else self.learned.snapshot(),
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
        learned = data.get("learned")  # absent from states written before the detector
        series.learned = None if learned is None else LearnedDetector.restore(learned)
        series._rate_t = [float(t) for t in data["rate"][0]]
        series._rate_x = [float(x) for x in data["rate"][1]]
        series._latched_ref = data["latched"]
        series.current = tuple(factor_from_data(f) for f in data["current"])
        return series
