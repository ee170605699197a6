"""Benchmark the asset registry: build 100k assets, match 20k hotline cases.

Run from the repository root::

    .venv/bin/python benchmarks/bench_matching.py [--assets N] [--cases N] [--json PATH]

The assets are random LineStrings (pipes, cables, roads, bridges), Polygons
(plazas, malls) and Points (metro stations) over a 50 km box around Shanghai;
the cases are random positions in the same box with random service codes.
Prints the numbers and writes them as JSON (``bench-*.json`` is git-ignored).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas import Asset
from streams.engine.registry import FITTING_ASSETS, AssetRegistry

CENTER_LAT = 31.23
CENTER_LON = 121.47
BOX_M = 50_000.0
M_PER_DEG_LAT = 110_850.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(CENTER_LAT))

# (asset_type, subtype, shape, weight)
MIX: list[tuple[str, str, str, float]] = [
    ("lifeline_corridor", "water_main", "line", 0.20),
    ("lifeline_corridor", "gas_main", "line", 0.12),
    ("lifeline_corridor", "power_cable", "line", 0.12),
    ("lifeline_corridor", "heat_pipe", "line", 0.06),
    ("lifeline_corridor", "bridge", "line", 0.03),
    ("lifeline_corridor", "tunnel", "line", 0.02),
    ("traffic_trunk", "expressway", "line", 0.05),
    ("traffic_trunk", "arterial_road", "line", 0.15),
    ("crowded_place", "plaza", "polygon", 0.10),
    ("crowded_place", "shopping_mall", "polygon", 0.05),
    ("crowded_place", "metro_station", "point", 0.10),
]


def _offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    return (lat + north_m / M_PER_DEG_LAT, lon + east_m / M_PER_DEG_LON)


def _random_position(rng: random.Random) -> tuple[float, float]:
    half = BOX_M / 2
    return _offset(CENTER_LAT, CENTER_LON, rng.uniform(-half, half), rng.uniform(-half, half))


def _line(rng: random.Random) -> list[list[float]]:
    lat, lon = _random_position(rng)
    heading = rng.uniform(0, 2 * math.pi)
    coords = [[lon, lat]]
    for _ in range(rng.randint(1, 6)):
        heading += rng.uniform(-0.5, 0.5)
        step = rng.uniform(100.0, 800.0)
        lat, lon = _offset(lat, lon, step * math.sin(heading), step * math.cos(heading))
        coords.append([lon, lat])
    return coords


def _polygon(rng: random.Random) -> list[list[list[float]]]:
    lat, lon = _random_position(rng)
    vertices = rng.randint(4, 10)
    mean_r = rng.uniform(20.0, 200.0)
    ring = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = mean_r * rng.uniform(0.6, 1.0)
        v_lat, v_lon = _offset(lat, lon, r * math.sin(angle), r * math.cos(angle))
        ring.append([v_lon, v_lat])
    ring.append(ring[0])
    return [ring]


def make_assets(count: int, rng: random.Random) -> list[Asset]:
    """Build ``count`` random assets following :data:`MIX`."""
    weights = [w for *_, w in MIX]
    assets = []
    for i, (asset_type, subtype, shape, _) in enumerate(rng.choices(MIX, weights, k=count)):
        geometry: dict[str, Any]
        if shape == "line":
            geometry = {"type": "LineString", "coordinates": _line(rng)}
        elif shape == "polygon":
            geometry = {"type": "Polygon", "coordinates": _polygon(rng)}
        else:
            lat, lon = _random_position(rng)
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        assets.append(
            Asset.model_validate(
                {
                    "asset_id": f"{subtype}-{i:06d}",
                    "asset_type": asset_type,
                    "subtype": subtype,
                    "name": f"{subtype} {i}",
                    "capacity": 2000.0 if asset_type == "crowded_place" else None,
                    "geometry": geometry,
                }
            )
        )
    return assets


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--radius", type=float, default=500.0)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--json", type=Path, default=Path("bench-matching.json"))
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)  # noqa: S311 - reproducible test data, not secrets
    started = time.perf_counter()
    assets = make_assets(args.assets, rng)
    generate_s = time.perf_counter() - started

    started = time.perf_counter()
    registry = AssetRegistry(assets)
    build_s = time.perf_counter() - started

    codes = [*FITTING_ASSETS, "other"]
    cases = [(*_random_position(rng), rng.choice(codes)) for _ in range(args.cases)]
    matched = 0
    started = time.perf_counter()
    for lat, lon, code in cases:
        if registry.match_case(lat, lon, code, args.radius) is not None:
            matched += 1
    match_s = time.perf_counter() - started

    started = time.perf_counter()
    registry.with_assets([assets[0].model_copy(update={"name": "renamed"})])
    update_s = time.perf_counter() - started

    report = {
        "assets": len(registry),
        "build_s": round(build_s, 3),
        "cases": len(cases),
        "radius_m": args.radius,
        "match_s": round(match_s, 3),
        "matches_per_s": round(len(cases) / match_s, 1),
        "matched_fraction": round(matched / len(cases), 4),
        "single_update_s": round(update_s, 3),
    }
    print(f"generated {args.assets} assets in {generate_s:.2f} s (not timed below)")
    print(f"build registry: {report['build_s']} s for {report['assets']} assets")
    print(
        f"match {report['cases']} cases (radius {args.radius:g} m): {report['match_s']} s, "
        f"{report['matches_per_s']} cases/s, matched fraction {report['matched_fraction']}"
    )
    print(f"with_assets (one changed asset, full rebuild): {report['single_update_s']} s")
    args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
