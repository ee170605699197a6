"""The risk engine's configuration, read from one TOML file (``risk.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

from schemas import Asset, RiskLevel

DEFAULT_CONFIG: Final = Path(__file__).parent.parent / "data" / "risk.toml"

LEVELS: Final[tuple[RiskLevel, ...]] = ("watch", "warning", "critical")


def _mildest(limits: tuple[float | None, ...], direction: str) -> float | None:
    present = [v for v in limits if v is not None]
    if not present:
        return None
    return min(present) if direction == "above" else max(present)


@dataclass(frozen=True)
class LearnedSettings:
    """The learned detector's knobs (``[learned]`` in ``risk.toml``).

    Attributes:
        warmup_readings: Readings before anything is judged; their range sets the levels.
        warmup_s: Event time before anything is judged (a day: the daily cycle seen).
        level_bins: Levels across the warm-up range.
        level_growth: The levels double in width once the range seen spans this
            many times ``level_bins`` of them.
        forget_readings: A level not visited for this many readings ...
        forget_s: ... and this much event time is new again.
        level_z: A new level must also be this many robust deviations from the
            series' usual level or from this hour's usual level.
        level_rate: Smallest learning rate of the usual level.
        spread_rate: Smallest learning rate of the usual deviation.
        hour_rate: Smallest learning rate of each hour's usual level and deviation.
        hour_warmup: Readings in an hour before its usual level is trusted.
        recent_readings: Length of the recent range.
        recent_block: Readings per block of the recent range (its resolution).
        same_hours_days: Days of the same hours (±1 h) that join the recent range.
        range_margin: How far beyond the range, as a share of the recent range's width.
        sequence_bins: Levels of the sequence model.
        sequence_window: Readings whose average surprise is judged.
        sequence_learn: Readings before the surprise's distribution is trusted.
        sequence_rate: Smallest learning rate of that distribution.
        sequence_z: How many standard deviations above its usual value the
            average surprise must be.
        refractory_readings: Readings after a finding during which no other is raised.
        rule_metrics: On metrics with a physical rule: ``off`` (not run),
            ``corroborate`` (a finding contributes below watch: it can back
            another source but never opens an incident alone) or ``open``
            (a finding counts like on any other metric).
        corroborate_contribution: A finding's contribution on a rule metric in
            ``corroborate`` mode.
    """

    warmup_readings: int = 200
    warmup_s: float = 86_400.0
    level_bins: int = 8
    level_growth: float = 2.5
    forget_readings: int = 2000
    forget_s: float = 7 * 86_400.0
    level_z: float = 3.5
    level_rate: float = 0.01
    spread_rate: float = 0.005
    hour_rate: float = 0.05
    hour_warmup: int = 5
    recent_readings: int = 250
    recent_block: int = 10
    same_hours_days: int = 10
    range_margin: float = 0.6
    sequence_bins: int = 8
    sequence_window: int = 20
    sequence_learn: int = 150
    sequence_rate: float = 0.003
    sequence_z: float = 5.0
    refractory_readings: int = 30
    rule_metrics: Literal["off", "corroborate", "open"] = "off"
    corroborate_contribution: float = 25.0


@dataclass(frozen=True)
class MetricRule:
    """How one metric is judged on one asset class.

    Attributes:
        direction: Whether danger lies above or below.
        relative_to: ``"capacity"`` to compare value / asset capacity.
        watch: Threshold for watch (None: no threshold at that level).
        warning: Threshold for warning.
        critical: Threshold for critical.
        rate_window_s: Window of the rate-of-change check (None: no rate check).
        rate_watch: Relative change (signed) for watch.
        rate_warning: Relative change for warning.
        rate_critical: Relative change for critical.
        baseline_ratio_watch: value / usual value for watch (None: not used).
        baseline_ratio_warning: value / usual value for warning.
        baseline_ratio_critical: value / usual value for critical.
    """

    direction: Literal["above", "below"] = "above"
    relative_to: Literal["capacity"] | None = None
    watch: float | None = None
    warning: float | None = None
    critical: float | None = None
    rate_window_s: float | None = None
    rate_watch: float | None = None
    rate_warning: float | None = None
    rate_critical: float | None = None
    baseline_ratio_watch: float | None = None
    baseline_ratio_warning: float | None = None
    baseline_ratio_critical: float | None = None

    def __post_init__(self) -> None:
        # Most readings are normal: comparing with the mildest limit of each
        # check answers them in one step (see _check).
        for name, limits in (
            ("_thresholds", (self.watch, self.warning, self.critical)),
            ("_rates", (self.rate_watch, self.rate_warning, self.rate_critical)),
            (
                "_ratios",
                (
                    self.baseline_ratio_watch,
                    self.baseline_ratio_warning,
                    self.baseline_ratio_critical,
                ),
            ),
        ):
            object.__setattr__(self, name, (limits, _mildest(limits, self.direction)))

    @property
    def has_thresholds(self) -> bool:
        """Whether any physical threshold is set."""
        return self.watch is not None or self.warning is not None or self.critical is not None

    def _check(
        self, value: float, limits: tuple[tuple[float | None, ...], float | None]
    ) -> RiskLevel | None:
        values, mildest = limits
        if mildest is None:
            return None
        if value < mildest if self.direction == "above" else value > mildest:
            return None
        return _level_crossed(value, values, self.direction)

    def threshold_level(self, value: float) -> RiskLevel | None:
        """The highest level whose threshold ``value`` crosses, if any."""
        return self._check(value, self._thresholds)  # type: ignore[attr-defined]  # set in __post_init__

    def rate_level(self, change: float) -> RiskLevel | None:
        """The level a relative change reaches (sign follows the direction)."""
        return self._check(change, self._rates)  # type: ignore[attr-defined]  # set in __post_init__

    def ratio_level(self, ratio: float) -> RiskLevel | None:
        """The level a value / usual-value ratio reaches."""
        return self._check(ratio, self._ratios)  # type: ignore[attr-defined]  # set in __post_init__


def _level_crossed(
    value: float, limits: tuple[float | None, ...], direction: str
) -> RiskLevel | None:
    reached: RiskLevel | None = None
    for level, limit in zip(LEVELS, limits, strict=True):
        if limit is None:
            continue
        if (value >= limit) if direction == "above" else (value <= limit):
            reached = level
    return reached


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Every tunable of the engine; see ``risk.toml`` for meanings and defaults."""

    allowed_lateness_s: float = 300.0
    dedup_horizon_s: float = 3600.0
    dedup_max_ids: int = 256
    timezone: str = "Asia/Shanghai"
    sender: str = "gridwatch@ops.city.example"
    max_evidence: int = 10
    evaluate_every_s: float = 30.0
    quiet_evaluate_every_s: float = 900.0
    level_starts: dict[str, float] = field(default_factory=dict)
    contributions: dict[str, float] = field(default_factory=dict)
    exit_score: float = 30.0
    cancel_dwell_s: float = 900.0
    hysteresis: float = 8.0
    downgrade_dwell_s: float = 600.0
    risk_publish_delta: float = 5.0
    min_corroboration: float = 20.0
    hotline_window_s: float = 1800.0
    hotline_half_life_s: float = 900.0
    hotline_scale: float = 2.5
    hotline_cap: float = 75.0
    match_radius_m: float = 500.0
    inspection_severity: tuple[float, ...] = (10, 25, 40, 55, 75)
    baseline_warmup: int = 12
    baseline_min_rate: float = 0.05
    baseline_outlier_z: float = 4.0
    silence_factor: float = 5.0
    silence_min_samples: int = 3
    stuck_count: int = 20
    subtype_family: dict[str, str] = field(default_factory=dict)
    asset_type_family: dict[str, str] = field(default_factory=dict)
    metric_family: dict[str, str] = field(default_factory=dict)
    service_code_family: dict[str, str] = field(default_factory=dict)
    hazard_family: dict[str, str] = field(default_factory=dict)
    family_description: dict[str, tuple[str, str]] = field(default_factory=dict)
    thresholds: dict[str, dict[str, MetricRule]] = field(default_factory=dict)
    learned: LearnedSettings = field(default_factory=LearnedSettings)

    def level_for(self, score: float) -> RiskLevel | None:
        """The level a score falls in, or None below watch."""
        reached: RiskLevel | None = None
        for level in LEVELS:
            if score >= self.level_starts[level]:
                reached = level
        return reached

    def contribution(self, level: RiskLevel) -> float:
        """The standalone score of a factor at ``level``."""
        return self.contributions[level]

    def asset_family(self, asset: Asset | None) -> str:
        """The family of an asset's own hazards (a water main's leak is "water")."""
        if asset is None:
            return "other"
        return self.subtype_family.get(
            asset.subtype, self.asset_type_family.get(asset.asset_type, "other")
        )

    def rule(self, asset: Asset | None, metric: str) -> MetricRule | None:
        """The rule for ``metric`` on ``asset``: class values over defaults, then overrides."""
        base = self.thresholds.get("default", {}).get(metric)
        if asset is not None:
            specific = self.thresholds.get(asset.asset_type, {}).get(metric)
            if specific is not None:
                base = specific
            override = asset.thresholds.get(metric)
            if override is not None:
                changes: dict[str, Any] = {
                    name: getattr(override, name)
                    for name in ("watch", "warning", "critical")
                    if getattr(override, name) is not None
                }
                if override.direction is not None:
                    changes["direction"] = override.direction
                base = replace(base or MetricRule(), **changes)
        return base


