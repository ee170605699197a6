"""The asset registry and the spatial matching of hotline cases to assets.

Pure Python on top of shapely 2 and numpy: nothing here imports faust, kafka
or prometheus. A registry is immutable; the stream processor swaps in a new
one (built with :meth:`AssetRegistry.with_assets` or
:meth:`AssetRegistry.without`) when the registry topic changes, so readers
never see a half-updated index.

Geodesy (the local tangent plane, geometry building) lives in
:mod:`streams.engine.geo`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import shapely

from schemas import Asset
from streams.engine.geo import (
    TangentPlane,
    haversine_m,
    reach_m,
    wgs84_shape,
)

__all__ = [
    "FITTING_ASSETS",
    "AssetMatch",
    "AssetRegistry",
    "asset_digest",
]

FittingEntry = tuple[str, frozenset[str] | None]
"""One kind of asset a service code can concern: (asset_type, allowed subtypes or None for any)."""

FITTING_ASSETS: Final[dict[str, tuple[FittingEntry, ...]]] = {
    "water_leak": (("lifeline_corridor", frozenset({"water_main"})),),
    "gas_smell": (("lifeline_corridor", frozenset({"gas_main"})),),
    "power_outage": (("lifeline_corridor", frozenset({"power_cable"})),),
    "heating_failure": (("lifeline_corridor", frozenset({"heat_pipe"})),),
    "road_damage": (
        ("traffic_trunk", None),
        ("lifeline_corridor", frozenset({"bridge", "tunnel"})),
    ),
    "traffic_jam": (("traffic_trunk", None),),
    "crowding": (("crowded_place", None),),
    "structural_damage": (("lifeline_corridor", frozenset({"bridge", "tunnel"})),),
}
"""Which assets a hotline service code may concern; ``other`` and unknown codes match nothing."""

# Candidates whose distances differ by at most this much count as tied.
_TIE_TOLERANCE_M: Final = 1e-3


@dataclass(frozen=True, slots=True)
class AssetMatch:
    """The asset a hotline case was matched to.

    Attributes:
        asset_id: The matched asset.
        distance_m: True distance in metres from the case to the asset's line or
            polygon (0 inside a polygon).
    """

    asset_id: str
    distance_m: float


def asset_digest(asset: Asset) -> int:
    """A 64-bit fingerprint of one asset's full content."""
    raw = hashlib.blake2b(asset.model_dump_json().encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big")


def _fits(asset: Asset, entry: FittingEntry) -> bool:
    asset_type, subtypes = entry
    return asset.asset_type == asset_type and (subtypes is None or asset.subtype in subtypes)


@dataclass(frozen=True, slots=True)
class _Group:
    """The assets of one fitting entry with their STRtree."""

    tree: Any  # shapely.STRtree over projected geometries
    geometries: Any  # numpy object array, the same order as the tree
    asset_ids: tuple[str, ...]


def _all_entries() -> tuple[FittingEntry, ...]:
    seen: dict[FittingEntry, None] = {}
    for entries in FITTING_ASSETS.values():
        for entry in entries:
            seen.setdefault(entry, None)
    return tuple(seen)


_ALL_ENTRIES: Final = _all_entries()


class AssetRegistry:
    """An immutable set of assets with a spatial index for matching hotline cases.

    Geometries are projected into the local tangent plane at the centre of the
    registry's bounding box (see the module docstring) and indexed with one
    shapely ``STRtree`` per fitting group of :data:`FITTING_ASSETS`, so a match
    only ever looks at assets that can fit the service code.

    To change a registry, build a new one with :meth:`with_assets` or
    :meth:`without`; the old one stays valid and unchanged.

    Args:
        assets: The assets; when an asset_id repeats, the later asset wins.

    Raises:
        ValueError: When an asset's coordinates do not nest as its geometry
            type requires (for example a LineString with one position).
    """

    __slots__ = (
        "_areas",
        "_assets",
        "_digests",
        "_groups",
        "_plane",
        "_projected",
        "_reach_m",
        "_shapes",
        "_version",
    )

    _assets: Mapping[str, Asset]
    _areas: dict[str, tuple[float, float, float]]
    _shapes: Mapping[str, Any]
    _digests: Mapping[str, int]
    _plane: TangentPlane
    _projected: Mapping[str, Any]
    _groups: Mapping[FittingEntry, _Group]
    _reach_m: float
    _version: int

    def __init__(self, assets: Iterable[Asset]) -> None:
        by_id: dict[str, Asset] = {}
        for asset in assets:
            by_id[asset.asset_id] = asset
        shapes: dict[str, Any] = {}
        for asset_id, asset in by_id.items():
            try:
                shapes[asset_id] = wgs84_shape(asset.geometry)
            except ValueError as exc:
                raise ValueError(f"asset {asset_id}: {exc}") from exc
        digests = {asset_id: asset_digest(asset) for asset_id, asset in by_id.items()}
        self._setup(by_id, shapes, digests)

    @classmethod
    def keeping_valid(cls, assets: Iterable[Asset]) -> tuple[AssetRegistry, dict[str, str]]:
        """A registry of every asset whose geometry can be built, and why the others cannot.

        For records from a topic, where one poisoned asset must not cost the
        others (:meth:`__init__` refuses the whole set instead).

        Returns:
            The registry, and the rejected assets' problems by asset_id.
        """
        by_id: dict[str, Asset] = {}
        for asset in assets:
            by_id[asset.asset_id] = asset
        shapes: dict[str, Any] = {}
        rejected: dict[str, str] = {}
        for asset_id, asset in by_id.items():
            try:
                shapes[asset_id] = wgs84_shape(asset.geometry)
            # Policy: whatever fails on one asset rejects that asset alone.
            except Exception as exc:  # noqa: BLE001
                rejected[asset_id] = f"{type(exc).__name__}: {exc}"
        kept = {asset_id: asset for asset_id, asset in by_id.items() if asset_id in shapes}
        digests = {asset_id: asset_digest(asset) for asset_id, asset in kept.items()}
        return cls.from_parts(kept, shapes, digests), rejected

    @classmethod
    def from_parts(
        cls, assets: dict[str, Asset], shapes: dict[str, Any], digests: dict[str, int]
    ) -> AssetRegistry:
        """A registry from already checked parts (assets, their WGS84 shapes and digests)."""
        registry = cls.__new__(cls)
        registry._setup(assets, shapes, digests)
        return registry

    def _setup(
        self, assets: dict[str, Asset], shapes: dict[str, Any], digests: dict[str, int]
    ) -> None:
        ids = list(assets)
        wgs = np.empty(len(ids), dtype=object)
        wgs[:] = [shapes[asset_id] for asset_id in ids]
        if ids:
            min_lon, min_lat, max_lon, max_lat = (float(v) for v in shapely.total_bounds(wgs))
            lat0, lon0 = (min_lat + max_lat) / 2.0, (min_lon + max_lon) / 2.0
        else:
            lat0, lon0 = 0.0, 0.0
        plane = TangentPlane(lat0, lon0)
        projected = shapely.transform(wgs, plane.forward_array) if ids else wgs
        invalid = ~shapely.is_valid(projected) if ids else np.zeros(0, dtype=bool)
        if invalid.any():
            # Self-intersecting polygons: distances and containment need valid ones.
            projected[invalid] = shapely.make_valid(projected[invalid])
        self._reach_m = reach_m(wgs, lat0, lon0)
        self._assets = MappingProxyType(assets)
        self._areas = {}
        self._shapes = MappingProxyType(shapes)
        self._digests = MappingProxyType(digests)
        self._plane = plane
        self._projected = MappingProxyType(dict(zip(ids, projected, strict=True)))
        members_of: dict[FittingEntry, list[int]] = {entry: [] for entry in _ALL_ENTRIES}
        entries_of: dict[tuple[str, str], list[list[int]]] = {}
        for i, asset_id in enumerate(ids):
            asset = assets[asset_id]
            kind = (asset.asset_type, asset.subtype)
            targets = entries_of.get(kind)
            if targets is None:
                targets = [members_of[e] for e in _ALL_ENTRIES if _fits(asset, e)]
                entries_of[kind] = targets
            for target in targets:
                target.append(i)
        groups: dict[FittingEntry, _Group] = {}
        for entry, members in members_of.items():
            if not members:
                continue
            geometries = projected[np.asarray(members, dtype=np.intp)]
            groups[entry] = _Group(
                tree=shapely.STRtree(geometries),
                geometries=geometries,
                asset_ids=tuple(ids[i] for i in members),
            )
        self._groups = MappingProxyType(groups)
        version = 0
        for asset_id, digest in digests.items():
            version ^= _entry_hash(asset_id, digest)
        self._version = version

    # -- container protocol -------------------------------------------------

    def __len__(self) -> int:
        return len(self._assets)

    def __contains__(self, asset_id: object) -> bool:
        return asset_id in self._assets

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._assets.values())

    def __repr__(self) -> str:
        return f"AssetRegistry({len(self)} assets, version={self._version:#018x})"

    def get(self, asset_id: str) -> Asset | None:
        """Return the asset with this id, or None.

        Args:
            asset_id: The asset to look up.

        Returns:
            The asset, or None when the registry does not hold it.
        """
        return self._assets.get(asset_id)

    @property
    def version(self) -> int:
        """A 64-bit fingerprint of the contents.

        Two registries holding the same assets (same ids and same fields) have
        the same version; any added, removed or changed asset changes it.
        """
        return self._version

    @property
    def origin(self) -> tuple[float, float]:
        """The (lat, lon) origin of the local metric plane: the bounding-box centre."""
        return self._plane.origin

    @property
    def reach_m(self) -> float:
        """An upper bound of the distance in metres from :attr:`origin` to any asset vertex."""
        return self._reach_m

    # -- building new registries --------------------------------------------

    def with_assets(self, changed: Iterable[Asset]) -> AssetRegistry:
        """Return a new registry with these assets added or replaced by asset_id.

        Args:
            changed: Assets to add or replace; a later one wins over an earlier
                one with the same asset_id.

        Returns:
            The new registry, or this registry itself when nothing changes.

        Raises:
            ValueError: When a new asset's coordinates do not nest as its
                geometry type requires.
        """
        assets = dict(self._assets)
        shapes = dict(self._shapes)
        digests = dict(self._digests)
        changed_any = False
        for asset in changed:
            asset_id = asset.asset_id
            digest = asset_digest(asset)
            if digests.get(asset_id) == digest:
                continue
            try:
                shapes[asset_id] = wgs84_shape(asset.geometry)
            except ValueError as exc:
                raise ValueError(f"asset {asset_id}: {exc}") from exc
            assets[asset_id] = asset
            digests[asset_id] = digest
            changed_any = True
        if not changed_any:
            return self
        return AssetRegistry.from_parts(assets, shapes, digests)

    def without(self, asset_ids: Iterable[str]) -> AssetRegistry:
        """Return a new registry without these assets (unknown ids are ignored).

        Args:
            asset_ids: The assets to drop.

        Returns:
            The new registry, or this registry itself when nothing changes.
        """
        drop = {asset_id for asset_id in asset_ids if asset_id in self._assets}
        if not drop:
            return self
        keep = [asset_id for asset_id in self._assets if asset_id not in drop]
        return AssetRegistry.from_parts(
            {asset_id: self._assets[asset_id] for asset_id in keep},
            {asset_id: self._shapes[asset_id] for asset_id in keep},
            {asset_id: self._digests[asset_id] for asset_id in keep},
        )

    # -- spatial queries ------------------------------------------------------

    def match_case(
        self, lat: float, long: float, service_code: str, radius_m: float
    ) -> AssetMatch | None:
        """Find the nearest asset that fits a hotline case's service code.

        Only assets whose type and subtype fit the code (see
        :data:`FITTING_ASSETS`) are candidates. Among those within ``radius_m``
        (inclusive) of the case, the nearest one wins; candidates whose
        distances differ by at most a millimetre count as tied, and a tie goes
        to the smallest asset_id, so the result is deterministic.

        Args:
            lat: WGS84 latitude of the case.
            long: WGS84 longitude of the case.
            service_code: The Open311 service code, e.g. ``water_leak``.
            radius_m: The search radius in metres.

        Returns:
            The match, or None when no fitting asset lies within the radius or
            the service code fits no asset type (``other``, unknown codes).

        Raises:
            ValueError: When the position or the radius is out of range.
        """
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise ValueError(f"latitude {lat!r} is out of range")
        if not (math.isfinite(long) and -180.0 <= long <= 180.0):
            raise ValueError(f"longitude {long!r} is out of range")
        if not (math.isfinite(radius_m) and radius_m >= 0.0):
            raise ValueError(f"radius_m must be a finite number >= 0, got {radius_m!r}")
        entries = FITTING_ASSETS.get(service_code, ())
        groups = [self._groups[entry] for entry in entries if entry in self._groups]
        if not groups:
            return None
        # Far outside the registry: nothing can be in reach, and the tangent
        # plane must not be used for points across the globe (it folds the
        # far hemisphere onto the near one).
        lat0, lon0 = self._plane.origin
        if haversine_m(lat0, lon0, lat, long) > self._reach_m + 1.01 * radius_m + 10.0:
            return None
        east, north = self._plane.forward(lat, long)
        point = shapely.Point(east, north)
        candidates: list[tuple[float, str]] = []
        for group in groups:
            hits = group.tree.query(point, predicate="dwithin", distance=radius_m)
            if len(hits) == 0:
                continue
            distances = shapely.distance(point, group.geometries[hits])
            for index, distance in zip(hits.tolist(), distances.tolist(), strict=True):
                if distance <= radius_m:
                    candidates.append((distance, group.asset_ids[index]))
        if not candidates:
            return None
        nearest = min(distance for distance, _ in candidates)
        best = min(
            (c for c in candidates if c[0] <= nearest + _TIE_TOLERANCE_M),
            key=lambda c: c[1],
        )
        return AssetMatch(asset_id=best[1], distance_m=best[0])

    def representative_point(self, asset_id: str) -> tuple[float, float] | None:
        """Return a WGS84 (lat, lon) point guaranteed to lie on or in the asset.

        For a line it is the point halfway along it, for a polygon a point
        inside it (unlike a centroid, which may fall outside a bent line or a
        concave polygon). Computed on the asset's own geometry, so it does not
        depend on which other assets the registry holds.

        Args:
            asset_id: The asset.

        Returns:
            (lat, lon) in degrees, or None for an unknown asset.
        """
        cached = self._areas.get(asset_id)
        if cached is None:
            cached = self._area_of(asset_id)
            if cached is None:
                return None
        return cached[0], cached[1]

    def radius_m(self, asset_id: str) -> float | None:
        """Return the distance from :meth:`representative_point` to the asset's farthest point.

        A circle with this radius around the representative point covers the
        whole asset (for CAP ``<circle>`` areas); great-circle distances.

        Args:
            asset_id: The asset.

        Returns:
            The radius in metres (0 for a point asset), or None for an unknown asset.
        """
        cached = self._areas.get(asset_id)
        if cached is None:
            cached = self._area_of(asset_id)
            if cached is None:
                return None
        return cached[2]

    def _area_of(self, asset_id: str) -> tuple[float, float, float] | None:
        asset = self._assets.get(asset_id)
        if asset is None:
            return None
        wgs = wgs84_shape(asset.geometry)
        if wgs.geom_type in ("LineString", "MultiLineString"):
            point = shapely.line_interpolate_point(wgs, 0.5, normalized=True)
        else:
            point = shapely.point_on_surface(wgs)
        lon, lat = float(point.x), float(point.y)
        radius = max(
            (haversine_m(lat, lon, float(y), float(x)) for x, y in shapely.get_coordinates(wgs)),
            default=0.0,
        )
        area = (lat, lon, radius)
        self._areas[asset_id] = area
        return area


def _entry_hash(asset_id: str, digest: int) -> int:
    raw = hashlib.blake2b(
        asset_id.encode() + b"\x00" + digest.to_bytes(8, "big"), digest_size=8
    ).digest()
    return int.from_bytes(raw, "big")
