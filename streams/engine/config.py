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
    z_levels: tuple[float, float, float] = (5.0, 8.0, 12.0)
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
            z_levels=(
                float(baseline["z_watch"]),
                float(baseline["z_warning"]),
                float(baseline["z_critical"]),
            ),
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
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{source}: invalid engine configuration: {exc!r}") from exc
