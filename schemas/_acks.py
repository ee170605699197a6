"""Acknowledgements from the operations center (the ``gridwatch.acks`` topic)."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from schemas._common import EventTime, Identifier, ShortText
from schemas._events import HotlineCase, InspectionFinding, SensorReading


class Acknowledgement(BaseModel):
    """An operator acknowledged an incident (or every open incident) on an asset."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["ack"] = "ack"
    ack_id: Identifier
    asset_id: Identifier
    incident: Identifier | None = Field(
        default=None,
        description="The alert's `incidents` value; absent means every open incident.",
    )
    acknowledged_by: ShortText
    event_time: EventTime
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


InternalMessage = Annotated[
    SensorReading | HotlineCase | InspectionFinding | Acknowledgement,
    Field(discriminator="kind"),
]
"""What travels on the internal per-asset stream: events and acknowledgements."""

INTERNAL_ADAPTER: Final[
    TypeAdapter[SensorReading | HotlineCase | InspectionFinding | Acknowledgement]
] = TypeAdapter(InternalMessage)
