"""What the engine remembers per asset: the alert lifecycle, the asset state, stores.

Every object turns into plain JSON-able data (``snapshot``) and back
(``restore``), so the Faust shell can keep it in a changelog-backed table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas import Alert, CapCertainty, RiskLevel, RiskState
from streams.engine.config import EngineConfig
from streams.engine.dedup import RecentIds
from streams.engine.signals import (
    Factor,
    HotlinePressure,
    InspectionFindings,
    SensorSeries,
    level_rank,
)


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


@dataclass(slots=True)
class FamilyScore:
    """A family's combined score and why."""

    family: str
    score: float
    certainty: CapCertainty
    factors: list[Factor]


@dataclass(slots=True)
class AssetState:
    """Everything the engine remembers about one asset.

    ``frontier`` maps each input source to the first offset not yet applied
    when the state was last persisted (messages before it are redeliveries);
    ``recent`` holds the ids of recently applied events (duplicates).
    """

    asset_id: str
    watermark: float | None = None
    series: dict[str, SensorSeries] = field(default_factory=dict)
    hotline: HotlinePressure = field(default_factory=HotlinePressure)
    inspections: InspectionFindings = field(default_factory=InspectionFindings)
    incidents: dict[str, IncidentLifecycle] = field(default_factory=dict)
    published: list[Any] | None = None
    quiet: bool = True
    next_evaluation: float = 0.0
    frontier: dict[str, int] = field(default_factory=dict)
    recent: RecentIds = field(default_factory=RecentIds)

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
            "frontier": self.frontier,
            "recent": self.recent.snapshot(),
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
            frontier={str(k): int(v) for k, v in data["frontier"].items()},
            recent=RecentIds.restore(data["recent"]),
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
        duplicate: True when the asset already applied an event with this id (dropped).
    """

    alerts: list[Alert] = field(default_factory=list)
    risk: RiskState | None = None
    late: bool = False
    unknown_asset: bool = False
    redelivered: bool = False
    duplicate: bool = False
