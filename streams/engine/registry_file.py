"""Reading an asset registry from a GeoJSON FeatureCollection file."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import Asset
from streams.engine.geo import CITY_REACH_M, wgs84_shape
from streams.engine.registry import AssetRegistry, asset_digest


def _error_text(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"{loc}: {error['msg']}" if loc else error["msg"])
    return "; ".join(parts)


def load_registry(path: Path) -> tuple[AssetRegistry, list[str]]:
    """Read an asset registry from a GeoJSON FeatureCollection file.

    Each feature's properties hold the asset fields (see
    :meth:`schemas.Asset.from_feature`). Invalid features are skipped; when an
    asset_id repeats, the later feature wins. Both are reported as problems
    such as ``"feature 12 (asset_id wm-1): geometry.type: Input should be ..."``,
    where the number is the 0-based index in the ``features`` array.

    Args:
        path: A ``.geojson`` or ``.json`` file, optionally gzip-compressed
            (``.gz`` suffix or gzip magic bytes).

    Returns:
        The registry and the list of problems (empty when every feature loaded).

    Raises:
        ValueError: When the file is not valid JSON or not a GeoJSON
            FeatureCollection with a ``features`` array.
        OSError: When the file cannot be read.
    """
    raw = path.read_bytes()
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a valid gzip file: {exc}") from exc
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        found = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"{path}: expected a GeoJSON FeatureCollection, found {found!r}")
    features = document.get("features")
    if not isinstance(features, list):
        raise ValueError(f"{path}: a FeatureCollection needs a 'features' array")

    problems: list[str] = []
    assets: dict[str, Asset] = {}
    shapes: dict[str, Any] = {}
    first_seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        if not isinstance(feature, dict):
            problems.append(f"feature {index}: not a JSON object")
            continue
        properties = feature.get("properties")
        raw_id = properties.get("asset_id") if isinstance(properties, dict) else None
        label = (
            f"feature {index} (asset_id {raw_id})"
            if isinstance(raw_id, str)
            else (f"feature {index} (no asset_id)")
        )
        if feature.get("type") != "Feature":
            problems.append(f"{label}: type must be 'Feature', found {feature.get('type')!r}")
            continue
        if properties is not None and not isinstance(properties, dict):
            problems.append(f"{label}: properties must be an object")
            continue
        try:
            asset = Asset.from_feature(feature)
            shape = wgs84_shape(asset.geometry)
        except ValidationError as exc:
            problems.append(f"{label}: {_error_text(exc)}")
            continue
        except ValueError as exc:
            problems.append(f"{label}: geometry: {exc}")
            continue
        asset_id = asset.asset_id
        if asset_id in assets:
            problems.append(f"{label}: duplicate asset_id, replaces feature {first_seen[asset_id]}")
            del assets[asset_id]  # the later one wins, and takes the later position
        first_seen[asset_id] = index
        assets[asset_id] = asset
        shapes[asset_id] = shape
    digests = {asset_id: asset_digest(asset) for asset_id, asset in assets.items()}
    registry = AssetRegistry.from_parts(assets, shapes, digests)
    if registry.reach_m > CITY_REACH_M:
        lat0, lon0 = registry.origin
        problems.append(
            f"the assets reach {registry.reach_m / 1000:.0f} km from the registry centre "
            f"({lat0:.4f}, {lon0:.4f}); distances beyond {CITY_REACH_M / 1000:.0f} km lose "
            "accuracy (a misplaced asset, e.g. swapped lon/lat or 0/0, stretches the extent)"
        )
    return registry, problems
