"""CAP 1.2 shaped alerts and the per-asset risk state."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas._assets import AssetType
from schemas._common import Identifier, ShortText

RiskLevel = Literal["watch", "warning", "critical"]
"""Alerting levels, lowest first; they map to CAP Moderate, Severe, Extreme."""

CapSeverity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
CapUrgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
CapCertainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
CapCategory = Literal[
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
    "Transport", "Infra", "CBRNE", "Other",
]  # fmt: skip

Score = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CapParameter(_Frozen):
    """A CAP ``parameter``: a named value attached to an info block."""

    valueName: ShortText
    value: str


class CapArea(_Frozen):
    """A CAP ``area``; polygons and circles use CAP's "lat,lon" text form."""

    areaDesc: str
    polygon: list[str] = Field(default_factory=list)
    circle: list[str] = Field(default_factory=list)


class CapInfo(_Frozen):
    """A CAP ``info`` block."""

    language: str = "en-US"
    category: list[CapCategory] = Field(min_length=1)
    event: str
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    headline: str | None = None
    description: str | None = None
    onset: AwareDatetime | None = None
    parameter: list[CapParameter] = Field(default_factory=list)
    area: list[CapArea] = Field(default_factory=list)


class Evidence(_Frozen):
    """One event that contributed to an alert, with a one-line summary."""

    event_id: Identifier
    summary: str


class Alert(_Frozen):
    """A CAP 1.2 shaped alert message plus gridwatch's flat fields.

    One incident per asset and hazard family; its messages are an ``Alert``,
    then ``Update`` s (each referencing the previous message) and a final
    ``Cancel``. Identifiers are deterministic functions of the input.
    """

    identifier: Identifier
    sender: ShortText
    sent: AwareDatetime
    status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = "Actual"
    msgType: Literal["Alert", "Update", "Cancel", "Ack", "Error"]
    scope: Literal["Public", "Restricted", "Private"] = "Restricted"
    references: list[str] = Field(
        default_factory=list,
        description='Earlier messages of this incident as CAP "sender,identifier,sent" triples.',
    )
    incidents: str | None = None
    info: list[CapInfo] = Field(min_length=1)
    asset_id: Identifier
    asset_type: AssetType | None = None
    risk_score: Score
    level: RiskLevel
    event_time: AwareDatetime = Field(description="Event time of the event that caused this.")
    evidence: list[Evidence] = Field(default_factory=list)


class RiskFactor(_Frozen):
    """One signal's contribution to an asset's score, so operators see why."""

    name: str = Field(description="e.g. threshold:gas_ppm, hotline_pressure, inspection.")
    source: Literal["sensor", "hotline", "inspection", "data_health"]
    contribution: Score
    detail: str


class IncidentRef(_Frozen):
    """An open incident on an asset."""

    incident: str
    hazard: str
    level: RiskLevel
    last_identifier: Identifier
    acknowledged: bool = False


class RiskState(_Frozen):
    """The latest risk picture of one asset (value of the compacted risk topic)."""

    asset_id: Identifier
    asset_type: AssetType | None = None
    risk_score: Score
    level: RiskLevel | None = Field(
        default=None, description="None while the asset is below watch."
    )
    certainty: CapCertainty
    factors: list[RiskFactor] = Field(default_factory=list)
    incidents: list[IncidentRef] = Field(default_factory=list)
    event_time: AwareDatetime = Field(
        description="Event time of the latest event seen for the asset."
    )
