"""The asset registry and the spatial matching of hotline cases to assets.

Pure Python on top of shapely 2 and numpy: nothing here imports faust, kafka
or prometheus. A registry is immutable; the stream processor swaps in a new
one (built with :meth:`AssetRegistry.with_assets` or
:meth:`AssetRegistry.without`) when the registry topic changes, so readers
never see a half-updated index.

Projection:
    Every asset geometry is converted once from WGS84 (lon, lat) to a local
    metric plane: the **local tangent plane (east, north) of the WGS84
    ellipsoid** at a fixed origin, the centre of the registry's bounding box.
    A position is converted to Earth-centred Earth-fixed coordinates on the
    ellipsoid and rotated into the east/north/up frame of the origin; the up
    component is dropped. At the origin the plane's scales are exactly the
    prime-vertical radius ``N(lat0)`` (east) and the meridional radius
    ``M(lat0)`` (north), so there is no spherical-Earth error. Away from the
    origin the plane only shortens lengths along the direction to the origin,
    by the factor ``cos(d / R)`` for a point ``d`` metres away, so the relative
    distance error is at most ``d**2 / (2 * R**2)``: 0.003 % at 50 km,
    0.012 % at 100 km, 0.3 % at 500 km. The registry is meant for one city
    region (a few hundred kilometres across at most); a continent-wide
    registry would need a proper projection per region.

    Line segments and polygon edges are straight lines in this plane (the
    difference to geodesics is far below a metre at city scale), and distances
    are true distances to the line or polygon, not to its vertices: a point
    inside a polygon is at distance 0.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray
from pydantic import ValidationError

from schemas import Asset, Geometry

__all__ = [
    "FITTING_ASSETS",
    "AssetMatch",
    "AssetRegistry",
    "load_registry",
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

# WGS84 ellipsoid.
_A: Final = 6_378_137.0
_F: Final = 1.0 / 298.257223563
_E2: Final = _F * (2.0 - _F)
# Mean Earth radius (IUGG), used only for the coarse reach check.
_MEAN_RADIUS_M: Final = 6_371_008.8
# Beyond this reach from the origin the tangent plane's error exceeds 0.3 %.
_CITY_REACH_M: Final = 500_000.0
# Candidates whose distances differ by at most this much count as tied.
_TIE_TOLERANCE_M: Final = 1e-3

_FloatArray = NDArray[np.float64]


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


class _TangentPlane:
    """The local (east, north) tangent plane of the WGS84 ellipsoid at an origin.

    See the module docstring for the accuracy. Forward conversions exist as a
    numpy version (whole registries) and a scalar ``math`` version (one case at a
    time, much faster for a single point); both use the same formulas.
    """

    __slots__ = ("_cos_lat0", "_lat0", "_lon0", "_m0", "_n0", "_sin_lat0", "_x0", "_z0")

    def __init__(self, lat0: float, lon0: float) -> None:
        self._lat0 = lat0
        self._lon0 = lon0
        phi0 = math.radians(lat0)
        self._sin_lat0 = math.sin(phi0)
        self._cos_lat0 = math.cos(phi0)
        w = math.sqrt(1.0 - _E2 * self._sin_lat0**2)
        self._n0 = _A / w  # prime-vertical radius of curvature
        self._m0 = _A * (1.0 - _E2) / w**3  # meridional radius of curvature
        # The origin in ECEF coordinates rotated by -lon0 about the polar axis.
        self._x0 = self._n0 * self._cos_lat0
        self._z0 = self._n0 * (1.0 - _E2) * self._sin_lat0

    @property
    def origin(self) -> tuple[float, float]:
        return (self._lat0, self._lon0)

    def forward_array(self, coords: _FloatArray) -> _FloatArray:
        """Convert an (n, 2) array of (lon, lat) degrees to (east, north) metres."""
        lon = coords[:, 0]
        lat = coords[:, 1]
        dlon = np.radians(lon - self._lon0)
        dlon = (dlon + np.pi) % (2.0 * np.pi) - np.pi
        phi = np.radians(lat)
        sin_phi = np.sin(phi)
        cos_phi = np.cos(phi)
        n = _A / np.sqrt(1.0 - _E2 * sin_phi * sin_phi)
        x = n * cos_phi * np.cos(dlon) - self._x0
        east = n * cos_phi * np.sin(dlon)
        z = n * (1.0 - _E2) * sin_phi - self._z0
        north = self._cos_lat0 * z - self._sin_lat0 * x
        return np.column_stack((east, north))

    def forward(self, lat: float, lon: float) -> tuple[float, float]:
        """Convert one WGS84 position to (east, north) metres."""
        east, north = self.forward_array(np.array([[lon, lat]], dtype=np.float64))[0]
        return (float(east), float(north))

    def inverse(self, east: float, north: float) -> tuple[float, float]:
        """Convert (east, north) metres back to WGS84 (lat, lon) degrees.

        Solved by fixed-point iteration on :meth:`forward` with the origin's
        scales, which converges to double precision in a few steps anywhere
        near the origin (the scales change by well under 1 % within 50 km).
        """
        scale_north = math.degrees(1.0 / self._m0)
        scale_east = math.degrees(1.0 / (self._n0 * max(self._cos_lat0, 1e-12)))
        lat = self._lat0 + north * scale_north
        lon = self._lon0 + east * scale_east
        for _ in range(50):
            got_east, got_north = self.forward(lat, lon)
            d_lat = (north - got_north) * scale_north
            d_lon = (east - got_east) * scale_east
            lat += d_lat
            lon += d_lon
            if abs(d_lat) < 1e-13 and abs(d_lon) < 1e-13:
                break
        lon = (lon + 180.0) % 360.0 - 180.0
        return (lat, lon)


def _is_position(node: Any) -> bool:
    return (
        isinstance(node, list)
        and len(node) in (2, 3)
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in node)
    )


def _line_coords(node: Any, what: str) -> _FloatArray:
    """Return an (n, 2) array of (lon, lat) from an array of positions."""
    try:
        array = np.asarray(node, dtype=np.float64)
    except (ValueError, TypeError):
        # Ragged: positions of mixed 2D/3D, or something that is not positions.
        if not isinstance(node, list) or not all(_is_position(p) for p in node):
            raise ValueError(f"{what} must be an array of positions") from None
        array = np.asarray([p[:2] for p in node], dtype=np.float64)
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        raise ValueError(f"{what} must be an array of positions")
    if len(array) < 2:
        raise ValueError(f"{what} needs at least 2 positions")
    return array[:, :2]


def _ring_coords(node: Any, what: str) -> _FloatArray:
    coords = _line_coords(node, what)
    if len(coords) < 4:
        raise ValueError(f"{what} needs at least 4 positions")
    if not np.array_equal(coords[0], coords[-1]):
        raise ValueError(f"{what} is not closed (first and last positions differ)")
    return coords


def _polygon(node: Any, what: str) -> Any:
    if not isinstance(node, list) or not node:
        raise ValueError(f"{what} must be a non-empty array of linear rings")
    shell = _ring_coords(node[0], f"{what} exterior ring")
    holes = [_ring_coords(ring, f"{what} ring {i}") for i, ring in enumerate(node[1:], 1)]
    if not holes:
        return shapely.polygons(shell)
    return shapely.polygons(shell, holes=[shapely.linearrings(hole) for hole in holes])


def _wgs84_shape(geometry: Geometry) -> Any:
    """Build the shapely geometry (lon, lat degrees, 2D) of a GeoJSON geometry.

    Args:
        geometry: A validated GeoJSON geometry.

    Returns:
        The shapely geometry.

    Raises:
        ValueError: When the coordinates do not nest the way the type requires.
    """
    kind = geometry.type
    coords = geometry.coordinates
    if kind == "Point":
        if not _is_position(coords):
            raise ValueError("Point coordinates must be one position")
        return shapely.points(float(coords[0]), float(coords[1]))
    if kind == "LineString":
        return shapely.linestrings(_line_coords(coords, "LineString"))
    if kind == "Polygon":
        return _polygon(coords, "Polygon")
    if kind == "MultiLineString":
        return shapely.MultiLineString(
            [_line_coords(line, f"MultiLineString line {i}") for i, line in enumerate(coords)]
        )
    if kind == "MultiPolygon":
        return shapely.MultiPolygon(
            [_polygon(poly, f"MultiPolygon polygon {i}") for i, poly in enumerate(coords)]
        )
    raise ValueError(f"unsupported geometry type {kind!r}")  # pragma: no cover - Literal


def _digest(asset: Asset) -> int:
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
    _plane: _TangentPlane
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
                shapes[asset_id] = _wgs84_shape(asset.geometry)
            except ValueError as exc:
                raise ValueError(f"asset {asset_id}: {exc}") from exc
        digests = {asset_id: _digest(asset) for asset_id, asset in by_id.items()}
        self._setup(by_id, shapes, digests)

    @classmethod
    def _from_parts(
        cls, assets: dict[str, Asset], shapes: dict[str, Any], digests: dict[str, int]
    ) -> AssetRegistry:
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
        plane = _TangentPlane(lat0, lon0)
        projected = shapely.transform(wgs, plane.forward_array) if ids else wgs
        invalid = ~shapely.is_valid(projected) if ids else np.zeros(0, dtype=bool)
        if invalid.any():
            # Self-intersecting polygons: distances and containment need valid ones.
            projected[invalid] = shapely.make_valid(projected[invalid])
        self._reach_m = _reach(wgs, lat0, lon0)
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
            digest = _digest(asset)
            if digests.get(asset_id) == digest:
                continue
            try:
                shapes[asset_id] = _wgs84_shape(asset.geometry)
            except ValueError as exc:
                raise ValueError(f"asset {asset_id}: {exc}") from exc
            assets[asset_id] = asset
            digests[asset_id] = digest
            changed_any = True
        if not changed_any:
            return self
        return AssetRegistry._from_parts(assets, shapes, digests)

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
        return AssetRegistry._from_parts(
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
        if _haversine_m(lat0, lon0, lat, long) > self._reach_m + 1.01 * radius_m + 10.0:
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
        wgs = _wgs84_shape(asset.geometry)
        if wgs.geom_type in ("LineString", "MultiLineString"):
            point = shapely.line_interpolate_point(wgs, 0.5, normalized=True)
        else:
            point = shapely.point_on_surface(wgs)
        lon, lat = float(point.x), float(point.y)
        radius = max(
            (_haversine_m(lat, lon, float(y), float(x)) for x, y in shapely.get_coordinates(wgs)),
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


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2.0 * _MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _reach(wgs: Any, lat0: float, lon0: float) -> float:
    """Great-circle distance (generously rounded up) from the origin to the farthest vertex."""
    if len(wgs) == 0:
        return 0.0
    coords = shapely.get_coordinates(wgs)
    phi0 = math.radians(lat0)
    phi = np.radians(coords[:, 1])
    d_lambda = np.radians(coords[:, 0] - lon0)
    h = np.sin((phi - phi0) / 2) ** 2 + math.cos(phi0) * np.cos(phi) * np.sin(d_lambda / 2) ** 2
    farthest = float(np.max(2.0 * _MEAN_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))))
    # The spherical distance is within 0.5 % of the ellipsoidal one.
    return farthest * 1.01 + 10.0


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
            shape = _wgs84_shape(asset.geometry)
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
    digests = {asset_id: _digest(asset) for asset_id, asset in assets.items()}
    registry = AssetRegistry._from_parts(assets, shapes, digests)
    if registry.reach_m > _CITY_REACH_M:
        lat0, lon0 = registry.origin
        problems.append(
            f"the assets reach {registry.reach_m / 1000:.0f} km from the registry centre "
            f"({lat0:.4f}, {lon0:.4f}); distances beyond {_CITY_REACH_M / 1000:.0f} km lose "
            "accuracy (a misplaced asset, e.g. swapped lon/lat or 0/0, stretches the extent)"
        )
    return registry, problems
