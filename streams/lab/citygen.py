"""A deterministic synthetic asset registry laid out over Shanghai.

The generator draws lifeline corridors, traffic trunks and crowded places over
Shanghai's real urban area (WGS84, ``[lon, lat]``), denser toward People's
Square, and names them after real roads, river crossings and metro stations of
the district each one falls in. Output depends only on ``(n_assets, seed)``;
a registry of any size is produced lazily and written as a streamed GeoJSON
FeatureCollection.

Pure Python: only :class:`random.Random`, pydantic models from :mod:`schemas`
and orjson. Nothing here imports faust, kafka or prometheus.

Example:
    ``python -m streams.lab.citygen --assets 400 --seed 1 --out shanghai-sample.geojson``
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

from schemas._assets import Asset, AssetType, Geometry, GeometryType
from streams.lab.cityshape import (
    HUANGPU_BRIDGES,
    HUANGPU_TUNNELS,
    NAMES,
    PlaceNames,
    arterial_bend,
    district_at,
    gentle,
    huangpu_crossing,
    place_line,
    place_polygon,
    rotate,
    rounded,
    sample_point,
    street_grid,
)
from streams.lab.geojson import write_geojson

SUBTYPES: dict[str, tuple[str, ...]] = {
    "lifeline_corridor": ("water_main", "gas_main", "power_cable", "heat_pipe", "bridge", "tunnel"),
    "traffic_trunk": ("expressway", "arterial"),
    "crowded_place": ("metro_station", "square", "transit_hub"),
}
"""The subtypes the generator emits, keyed by asset type."""

TYPE_SHARES: dict[str, float] = {
    "lifeline_corridor": 0.50,
    "traffic_trunk": 0.25,
    "crowded_place": 0.25,
}
"""Share of each asset type in a registry."""

SUBTYPE_SHARES: dict[str, float] = {
    "water_main": 0.35,
    "gas_main": 0.25,
    "power_cable": 0.20,
    "heat_pipe": 0.08,
    "bridge": 0.06,
    "tunnel": 0.06,
    "expressway": 0.30,
    "arterial": 0.70,
    "metro_station": 0.60,
    "square": 0.25,
    "transit_hub": 0.15,
}
"""Share of each subtype within its asset type."""

ID_PREFIXES: dict[str, str] = {
    "water_main": "wm",
    "gas_main": "gm",
    "power_cable": "pc",
    "heat_pipe": "hp",
    "bridge": "br",
    "tunnel": "tn",
    "expressway": "ex",
    "arterial": "ar",
    "metro_station": "ms",
    "square": "sq",
    "transit_hub": "th",
}
"""The ``asset_id`` prefix of each subtype (ids look like ``wm-000123``)."""

CAPACITY_RANGES: dict[str, tuple[int, int]] = {
    "metro_station": (2_000, 20_000),
    "square": (5_000, 60_000),
    "transit_hub": (10_000, 80_000),
}
"""Inclusive capacity range (people) of each crowded-place subtype."""

_WATER_DN = (300, 400, 500, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000)
_GAS_DN = (100, 150, 200, 300, 400, 500, 700)
_GAS_PRESSURES = ("low-pressure", "medium-pressure", "high-pressure")
_HEAT_DN = (150, 200, 300, 400, 500, 600)
_CABLE_KV = (10, 35, 110, 220)


def _capacity(rng: random.Random, subtype: str) -> float:
    lo, hi = CAPACITY_RANGES[subtype]
    return float(rng.randrange(lo // 100, hi // 100 + 1) * 100)


# --- one asset per subtype --------------------------------------------------------


class _Drawn(NamedTuple):
    geometry_type: GeometryType
    coordinates: list[Any]
    name: str
    district: str
    capacity: float | None = None


def _district_names(coords: Sequence[float]) -> tuple[str, PlaceNames]:
    district = district_at(coords[0], coords[1])
    return district, NAMES[district]


def _street_corridor(rng: random.Random, label: Callable[[PlaceNames], str]) -> _Drawn:
    """A pipe or cable along streets, named by ``label`` from its district's names."""
    line = place_line(rng, 300, 5_000, 8, street_grid)
    district, names = _district_names(line[0])
    return _Drawn("LineString", line, label(names), district)


def _water_main(rng: random.Random) -> _Drawn:
    return _street_corridor(
        rng, lambda names: f"{rng.choice(names.roads)} water main DN{rng.choice(_WATER_DN)}"
    )


