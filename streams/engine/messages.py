"""CAP message building: alerts and risk states from an asset's scores and lifecycle.

Pure functions of their arguments: identifiers, ``sent`` and ``references``
come from event time and the lifecycle, so the same input gives byte-identical
messages live and offline.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from schemas import (
    Alert,
    Asset,
    CapArea,
    CapCertainty,
    CapInfo,
    CapParameter,
    CapSeverity,
    CapUrgency,
    Evidence,
    IncidentRef,
    RiskFactor,
    RiskLevel,
    RiskState,
)
from streams.engine.config import EngineConfig
from streams.engine.signals import level_rank
from streams.engine.state import AssetState, FamilyScore, IncidentLifecycle

SEVERITY: dict[RiskLevel, CapSeverity] = {
    "watch": "Moderate",
    "warning": "Severe",
    "critical": "Extreme",
}
"""CAP severity of each gridwatch level."""

URGENCY: dict[RiskLevel, CapUrgency] = {
    "watch": "Expected",
    "warning": "Immediate",
    "critical": "Immediate",
}
"""CAP urgency of each gridwatch level (a Cancel is ``Past``)."""

CERTAINTY_ORDER: tuple[CapCertainty, ...] = ("Unlikely", "Possible", "Likely", "Observed")
"""CAP certainties from weakest to strongest."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


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


def iso(t: float) -> datetime:
    """Epoch seconds as a UTC datetime."""
    return datetime.fromtimestamp(t, UTC)


def incident_id(asset_id: str, lifecycle: IncidentLifecycle) -> str:
    """The CAP ``incidents`` value of the lifecycle's current (or last) incident."""
    return f"gridwatch-{safe_id(asset_id)}-{lifecycle.incident_id}"


def build_alert(
    config: EngineConfig,
    area: list[CapArea],
    state: AssetState,
    asset: Asset | None,
    lifecycle: IncidentLifecycle,
    msg_type: str,
    scored: FamilyScore,
    now: float,
    event_t: float,
) -> Alert:
    """The next CAP message of ``lifecycle`` (recorded in its ``messages``).

    Args:
        config: Engine configuration (sender, family descriptions, evidence limit).
        area: The CAP area of the asset (see :func:`cap_area`).
        state: The asset's state.
        asset: The asset, or None when the registry does not know it.
        lifecycle: The incident's lifecycle; the message is appended to it.
        msg_type: ``Alert``, ``Update`` or ``Cancel``.
        scored: The family's score and factors.
        now: Event time of the evaluation (the message's ``sent``).
        event_t: Event time of the event that caused the message.
    """
    incident = incident_id(state.asset_id, lifecycle)
    identifier = f"{incident}-{len(lifecycle.messages) + 1}"
    sent = iso(now)
    references = [
        f"{config.sender},{ident},{iso(at).isoformat()}" for ident, at in lifecycle.messages
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
        urgency = URGENCY[level]
    contributing = [f for f in scored.factors if f.contribution > 0 or f.source == "data_health"]
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
                severity=SEVERITY[level],
                certainty=scored.certainty,
                headline=headline,
                description=description,
                onset=iso(lifecycle.onset),
                parameter=parameters,
                area=area,
            )
        ],
        asset_id=state.asset_id,
        asset_type=asset.asset_type if asset is not None else None,
        risk_score=min(scored.score, 100.0),
        level=level,
        event_time=iso(event_t),
        evidence=evidence,
    )


def cap_area(lookup: object, asset_id: str, asset: Asset | None) -> list[CapArea]:
    """The CAP area of an asset: its name and a circle covering it when ``lookup`` knows where."""
    description = asset_id
    if asset is not None:
        description = asset.name + (f", {asset.district}" if asset.district else "")
    circles: list[str] = []
    if isinstance(lookup, AreaLookup):
        point = lookup.representative_point(asset_id)
        radius = lookup.radius_m(asset_id)
        if point is not None:
            radius_km = max((radius or 0.0) / 1000.0, 0.05)
            circles.append(f"{point[0]:.6f},{point[1]:.6f} {radius_km:.3f}")
    return [CapArea(areaDesc=description, circle=circles)]


def build_risk_state(
    config: EngineConfig,
    state: AssetState,
    asset: Asset | None,
    scores: dict[str, FamilyScore],
    now: float,
    *,
    force: bool,
) -> RiskState | None:
    """The asset's new risk state, or None when it did not change meaningfully.

    Meaningfully: a level, certainty, incident or data-health note changed, or
    the score moved by ``risk_publish_delta`` or more; ``force`` publishes anyway.
    The published signature is remembered in ``state.published``.
    """
    top = max(scores.values(), key=lambda s: (s.score, s.family), default=None)
    incidents = [
        IncidentRef(
            incident=incident_id(state.asset_id, lc),
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
        f.name for scored in scores.values() for f in scored.factors if f.source == "data_health"
    )
    signature = [
        level,
        certainty if score > 0 or health else None,
        [[r.incident, r.level, r.acknowledged] for r in incidents],
        health,
    ]
    previous = state.published
    if not force:
        delta = config.risk_publish_delta
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
        event_time=iso(now),
    )
