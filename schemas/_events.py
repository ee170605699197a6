"""The three input event kinds and their discriminated union."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from schemas._common import (
    MAX_ADDRESS_CHARS,
    MAX_DESCRIPTION_CHARS,
    EventTime,
    FiniteFloat,
    Identifier,
    Latitude,
    Longitude,
    ShortText,
    SnakeName,
)

KNOWN_METRICS: Final = frozenset(
    {
        "water_pressure_kpa",
        "gas_ppm",
        "cable_temp_c",
        "strain_ue",
        "speed_kmh",
        "flow_vph",
        "occupancy_pct",
        "crowd_count",
        "crowd_density_ppm2",
    }
)
"""Metrics with physical thresholds; any other snake_case metric is still valid."""

KNOWN_SERVICE_CODES: Final = frozenset(
    {
        "water_leak",
        "gas_smell",
        "road_damage",
        "traffic_jam",
        "crowding",
        "power_outage",
        "other",
    }
)
"""Hotline service codes gridwatch understands; unknown codes are valid and counted."""

KNOWN_HAZARDS: Final = frozenset(
    {
        "leak",
        "corrosion",
        "crack",
        "obstruction",
        "illegal_construction",
        "overcrowding",
        "signal_fault",
        "other",
    }
)
"""Inspection hazards gridwatch understands; unknown hazards are valid."""


class _EventBase(BaseModel):
    # Unknown fields are ignored rather than rejected so that producers can
    # add fields before every consumer is upgraded.
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Identifier = Field(description="Unique id of this event; duplicates are dropped.")
    event_time: EventTime
    source: ShortText = Field(description="Name of the producing system.")


class SensorReading(_EventBase):
    """One measurement from a sensor mounted on an asset."""

    kind: Literal["sensor"]
    sensor_id: Identifier
    asset_id: Identifier
    metric: SnakeName = Field(
        description="snake_case metric name; known metrics carry physical thresholds."
    )
    value: FiniteFloat
    quality: Literal["good", "uncertain", "bad"] | None = Field(
        default=None, description="OPC-UA style quality flag, when the source provides one."
    )


class HotlineCase(_EventBase):
    """A citizen report from the 12345 hotline, shaped after Open311 GeoReport v2."""

    kind: Literal["hotline"]
    service_request_id: Identifier
    service_code: SnakeName = Field(description="Open311 service code, e.g. water_leak.")
    status: Literal["open", "closed"]
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS)]
    lat: Latitude
    long: Longitude
    address: Annotated[str, StringConstraints(max_length=MAX_ADDRESS_CHARS)] | None = None
    asset_id: Identifier | None = Field(
        default=None, description="Set when the call taker identified the asset."
    )


class InspectionFinding(_EventBase):
    """A hazard reported by a field inspector on an asset."""

    kind: Literal["inspection"]
    inspection_id: Identifier
    asset_id: Identifier
    inspector_id: Identifier
    hazard: SnakeName
    severity: Annotated[int, Field(strict=True, ge=1, le=5)]
    status: Literal["open", "rectified"]


Event = Annotated[
    SensorReading | HotlineCase | InspectionFinding,
    Field(discriminator="kind"),
]
"""Any input event; ``kind`` selects the model."""

EVENT_ADAPTER: Final[TypeAdapter[SensorReading | HotlineCase | InspectionFinding]] = TypeAdapter(
    Event
)