def _gas_main(rng: random.Random) -> _Drawn:
    def label(names: PlaceNames) -> str:
        road, pressure = rng.choice(names.roads), rng.choice(_GAS_PRESSURES)
        return f"{road} {pressure} gas main DN{rng.choice(_GAS_DN)}"

    return _street_corridor(rng, label)


def _power_cable(rng: random.Random) -> _Drawn:
    return _street_corridor(
        rng, lambda names: f"{rng.choice(names.roads)} {rng.choice(_CABLE_KV)} kV cable"
    )


def _heat_pipe(rng: random.Random) -> _Drawn:
    return _street_corridor(
        rng, lambda names: f"{rng.choice(names.roads)} heat pipe DN{rng.choice(_HEAT_DN)}"
    )


def _bridge(rng: random.Random) -> _Drawn:
    straight = gentle(2.0, 5.0)
    if rng.random() < 0.6:
        line = huangpu_crossing(rng, 700, 1_500, 3, straight)
        district = district_at(line[0][0], line[0][1])
        return _Drawn("LineString", line, rng.choice(HUANGPU_BRIDGES), district)
    line = place_line(rng, 200, 600, 3, straight)
    district, names = _district_names(line[0])
    return _Drawn("LineString", line, f"{rng.choice(names.roads)} Bridge", district)


def _tunnel(rng: random.Random) -> _Drawn:
    if rng.random() < 0.5:
        line = huangpu_crossing(rng, 1_200, 3_000, 4, gentle(6.0, 20.0))
        district = district_at(line[0][0], line[0][1])
        return _Drawn("LineString", line, rng.choice(HUANGPU_TUNNELS), district)
    line = place_line(rng, 300, 5_000, 5, gentle(10.0, 30.0))
    district, names = _district_names(line[0])
    return _Drawn("LineString", line, f"{rng.choice(names.roads)} utility tunnel", district)


def _expressway(rng: random.Random) -> _Drawn:
    line = place_line(rng, 2_000, 12_000, 8, gentle(12.0, 45.0), min_vertices=3)
    district, names = _district_names(line[0])
    return _Drawn(
        "LineString", line, f"{rng.choice(names.expressways)}, {district} section", district
    )


def _arterial(rng: random.Random) -> _Drawn:
    line = place_line(rng, 800, 5_000, 8, arterial_bend)
    district, names = _district_names(line[0])
    road, start, end = rng.sample(names.roads, 3)
    return _Drawn("LineString", line, f"{road} ({start} to {end})", district)


def _metro_station(rng: random.Random) -> _Drawn:
    point = rounded([sample_point(rng)])[0]
    district, names = _district_names(point)
    name = f"{rng.choice(names.stations)} metro station"
    return _Drawn("Point", point, name, district, _capacity(rng, "metro_station"))


def _square(rng: random.Random) -> _Drawn:
    capacity = _capacity(rng, "square")

    def corners(rng: random.Random) -> list[tuple[float, float]]:
        # 1.2-2 people per square metre; a rectangle of aspect 1-2: 70-355 m corner to corner.
        area = capacity / rng.uniform(1.2, 2.0)
        aspect = rng.uniform(1.0, 2.0)
        half_w, half_h = math.sqrt(area * aspect) / 2, math.sqrt(area / aspect) / 2
        angle = rng.uniform(0.0, math.pi / 2)
        box = ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h))
        return [rotate(east, north, angle) for east, north in box]  # counter-clockwise

    ring = place_polygon(rng, corners)
    district, names = _district_names(ring[0])
    place = rng.choice(names.stations)
    name = place if place.endswith("Square") else f"{place} {rng.choice(('Square', 'Plaza'))}"
    return _Drawn("Polygon", [ring], name, district, capacity)


def _transit_hub(rng: random.Random) -> _Drawn:
    capacity = _capacity(rng, "transit_hub")

    def corners(rng: random.Random) -> list[tuple[float, float]]:
        # 1.5-3 people per square metre over an ellipse-like hall 70-390 m across.
        ratio = rng.uniform(0.5, 1.0)
        semi_major = math.sqrt(capacity / rng.uniform(1.5, 3.0) / (math.pi * ratio))
        semi_major = max(35.0, min(195.0, semi_major))
        n = rng.randint(6, 8)
        angle = rng.uniform(0.0, math.pi)
        points = []
        for i in range(n):
            theta = 2 * math.pi * i / n + rng.uniform(-0.2, 0.2) * math.pi / n
            east, north = semi_major * math.cos(theta), semi_major * ratio * math.sin(theta)
            points.append(rotate(east, north, angle))
        return points  # counter-clockwise

    ring = place_polygon(rng, corners)
    district, names = _district_names(ring[0])
    name = f"{rng.choice(names.stations)} transit hub"
    return _Drawn("Polygon", [ring], name, district, capacity)


