"""Shanghai's shape for the synthetic city: river, shore, districts, and placing shapes on land.

The places (river and shore polylines, district anchors, real names) are data,
in ``streams/data/shanghai.toml``. Pure Python.
"""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

Position = tuple[float, float]
"""A WGS84 position as ``(lon, lat)`` in degrees."""

LON_RANGE: tuple[float, float] = (121.20, 121.80)
"""Longitudes of every generated position lie in this closed range."""

LAT_RANGE: tuple[float, float] = (30.95, 31.45)
"""Latitudes of every generated position lie in this closed range."""

CENTER: Position = (121.4737, 31.2304)
"""People's Square, the point density peaks around."""

DISTRICTS: tuple[str, ...] = (
    "Huangpu",
    "Xuhui",
    "Changning",
    "Jing'an",
    "Putuo",
    "Hongkou",
    "Yangpu",
    "Pudong",
    "Minhang",
    "Baoshan",
)
"""Districts an asset can be placed in."""

_EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG = _EARTH_RADIUS_M * math.pi / 180.0
_RADIUS_SCALE_M = 4_000.0  # radius ~ Gamma(2, 4 km): mode 4 km, mean 8 km from People's Square
_MAX_TRIES = 64
_LENGTH_MARGIN = 1.01  # keeps lengths inside their range after rounding to 6 decimals

_PLACES_FILE: Final = Path(__file__).resolve().parents[1] / "data" / "shanghai.toml"


@dataclass(frozen=True)
class PlaceNames:
    """Real road, station and expressway names of one district."""

    roads: tuple[str, ...]
    stations: tuple[str, ...]
    expressways: tuple[str, ...]


def _pairs(rows: list[list[float]]) -> tuple[tuple[float, float], ...]:
    return tuple((float(a), float(b)) for a, b in rows)


with _PLACES_FILE.open("rb") as _handle:
    _PLACES: Final[dict[str, Any]] = tomllib.load(_handle)

# The Huangpu as (lat, lon), the downtown Huangpu as (lon, lat) where bridges and
# tunnels cross, the Yangtze shore as (lon, lat); see streams/data/shanghai.toml.
RIVER_BY_LAT: Final = _pairs(_PLACES["river_by_lat"])
HUANGPU_DOWNTOWN: Final[tuple[Position, ...]] = _pairs(_PLACES["huangpu_downtown"])
SHORE_BY_LON: Final = _pairs(_PLACES["shore_by_lon"])
# Rough centres of each district's built-up parts, (district, lon, lat).
ANCHORS: Final[tuple[tuple[str, float, float], ...]] = tuple(
    (str(d), float(lon), float(lat)) for d, lon, lat in _PLACES["anchors"]
)
NAMES: Final[dict[str, PlaceNames]] = {
    district: PlaceNames(
        tuple(names["roads"]), tuple(names["stations"]), tuple(names["expressways"])
    )
    for district, names in _PLACES["names"].items()
}
HUANGPU_BRIDGES: Final = tuple(_PLACES["huangpu_bridges"])
HUANGPU_TUNNELS: Final = tuple(_PLACES["huangpu_tunnels"])


