"""City assets as read from the GeoJSON registry."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas._common import FiniteFloat, Identifier, ShortText, SnakeName

AssetType = Literal["lifeline_corridor", "traffic_trunk", "crowded_place"]
"""The three asset classes gridwatch watches."""

GeometryType = Literal["Point", "LineString", "Polygon", "MultiLineString", "MultiPolygon"]


def _check_positions(node: Any, depth: int) -> None:
    if depth > 4:
        raise ValueError("coordinates are nested too deeply")
    if not isinstance(node, list) or not node:
        raise ValueError("coordinates must be non-empty arrays")
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in node):
        if len(node) not in (2, 3):
            raise ValueError("a position has 2 or 3 numbers")
        lon, lat = float(node[0]), float(node[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError("a position must be finite")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError(f"position {node!r} is outside WGS84 range (lon, lat)")
        return
    for child in node:
        _check_positions(child, depth + 1)


class Geometry(BaseModel):
    """A GeoJSON geometry in WGS84 (longitude, latitude)."""

    model_config = ConfigDict(frozen=True)

    type: GeometryType
    coordinates: list[Any]

    @field_validator("coordinates")
    @classmethod
    def _positions_in_range(cls, value: list[Any]) -> list[Any]:
        _check_positions(value, 0)
        return value


class MetricThresholds(BaseModel):
    """Per-asset override of a metric's physical thresholds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    direction: Literal["above", "below"] | None = Field(
        default=None,
        description="Whether danger lies above or below; unset keeps the class default.",
    )
    watch: FiniteFloat | None = None
    warning: FiniteFloat | None = None
    critical: FiniteFloat | None = None


class Asset(BaseModel):
    """One watched asset: a corridor, a trunk road or a crowded place."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    asset_id: Identifier
    asset_type: AssetType
    subtype: SnakeName = Field(description="e.g. water_main, gas_main, expressway, metro_station.")
    name: ShortText
    capacity: FiniteFloat | None = Field(
        default=None, gt=0, description="People the place holds safely (crowded places)."
    )
    district: ShortText | None = None
    thresholds: dict[SnakeName, MetricThresholds] = Field(
        default_factory=dict, description="Threshold overrides by metric name."
    )
    geometry: Geometry

    @classmethod
    def from_feature(cls, feature: dict[str, Any]) -> Asset:
        """Build an asset from one GeoJSON Feature of the registry.

        Args:
            feature: A GeoJSON Feature whose properties hold the asset fields.

        Returns:
            The validated asset.

        Raises:
            pydantic.ValidationError: When the feature does not describe a valid asset.
        """
        properties = feature.get("properties") or {}
        return cls.model_validate({**properties, "geometry": feature.get("geometry")})

    def to_feature(self) -> dict[str, Any]:
        """Return this asset as a GeoJSON Feature (the inverse of :meth:`from_feature`)."""
        properties = self.model_dump(mode="json", exclude={"geometry"}, exclude_none=True)
        return {
            "type": "Feature",
            "geometry": self.geometry.model_dump(mode="json"),
            "properties": properties,
        }