_BUILDERS: dict[str, Callable[[random.Random], _Drawn]] = {
    "water_main": _water_main,
    "gas_main": _gas_main,
    "power_cable": _power_cable,
    "heat_pipe": _heat_pipe,
    "bridge": _bridge,
    "tunnel": _tunnel,
    "expressway": _expressway,
    "arterial": _arterial,
    "metro_station": _metro_station,
    "square": _square,
    "transit_hub": _transit_hub,
}


@dataclass(frozen=True)
class _Kind:
    asset_type: AssetType
    subtype: str
    weight: float


_KINDS: tuple[_Kind, ...] = tuple(
    _Kind(cast(AssetType, asset_type), subtype, TYPE_SHARES[asset_type] * SUBTYPE_SHARES[subtype])
    for asset_type, subtypes in SUBTYPES.items()
    for subtype in subtypes
)


def _next_kind(counts: Sequence[int], emitted: int) -> int:
    """The kind furthest behind its quota once ``emitted + 1`` assets exist."""
    k = emitted + 1
    best, best_gap = 0, -math.inf
    for i, kind in enumerate(_KINDS):
        gap = kind.weight * k - counts[i]
        if gap > best_gap:
            best, best_gap = i, gap
    return best


def _make_asset(rng: random.Random, kind: _Kind, number: int) -> Asset:
    drawn = _BUILDERS[kind.subtype](rng)
    return Asset(
        asset_id=f"{ID_PREFIXES[kind.subtype]}-{number:06d}",
        asset_type=kind.asset_type,
        subtype=kind.subtype,
        name=drawn.name,
        capacity=drawn.capacity,
        district=drawn.district,
        geometry=Geometry(type=drawn.geometry_type, coordinates=drawn.coordinates),
    )


def _generate(n_assets: int, seed: int) -> Iterator[Asset]:
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    # One of each subtype first (in a seeded order) so every subtype shows up in
    # any registry of at least 11 assets; then whichever subtype lags furthest
    # behind its share, which keeps the mix within one asset of the quotas.
    prelude = list(range(len(_KINDS)))
    rng.shuffle(prelude)
    counts = [0] * len(_KINDS)
    for emitted in range(n_assets):
        index = prelude[emitted] if emitted < len(prelude) else _next_kind(counts, emitted)
        counts[index] += 1
        yield _make_asset(rng, _KINDS[index], counts[index])


def generate_registry(n_assets: int, seed: int) -> Iterator[Asset]:
    """Lazily generate a synthetic Shanghai asset registry.

    Assets are drawn one at a time (constant memory, whatever ``n_assets``).
    The output depends only on ``(n_assets, seed)``; the first ``k`` assets of
    a registry are the same for every ``n_assets >= k``. Shares follow
    :data:`TYPE_SHARES` and :data:`SUBTYPE_SHARES`, and every subtype appears
    once ``n_assets >= 11``. Ids are ``<prefix>-<number>`` with the prefix from
    :data:`ID_PREFIXES`, numbered from 1 within each subtype.

    Args:
        n_assets: How many assets to generate (zero or more).
        seed: Seed of the generator's private :class:`random.Random`.

    Returns:
        A generator of validated assets.

    Raises:
        ValueError: If ``n_assets`` is negative.
    """
    if n_assets < 0:
        raise ValueError(f"n_assets must be zero or more, not {n_assets}")
    return _generate(n_assets, seed)


# --- command line -----------------------------------------------------------------


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a registry and write it as GeoJSON (``python -m streams.lab.citygen``).

    Args:
        argv: Command-line arguments without the program name; ``sys.argv`` if None.

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m streams.lab.citygen",
        description="Write a deterministic synthetic Shanghai asset registry as GeoJSON.",
    )
    parser.add_argument("--assets", type=_non_negative, default=400, help="number of assets")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument(
        "--out", required=True, help="output file ('.gz' compresses; '-' for stdout)"
    )
    args = parser.parse_args(argv)
    assets = generate_registry(args.assets, args.seed)
    if args.out == "-":
        count = write_geojson(assets, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        count = write_geojson(assets, out)
    print(f"wrote {count} assets to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
