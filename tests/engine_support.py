"""Running scenarios through the pure pipeline, and reading its output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas import EVENT_ADAPTER, Alert, Asset, RiskState
from streams.engine.config import load_config
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from tests.scenarios import Scenario

LEVEL_RANK = {None: 0, "watch": 1, "warning": 2, "critical": 3}


@dataclass
class Run:
    alerts: list[Alert] = field(default_factory=list)
    risks: list[RiskState] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    pipeline: RiskPipeline | None = None
    # event_id -> alerts it caused
    caused: dict[str, list[Alert]] = field(default_factory=dict)

    def msg_types(self, family: str | None = None) -> list[tuple[str, str]]:
        return [
            (a.msgType, a.level)
            for a in self.alerts
            if family is None or (a.incidents and a.incidents.split("-")[-2] == family)
        ]

    def incidents(self) -> dict[str, list[Alert]]:
        out: dict[str, list[Alert]] = {}
        for alert in self.alerts:
            out.setdefault(alert.incidents or "", []).append(alert)
        return out

    def peaks(self) -> list[tuple[str, str]]:
        """(incident, peak level) for every incident, in order of first message."""
        result: list[tuple[str, str]] = []
        for incident, messages in self.incidents().items():
            peak = max((m.level for m in messages), key=lambda lvl: LEVEL_RANK[lvl])
            result.append((incident, peak))
        return result


def registry_of(features: list[dict[str, Any]]) -> AssetRegistry:
    return AssetRegistry(Asset.from_feature(f) for f in features)


def run(scenario: Scenario, events: list[dict[str, Any]] | None = None) -> Run:
    pipeline = RiskPipeline(registry_of(scenario.assets), load_config())
    out = Run(pipeline=pipeline)
    for wire in events if events is not None else scenario.events:
        event = EVENT_ADAPTER.validate_python(wire)
        result = pipeline.handle(event)
        out.alerts.extend(result.alerts)
        out.caused[event.event_id] = result.alerts
        if result.risk is not None:
            out.risks.append(result.risk)
        if result.late:
            out.late.append(event.event_id)
        if result.unmatched:
            out.unmatched.append(event.event_id)
    return out