def interpolate(table: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear ``y(x)`` over ``(x, y)`` rows sorted by x, constant beyond the ends."""
    if x <= table[0][0]:
        return table[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(table):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


def east_of_huangpu(lon: float, lat: float) -> bool:
    """Whether a position lies east of the Huangpu (Pudong)."""
    return lon > interpolate(RIVER_BY_LAT, lat)


def on_land(lon: float, lat: float) -> bool:
    """Whether a position is inside the generator's box and not in the Yangtze estuary."""
    if not (LON_RANGE[0] <= lon <= LON_RANGE[1] and LAT_RANGE[0] <= lat <= LAT_RANGE[1]):
        return False
    return lat <= interpolate(SHORE_BY_LON, lon)


def district_at(lon: float, lat: float) -> str:
    """Return the district a position falls in, by a crude nearest-centre rule.

    The Huangpu river splits the city first (Pudong and the Pujiang part of
    Minhang lie east of it); then the nearest district anchor on the same bank
    wins. Only the districts in :data:`DISTRICTS` are used, so the western
    fringe goes to the nearest of them.

    Args:
        lon: Longitude in degrees (WGS84).
        lat: Latitude in degrees (WGS84).

    Returns:
        One of :data:`DISTRICTS`.
    """
    east = east_of_huangpu(lon, lat)
    k = math.cos(math.radians(lat))
    best, best_d2 = "Huangpu", math.inf
    for name, a_lon, a_lat in ANCHORS:
        if east_of_huangpu(a_lon, a_lat) != east:
            continue
        d2 = ((lon - a_lon) * k) ** 2 + (lat - a_lat) ** 2
        if d2 < best_d2:
            best, best_d2 = name, d2
    return best


def offset(origin: Position, east_m: float, north_m: float) -> Position:
    """The position ``east_m`` and ``north_m`` metres from ``origin`` (flat-Earth, city scale)."""
    lon, lat = origin
    return (
        lon + east_m / (_M_PER_DEG * math.cos(math.radians(lat))),
        lat + north_m / _M_PER_DEG,
    )


def bearing(a: Position, b: Position) -> float:
    """Bearing from a to b in radians, clockwise from north (flat-earth, short distances)."""
    east = (b[0] - a[0]) * math.cos(math.radians(a[1]))
    north = b[1] - a[1]
    return math.atan2(east, north)


def rounded(points: Iterable[Position]) -> list[list[float]]:
    """Positions as GeoJSON ``[lon, lat]`` lists rounded to 6 decimals (~0.1 m)."""
    return [[round(lon, 6), round(lat, 6)] for lon, lat in points]


def all_on_land(coords: Iterable[Sequence[float]]) -> bool:
    """Whether every position is on land."""
    return all(on_land(p[0], p[1]) for p in coords)


def log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    """A draw uniform in log scale between ``lo`` and ``hi``."""
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def sample_point(rng: random.Random) -> Position:
    """A point on land, radius ~ Gamma(2, 4 km) around People's Square."""
    for _ in range(_MAX_TRIES):
        radius = -_RADIUS_SCALE_M * math.log((1.0 - rng.random()) * (1.0 - rng.random()))
        bearing = rng.uniform(0.0, 2.0 * math.pi)
        lon, lat = offset(CENTER, radius * math.sin(bearing), radius * math.cos(bearing))
        if on_land(lon, lat):
            return (lon, lat)
    return CENTER


Bend = Callable[[random.Random], float]


def walk(
    rng: random.Random,
    start: Position,
    heading: float,
    length_m: float,
    n_vertices: int,
    bend: Bend,
) -> list[Position]:
    """A polyline of ``n_vertices`` from ``start``, turning by ``bend`` at each inner vertex."""
    weights = [rng.uniform(0.6, 1.4) for _ in range(n_vertices - 1)]
    total = sum(weights)
    points = [start]
    for i, weight in enumerate(weights):
        if i:
            heading += bend(rng)
        step = length_m * weight / total
        points.append(offset(points[-1], step * math.sin(heading), step * math.cos(heading)))
    return points


def gentle(sd_deg: float, limit_deg: float) -> Bend:
    """A bend that turns by a normal angle of ``sd_deg``, clipped at ``limit_deg``."""
    sd, limit = math.radians(sd_deg), math.radians(limit_deg)

    def bend(rng: random.Random) -> float:
        return max(-limit, min(limit, rng.gauss(0.0, sd)))

    return bend


def street_grid(rng: random.Random) -> float:
    """Pipes and cables follow streets: mostly straight, sometimes a corner."""
    if rng.random() < 0.25:
        return math.copysign(math.pi / 2, rng.random() - 0.5) + rng.gauss(0.0, math.radians(5))
    return rng.gauss(0.0, math.radians(8))


def arterial_bend(rng: random.Random) -> float:
    """Arterials run straight with an occasional kink of 20-40 degrees."""
    if rng.random() < 0.15:
        return math.copysign(rng.uniform(math.radians(20), math.radians(40)), rng.random() - 0.5)
    return rng.gauss(0.0, math.radians(4))


def place_line(
    rng: random.Random,
    lo_m: float,
    hi_m: float,
    max_vertices: int,
    bend: Bend,
    min_vertices: int = 2,
) -> list[list[float]]:
    """A line of length in [lo_m, hi_m] with all vertices on land.

    Retries with a new start; the last try starts at People's Square, from where
    any line up to 12 km long stays on land.
    """
    coords: list[list[float]] = []
    for attempt in range(_MAX_TRIES):
        start = sample_point(rng) if attempt < _MAX_TRIES - 1 else CENTER
        length = log_uniform(rng, lo_m * _LENGTH_MARGIN, hi_m / _LENGTH_MARGIN)
        most = max(min_vertices, min(max_vertices, 2 + int(length // 400)))
        n_vertices = rng.randint(min_vertices, most)
        heading = rng.uniform(0.0, 2.0 * math.pi)
        coords = rounded(walk(rng, start, heading, length, n_vertices, bend))
        if all_on_land(coords):
            break
    return coords


def huangpu_crossing(
    rng: random.Random, lo_m: float, hi_m: float, max_vertices: int, bend: Bend
) -> list[list[float]]:
    """A line crossing the downtown Huangpu roughly at right angles, centred on the river."""
    i = rng.randrange(len(HUANGPU_DOWNTOWN) - 1)
    a, b = HUANGPU_DOWNTOWN[i], HUANGPU_DOWNTOWN[i + 1]
    t = rng.random()
    middle = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
    heading = bearing(a, b) + math.pi / 2 + rng.gauss(0.0, math.radians(8))
    if rng.random() < 0.5:
        heading += math.pi  # either bank first
    length = rng.uniform(lo_m * _LENGTH_MARGIN, hi_m / _LENGTH_MARGIN)
    n_vertices = rng.randint(2, max_vertices)
    start = offset(middle, -0.5 * length * math.sin(heading), -0.5 * length * math.cos(heading))
    return rounded(walk(rng, start, heading, length, n_vertices, bend))


def polygon_ring(center: Position, corners_m: Sequence[tuple[float, float]]) -> list[list[float]]:
    """A closed ring (first position repeated last) from (east, north) offsets in metres."""
    ring = rounded(offset(center, east, north) for east, north in corners_m)
    ring.append(list(ring[0]))
    return ring


def rotate(east: float, north: float, angle: float) -> tuple[float, float]:
    """Rotate (east, north) by ``angle`` radians counter-clockwise."""
    c, s = math.cos(angle), math.sin(angle)
    return (east * c - north * s, east * s + north * c)


def place_polygon(
    rng: random.Random, corners: Callable[[random.Random], list[tuple[float, float]]]
) -> list[list[float]]:
    """A ring of ``corners`` (metres from its centre) around a random point on land."""
    ring: list[list[float]] = []
    for attempt in range(_MAX_TRIES):
        center = sample_point(rng) if attempt < _MAX_TRIES - 1 else CENTER
        ring = polygon_ring(center, corners(rng))
        if all_on_land(ring):
            break
    return ring