def _rules(raw: dict[str, Any]) -> dict[str, dict[str, MetricRule]]:
    defaults: dict[str, dict[str, Any]] = raw.get("default", {})
    rules: dict[str, dict[str, MetricRule]] = {}
    for asset_class, metrics in raw.items():
        rules[asset_class] = {}
        for metric, values in metrics.items():
            merged = {**defaults.get(metric, {}), **values} if asset_class != "default" else values
            rules[asset_class][metric] = MetricRule(**merged)
    return rules


def _learned(raw: dict[str, Any]) -> LearnedSettings:
    defaults = LearnedSettings()
    unknown = set(raw) - set(defaults.__dataclass_fields__)
    if unknown:
        raise KeyError(f"learned: unknown keys {sorted(unknown)}")
    values = {
        name: type(getattr(defaults, name))(raw[name]) if name != "rule_metrics" else raw[name]
        for name in raw
    }
    if values.get("rule_metrics", defaults.rule_metrics) not in ("off", "corroborate", "open"):
        raise TypeError(f"learned.rule_metrics: {values['rule_metrics']!r}")
    return replace(defaults, **values)


def load_config(path: Path | None = None) -> EngineConfig:
    """Read the engine configuration from TOML (the shipped ``risk.toml`` by default).

    Raises:
        ValueError: When a section or key is unknown or malformed.
    """
    source = path if path is not None else DEFAULT_CONFIG
    raw = tomllib.loads(source.read_text())
    try:
        engine = raw["engine"]
        lifecycle = raw["lifecycle"]
        hotline = raw["hotline"]
        baseline = raw["baseline"]
        health = raw["data_health"]
        families = raw["families"]
        return EngineConfig(
            allowed_lateness_s=float(engine["allowed_lateness_s"]),
            dedup_horizon_s=float(engine["dedup_horizon_s"]),
            dedup_max_ids=int(engine["dedup_max_ids"]),
            timezone=str(engine["timezone"]),
            sender=str(engine["sender"]),
            max_evidence=int(engine["max_evidence"]),
            evaluate_every_s=float(engine["evaluate_every_s"]),
            quiet_evaluate_every_s=float(engine["quiet_evaluate_every_s"]),
            level_starts={k: float(v) for k, v in raw["levels"].items()},
            contributions={k: float(v) for k, v in raw["contributions"].items()},
            exit_score=float(lifecycle["exit_score"]),
            cancel_dwell_s=float(lifecycle["cancel_dwell_s"]),
            hysteresis=float(lifecycle["hysteresis"]),
            downgrade_dwell_s=float(lifecycle["downgrade_dwell_s"]),
            risk_publish_delta=float(lifecycle["risk_publish_delta"]),
            min_corroboration=float(raw["corroboration"]["min_contribution"]),
            hotline_window_s=float(hotline["window_s"]),
            hotline_half_life_s=float(hotline["half_life_s"]),
            hotline_scale=float(hotline["scale"]),
            hotline_cap=float(hotline["cap"]),
            match_radius_m=float(hotline["match_radius_m"]),
            inspection_severity=tuple(float(v) for v in raw["inspection"]["severity"]),
            baseline_warmup=int(baseline["warmup_points"]),
            baseline_min_rate=float(baseline["min_rate"]),
            baseline_outlier_z=float(baseline["outlier_z"]),
            silence_factor=float(health["silence_factor"]),
            silence_min_samples=int(health["min_samples"]),
            stuck_count=int(health["stuck_count"]),
            subtype_family=dict(families["subtype"]),
            asset_type_family=dict(families["asset_type"]),
            metric_family=dict(families["metric"]),
            service_code_family=dict(families["service_code"]),
            hazard_family=dict(families["hazard"]),
            family_description={k: (v[0], v[1]) for k, v in families["describe"].items()},
            thresholds=_rules(raw["thresholds"]),
            learned=_learned(raw.get("learned", {})),
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{source}: invalid engine configuration: {exc!r}") from exc
