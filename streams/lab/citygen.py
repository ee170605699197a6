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
import gzip
import itertools
import math
import os
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol, cast

import orjson

from schemas._assets import Asset, AssetType, Geometry, GeometryType

Position = tuple[float, float]
"""A WGS84 position as ``(lon, lat)`` in degrees."""

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

# The Huangpu as (lat, lon) with latitude strictly increasing: crude, but good enough
# to tell Pudong from Puxi. South of 31.05 the real river turns west; we ignore that.
_RIVER_BY_LAT: tuple[tuple[float, float], ...] = (
    (30.950, 121.470),
    (31.050, 121.470),
    (31.100, 121.475),
    (31.140, 121.470),
    (31.170, 121.465),
    (31.190, 121.478),
    (31.208, 121.497),
    (31.222, 121.502),
    (31.236, 121.494),
    (31.246, 121.492),
    (31.251, 121.505),
    (31.255, 121.525),
    (31.262, 121.540),
    (31.285, 121.555),
    (31.320, 121.555),
    (31.360, 121.530),
    (31.390, 121.505),
    (31.450, 121.505),
)

# The downtown Huangpu, Longhua to Yangpu Bridge, as (lon, lat): where bridges and
# river tunnels cross.
_HUANGPU_DOWNTOWN: tuple[Position, ...] = (
    (121.468, 31.180),
    (121.480, 31.193),
    (121.497, 31.208),
    (121.502, 31.222),
    (121.494, 31.236),
    (121.492, 31.246),
    (121.505, 31.251),
    (121.525, 31.255),
    (121.540, 31.262),
)

# The Yangtze estuary shore as (lon, lat), longitude increasing: north-east of it is water.
_SHORE_BY_LON: tuple[tuple[float, float], ...] = (
    (121.20, 31.62),
    (121.38, 31.48),
    (121.49, 31.415),
    (121.52, 31.39),
    (121.60, 31.37),
    (121.68, 31.32),
    (121.76, 31.25),
    (121.80, 31.20),
)

# Rough centres of each district's built-up parts, (district, lon, lat).
_ANCHORS: tuple[tuple[str, float, float], ...] = (
    ("Huangpu", 121.478, 31.232),
    ("Huangpu", 121.490, 31.215),
    ("Huangpu", 121.468, 31.208),
    ("Xuhui", 121.437, 31.195),
    ("Xuhui", 121.440, 31.160),
    ("Xuhui", 121.455, 31.175),
    ("Changning", 121.420, 31.220),
    ("Changning", 121.380, 31.210),
    ("Changning", 121.345, 31.195),
    ("Jing'an", 121.448, 31.228),
    ("Jing'an", 121.455, 31.255),
    ("Jing'an", 121.455, 31.285),
    ("Putuo", 121.400, 31.245),
    ("Putuo", 121.370, 31.260),
    ("Putuo", 121.410, 31.275),
    ("Hongkou", 121.490, 31.258),
    ("Hongkou", 121.485, 31.280),
    ("Hongkou", 121.490, 31.310),
    ("Yangpu", 121.525, 31.270),
    ("Yangpu", 121.514, 31.299),
    ("Yangpu", 121.540, 31.300),
    ("Pudong", 121.510, 31.235),
    ("Pudong", 121.545, 31.225),
    ("Pudong", 121.560, 31.200),
    ("Pudong", 121.600, 31.210),
    ("Pudong", 121.590, 31.270),
    ("Pudong", 121.600, 31.320),
    ("Pudong", 121.520, 31.170),
    ("Pudong", 121.560, 31.120),
    ("Pudong", 121.650, 31.150),
    ("Pudong", 121.740, 31.120),
    ("Pudong", 121.600, 31.030),
    ("Minhang", 121.380, 31.110),
    ("Minhang", 121.380, 31.160),
    ("Minhang", 121.320, 31.200),
    ("Minhang", 121.430, 31.030),
    ("Minhang", 121.510, 31.050),
    ("Baoshan", 121.490, 31.400),
    ("Baoshan", 121.440, 31.340),
    ("Baoshan", 121.400, 31.370),
)


@dataclass(frozen=True)
class _Names:
    roads: tuple[str, ...]
    stations: tuple[str, ...]
    expressways: tuple[str, ...]


_NAMES: dict[str, _Names] = {
    "Huangpu": _Names(
        roads=(
            "Huaihai Rd",
            "Nanjing East Rd",
            "Xizang Middle Rd",
            "Fuzhou Rd",
            "Jinling East Rd",
            "Henan Middle Rd",
            "Zhongshan East 1st Rd",
            "Renmin Rd",
            "Fuxing Middle Rd",
            "Sichuan Middle Rd",
            "Ruijin 1st Rd",
            "Dapu Rd",
            "Luban Rd",
            "Xujiahui Rd",
        ),
        stations=(
            "People's Square",
            "East Nanjing Road",
            "Yuyuan Garden",
            "South Huangpi Road",
            "Xintiandi",
            "Laoximen",
            "Dashijie",
            "Madang Road",
            "Lujiabang Road",
            "Xiaonanmen",
            "South Xizang Road",
            "Dapuqiao",
        ),
        expressways=("Yan'an Elevated Rd", "North-South Elevated Rd", "Inner Ring Elevated Rd"),
    ),
    "Xuhui": _Names(
        roads=(
            "Hengshan Rd",
            "Zhaojiabang Rd",
            "Caoxi North Rd",
            "Tianyaoqiao Rd",
            "Longhua Middle Rd",
            "Xietu Rd",
            "Wanping South Rd",
            "Guilin Rd",
            "Yishan Rd",
            "Longwu Rd",
            "Hongcao Rd",
            "Caobao Rd",
            "Wukang Rd",
            "Huashan Rd",
            "Fenglin Rd",
        ),
        stations=(
            "Xujiahui",
            "Hengshan Road",
            "Shanghai Indoor Stadium",
            "Shanghai South Railway Station",
            "Longcao Road",
            "Caobao Road",
            "Guilin Road",
            "Yishan Road",
            "Longhua",
            "Longhua Middle Road",
            "Shanghai Stadium",
            "Zhaojiabang Road",
            "Jiaotong University",
            "Changshu Road",
        ),
        expressways=(
            "Inner Ring Elevated Rd",
            "Middle Ring Rd",
            "Humin Elevated Rd",
            "North-South Elevated Rd",
        ),
    ),
    "Changning": _Names(
        roads=(
            "Yan'an West Rd",
            "Hongqiao Rd",
            "Tianshan Rd",
            "Changning Rd",
            "Xianxia Rd",
            "Gubei Rd",
            "Zhongshan West Rd",
            "Loushanguan Rd",
            "Yuyuan Rd",
            "Wuyi Rd",
            "Jiangsu Rd",
            "Fahuazhen Rd",
            "Hami Rd",
            "Jinzhong Rd",
        ),
        stations=(
            "Zhongshan Park",
            "Jiangsu Road",
            "Loushanguan Road",
            "West Yan'an Road",
            "Hongqiao Road",
            "Songyuan Road",
            "Shuicheng Road",
            "Yili Road",
            "Weining Road",
            "Beixinjing",
            "Hongqiao Airport Terminal 1",
            "Longxi Road",
        ),
        expressways=(
            "Yan'an Elevated Rd",
            "Inner Ring Elevated Rd",
            "Middle Ring Rd",
            "Outer Ring Expwy",
        ),
    ),
    "Jing'an": _Names(
        roads=(
            "Nanjing West Rd",
            "Yan'an Middle Rd",
            "Xinzha Rd",
            "Beijing West Rd",
            "Wanhangdu Rd",
            "Gonghexin Rd",
            "Zhonghuaxin Rd",
            "Tianmu West Rd",
            "Hengfeng Rd",
            "Julu Rd",
            "Changde Rd",
            "Shaanxi North Rd",
            "Changping Rd",
            "Xikang Rd",
            "Wenshui Rd",
            "Guangzhong West Rd",
        ),
        stations=(
            "Jing'an Temple",
            "West Nanjing Road",
            "Changping Road",
            "Shanghai Railway Station",
            "Hanzhong Road",
            "Xinzha Road",
            "Yanchang Road",
            "Shanghai Circus World",
            "Wenshui Road",
            "Pengpu Xincun",
            "Zhongxing Road",
            "Qufu Road",
        ),
        expressways=(
            "Yan'an Elevated Rd",
            "North-South Elevated Rd",
            "Inner Ring Elevated Rd",
            "Middle Ring Rd",
        ),
    ),
    "Putuo": _Names(
        roads=(
            "Changshou Rd",
            "Caoyang Rd",
            "Zhenbei Rd",
            "Jinshajiang Rd",
            "Wuning Rd",
            "Zhongshan North Rd",
            "Tongchuan Rd",
            "Meichuan Rd",
            "Daduhe Rd",
            "Qilianshan Rd",
            "Zhenguang Rd",
            "Lanxi Rd",
            "Wuwei Rd",
        ),
        stations=(
            "Caoyang Road",
            "Zhenping Road",
            "Zhongtan Road",
            "Jinshajiang Road",
            "Changfeng Park",
            "Zhenru",
            "Wuwei Road",
            "Qilianshan Road",
            "Lishui Road",
            "Fengqiao Road",
            "Changshou Road",
            "Wuning Road",
        ),
        expressways=(
            "Inner Ring Elevated Rd",
            "Middle Ring Rd",
            "Outer Ring Expwy",
            "Hujia Expwy",
        ),
    ),
    "Hongkou": _Names(
        roads=(
            "North Sichuan Rd",
            "Quyang Rd",
            "Dalian Rd",
            "Siping Rd",
            "Zhoujiazui Rd",
            "Tiantong Rd",
            "Wusong Rd",
            "Liangcheng Rd",
            "Handan Rd",
            "Dongjiangwan Rd",
            "Changzhi Rd",
            "Guangzhong Rd",
            "Hailun Rd",
        ),
        stations=(
            "Hongkou Football Stadium",
            "Dongbaoxing Road",
            "Quyang Road",
            "Tiantong Road",
            "North Sichuan Road",
            "Hailun Road",
            "Baoshan Road",
            "Youdian Xincun",
            "Linping Road",
            "Chifeng Road",
            "Jiangwan Town",
            "Dalian Road",
        ),
        expressways=("Inner Ring Elevated Rd", "Middle Ring Rd", "Yixian Elevated Rd"),
    ),
    "Yangpu": _Names(
        roads=(
            "Yangshupu Rd",
            "Huangxing Rd",
            "Kongjiang Rd",
            "Guoding Rd",
            "Songhu Rd",
            "Xiangyin Rd",
            "Anshan Rd",
            "Pingliang Rd",
            "Changyang Rd",
            "Jungong Rd",
            "Ningguo Rd",
            "Zhengli Rd",
            "Siping Rd",
            "Guoquan Rd",
        ),
        stations=(
            "Wujiaochang",
            "Jiangwan Stadium",
            "Tongji University",
            "Guoquan Road",
            "Yangshupu Road",
            "Ningguo Road",
            "Longchang Road",
            "Xinjiangwancheng",
            "Anshan Xincun",
            "Jiangpu Park",
            "Huangxing Park",
            "Yanji Middle Road",
        ),
        expressways=("Inner Ring Elevated Rd", "Middle Ring Rd", "Jungong Rd Elevated"),
    ),
    "Pudong": _Names(
        roads=(
            "Century Ave",
            "Zhangyang Rd",
            "Pudong Ave",
            "Yanggao Middle Rd",
            "Dongfang Rd",
            "Pudong South Rd",
            "Longyang Rd",
            "Jinqiao Rd",
            "Yunshan Rd",
            "Zhangjiang Rd",
            "Yincheng Rd",
            "Huamu Rd",
            "Jinke Rd",
            "Chuansha Rd",
            "Shangnan Rd",
            "Luoshan Rd",
            "Linyi Rd",
            "Jinxiu Rd",
        ),
        stations=(
            "Lujiazui",
            "Century Avenue",
            "Dongchang Road",
            "Science and Technology Museum",
            "Century Park",
            "Longyang Road",
            "Zhangjiang High Technology Park",
            "Jinqiao Road",
            "Yanggao Middle Road",
            "Oriental Sports Center",
            "Lancun Road",
            "Pudian Road",
            "Tangqiao",
            "Jinke Road",
        ),
        expressways=(
            "Inner Ring Elevated Rd",
            "Middle Ring Rd",
            "Outer Ring Expwy",
            "Luoshan Elevated Rd",
            "S1 Yingbin Expwy",
        ),
    ),
    "Minhang": _Names(
        roads=(
            "Humin Rd",
            "Qixin Rd",
            "Gudai Rd",
            "Lianhua South Rd",
            "Jianchuan Rd",
            "Dongchuan Rd",
            "Wuzhong Rd",
            "Hongxin Rd",
            "Longming Rd",
            "Jinhui Rd",
            "Xinzhen Rd",
            "Shenchang Rd",
        ),
        stations=(
            "Xinzhuang",
            "Waihuanlu",
            "Lianhua Road",
            "Jinjiang Park",
            "Chunshen Road",
            "Yindu Road",
            "Zhuanqiao",
            "Jiangchuan Road",
            "Qibao",
            "Hongqiao Railway Station",
            "Ziteng Road",
            "Longbai Xincun",
        ),
        expressways=(
            "Outer Ring Expwy",
            "Humin Elevated Rd",
            "Middle Ring Rd",
            "G60 Hukun Expwy",
            "S4 Hujin Expwy",
        ),
    ),
    "Baoshan": _Names(
        roads=(
            "Youyi Rd",
            "Mudanjiang Rd",
            "Tongji Rd",
            "Hutai Rd",
            "Shuichan Rd",
            "Changjiang West Rd",
            "Gongfu Rd",
            "Gongkang Rd",
            "Hulan Rd",
            "Songbin Rd",
            "Baoyang Rd",
            "Panguang Rd",
        ),
        stations=(
            "Gongfu Xincun",
            "Hulan Road",
            "Tonghe Xincun",
            "Gongkang Road",
            "Youyi Road",
            "Baoyang Road",
            "Shuichan Road",
            "Songbin Road",
            "Zhanghuabang",
            "Songfa Road",
            "Gucun Park",
            "Shanghai University",
        ),
        expressways=("Outer Ring Expwy", "Yixian Elevated Rd", "Middle Ring Rd"),
    ),
}

_HUANGPU_BRIDGES = ("Nanpu Bridge", "Lupu Bridge", "Yangpu Bridge")
_HUANGPU_TUNNELS = (
    "Yan'an East Rd Tunnel",
    "Dalian Rd Tunnel",
    "Xinjian Rd Tunnel",
    "Renmin Rd Tunnel",
    "Fuxing Rd Tunnel",
    "Dapu Rd Tunnel",
    "Xizang South Rd Tunnel",
    "Zhoujiazui Rd Tunnel",
    "Longyao Rd Tunnel",
    "Shangzhong Rd Tunnel",
)
_WATER_DN = (300, 400, 500, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000)
_GAS_DN = (100, 150, 200, 300, 400, 500, 700)
_GAS_PRESSURES = ("low-pressure", "medium-pressure", "high-pressure")
_HEAT_DN = (150, 200, 300, 400, 500, 600)
_CABLE_KV = (10, 35, 110, 220)


# --- geometry helpers -------------------------------------------------------------


def _interpolate(table: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear ``y(x)`` over ``(x, y)`` rows sorted by x, constant beyond the ends."""
    if x <= table[0][0]:
        return table[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(table):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


def _east_of_huangpu(lon: float, lat: float) -> bool:
    return lon > _interpolate(_RIVER_BY_LAT, lat)


def _on_land(lon: float, lat: float) -> bool:
    """Whether a position is inside the generator's box and not in the Yangtze estuary."""
    if not (LON_RANGE[0] <= lon <= LON_RANGE[1] and LAT_RANGE[0] <= lat <= LAT_RANGE[1]):
        return False
    return lat <= _interpolate(_SHORE_BY_LON, lon)


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
    east = _east_of_huangpu(lon, lat)
    k = math.cos(math.radians(lat))
    best, best_d2 = "Huangpu", math.inf
    for name, a_lon, a_lat in _ANCHORS:
        if _east_of_huangpu(a_lon, a_lat) != east:
            continue
        d2 = ((lon - a_lon) * k) ** 2 + (lat - a_lat) ** 2
        if d2 < best_d2:
            best, best_d2 = name, d2
    return best


def _offset(origin: Position, east_m: float, north_m: float) -> Position:
    lon, lat = origin
    return (
        lon + east_m / (_M_PER_DEG * math.cos(math.radians(lat))),
        lat + north_m / _M_PER_DEG,
    )


def _bearing(a: Position, b: Position) -> float:
    """Bearing from a to b in radians, clockwise from north (flat-earth, short distances)."""
    east = (b[0] - a[0]) * math.cos(math.radians(a[1]))
    north = b[1] - a[1]
    return math.atan2(east, north)


def _rounded(points: Iterable[Position]) -> list[list[float]]:
    return [[round(lon, 6), round(lat, 6)] for lon, lat in points]


def _all_on_land(coords: Iterable[Sequence[float]]) -> bool:
    return all(_on_land(p[0], p[1]) for p in coords)


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _sample_point(rng: random.Random) -> Position:
    """A point on land, radius ~ Gamma(2, 4 km) around People's Square."""
    for _ in range(_MAX_TRIES):
        radius = -_RADIUS_SCALE_M * math.log((1.0 - rng.random()) * (1.0 - rng.random()))
        bearing = rng.uniform(0.0, 2.0 * math.pi)
        lon, lat = _offset(CENTER, radius * math.sin(bearing), radius * math.cos(bearing))
        if _on_land(lon, lat):
            return (lon, lat)
    return CENTER


Bend = Callable[[random.Random], float]


def _walk(
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
        points.append(_offset(points[-1], step * math.sin(heading), step * math.cos(heading)))
    return points


def _gentle(sd_deg: float, limit_deg: float) -> Bend:
    sd, limit = math.radians(sd_deg), math.radians(limit_deg)

    def bend(rng: random.Random) -> float:
        return max(-limit, min(limit, rng.gauss(0.0, sd)))

    return bend


def _street_grid(rng: random.Random) -> float:
    """Pipes and cables follow streets: mostly straight, sometimes a corner."""
    if rng.random() < 0.25:
        return math.copysign(math.pi / 2, rng.random() - 0.5) + rng.gauss(0.0, math.radians(5))
    return rng.gauss(0.0, math.radians(8))


def _arterial_bend(rng: random.Random) -> float:
    if rng.random() < 0.15:
        return math.copysign(rng.uniform(math.radians(20), math.radians(40)), rng.random() - 0.5)
    return rng.gauss(0.0, math.radians(4))


def _place_line(
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
        start = _sample_point(rng) if attempt < _MAX_TRIES - 1 else CENTER
        length = _log_uniform(rng, lo_m * _LENGTH_MARGIN, hi_m / _LENGTH_MARGIN)
        most = max(min_vertices, min(max_vertices, 2 + int(length // 400)))
        n_vertices = rng.randint(min_vertices, most)
        heading = rng.uniform(0.0, 2.0 * math.pi)
        coords = _rounded(_walk(rng, start, heading, length, n_vertices, bend))
        if _all_on_land(coords):
            break
    return coords


def _huangpu_crossing(
    rng: random.Random, lo_m: float, hi_m: float, max_vertices: int, bend: Bend
) -> list[list[float]]:
    """A line crossing the downtown Huangpu roughly at right angles, centred on the river."""
    i = rng.randrange(len(_HUANGPU_DOWNTOWN) - 1)
    a, b = _HUANGPU_DOWNTOWN[i], _HUANGPU_DOWNTOWN[i + 1]
    t = rng.random()
    middle = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
    heading = _bearing(a, b) + math.pi / 2 + rng.gauss(0.0, math.radians(8))
    if rng.random() < 0.5:
        heading += math.pi  # either bank first
    length = rng.uniform(lo_m * _LENGTH_MARGIN, hi_m / _LENGTH_MARGIN)
    n_vertices = rng.randint(2, max_vertices)
    start = _offset(middle, -0.5 * length * math.sin(heading), -0.5 * length * math.cos(heading))
    return _rounded(_walk(rng, start, heading, length, n_vertices, bend))


def _polygon_ring(center: Position, corners_m: Sequence[tuple[float, float]]) -> list[list[float]]:
    """A closed ring (first position repeated last) from (east, north) offsets in metres."""
    ring = _rounded(_offset(center, east, north) for east, north in corners_m)
    ring.append(list(ring[0]))
    return ring


def _rotate(east: float, north: float, angle: float) -> tuple[float, float]:
    c, s = math.cos(angle), math.sin(angle)
    return (east * c - north * s, east * s + north * c)


def _capacity(rng: random.Random, subtype: str) -> float:
    lo, hi = CAPACITY_RANGES[subtype]
    return float(rng.randrange(lo // 100, hi // 100 + 1) * 100)


def _place_polygon(
    rng: random.Random, corners: Callable[[random.Random], list[tuple[float, float]]]
) -> list[list[float]]:
    ring: list[list[float]] = []
    for attempt in range(_MAX_TRIES):
        center = _sample_point(rng) if attempt < _MAX_TRIES - 1 else CENTER
        ring = _polygon_ring(center, corners(rng))
        if _all_on_land(ring):
            break
    return ring


# --- one asset per subtype --------------------------------------------------------


class _Drawn(NamedTuple):
    geometry_type: GeometryType
    coordinates: list[Any]
    name: str
    district: str
    capacity: float | None = None


def _district_names(coords: Sequence[float]) -> tuple[str, _Names]:
    district = district_at(coords[0], coords[1])
    return district, _NAMES[district]


def _water_main(rng: random.Random) -> _Drawn:
    line = _place_line(rng, 300, 5_000, 8, _street_grid)
    district, names = _district_names(line[0])
    name = f"{rng.choice(names.roads)} water main DN{rng.choice(_WATER_DN)}"
    return _Drawn("LineString", line, name, district)


def _gas_main(rng: random.Random) -> _Drawn:
    line = _place_line(rng, 300, 5_000, 8, _street_grid)
    district, names = _district_names(line[0])
    road, pressure = rng.choice(names.roads), rng.choice(_GAS_PRESSURES)
    name = f"{road} {pressure} gas main DN{rng.choice(_GAS_DN)}"
    return _Drawn("LineString", line, name, district)


def _power_cable(rng: random.Random) -> _Drawn:
    line = _place_line(rng, 300, 5_000, 8, _street_grid)
    district, names = _district_names(line[0])
    name = f"{rng.choice(names.roads)} {rng.choice(_CABLE_KV)} kV cable"
    return _Drawn("LineString", line, name, district)


def _heat_pipe(rng: random.Random) -> _Drawn:
    line = _place_line(rng, 300, 5_000, 8, _street_grid)
    district, names = _district_names(line[0])
    name = f"{rng.choice(names.roads)} heat pipe DN{rng.choice(_HEAT_DN)}"
    return _Drawn("LineString", line, name, district)


def _bridge(rng: random.Random) -> _Drawn:
    straight = _gentle(2.0, 5.0)
    if rng.random() < 0.6:
        line = _huangpu_crossing(rng, 700, 1_500, 3, straight)
        district = district_at(line[0][0], line[0][1])
        return _Drawn("LineString", line, rng.choice(_HUANGPU_BRIDGES), district)
    line = _place_line(rng, 200, 600, 3, straight)
    district, names = _district_names(line[0])
    return _Drawn("LineString", line, f"{rng.choice(names.roads)} Bridge", district)


def _tunnel(rng: random.Random) -> _Drawn:
    if rng.random() < 0.5:
        line = _huangpu_crossing(rng, 1_200, 3_000, 4, _gentle(6.0, 20.0))
        district = district_at(line[0][0], line[0][1])
        return _Drawn("LineString", line, rng.choice(_HUANGPU_TUNNELS), district)
    line = _place_line(rng, 300, 5_000, 5, _gentle(10.0, 30.0))
    district, names = _district_names(line[0])
    return _Drawn("LineString", line, f"{rng.choice(names.roads)} utility tunnel", district)


def _expressway(rng: random.Random) -> _Drawn:
    line = _place_line(rng, 2_000, 12_000, 8, _gentle(12.0, 45.0), min_vertices=3)
    district, names = _district_names(line[0])
    return _Drawn(
        "LineString", line, f"{rng.choice(names.expressways)}, {district} section", district
    )


def _arterial(rng: random.Random) -> _Drawn:
    line = _place_line(rng, 800, 5_000, 8, _arterial_bend)
    district, names = _district_names(line[0])
    road, start, end = rng.sample(names.roads, 3)
    return _Drawn("LineString", line, f"{road} ({start} to {end})", district)


def _metro_station(rng: random.Random) -> _Drawn:
    point = _rounded([_sample_point(rng)])[0]
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
        return [_rotate(east, north, angle) for east, north in box]  # counter-clockwise

    ring = _place_polygon(rng, corners)
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
            points.append(_rotate(east, north, angle))
        return points  # counter-clockwise

    ring = _place_polygon(rng, corners)
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


# --- GeoJSON files ----------------------------------------------------------------

_HEADER = b'{"type":"FeatureCollection","features":[\n'
_SEPARATOR = b",\n"
_FOOTER = b"\n]}\n"


class _BinaryWriter(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _write_features(assets: Iterable[Asset], out: _BinaryWriter) -> int:
    out.write(_HEADER)
    count = 0
    for asset in assets:
        if count:
            out.write(_SEPARATOR)
        out.write(orjson.dumps(asset.to_feature()))
        count += 1
    out.write(_FOOTER)
    return count


def write_geojson(assets: Iterable[Asset], out: str | os.PathLike[str] | IO[bytes]) -> int:
    """Stream assets to a GeoJSON FeatureCollection, one feature per line.

    Writes the header, then each feature as it comes (serialized with orjson),
    then the footer, so memory stays constant for any number of assets. A path
    ending in ``.gz`` is gzip-compressed, with a zero timestamp so equal input
    gives byte-identical files.

    Args:
        assets: The assets to write, e.g. :func:`generate_registry`'s output.
        out: A file path, or a binary file object to write into (left open).

    Returns:
        The number of features written.
    """
    if not isinstance(out, str | os.PathLike):
        return _write_features(assets, out)
    path = Path(out)
    if path.suffix == ".gz":
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
        ):
            return _write_features(assets, zipped)
    with path.open("wb") as plain:
        return _write_features(assets, plain)


def read_geojson(path: str | os.PathLike[str]) -> list[Asset]:
    """Read a registry GeoJSON FeatureCollection (plain or ``.gz``) into assets.

    Args:
        path: The file to read; a name ending in ``.gz`` is decompressed.

    Returns:
        The assets, in file order.

    Raises:
        ValueError: If the file is not a GeoJSON FeatureCollection of features.
        pydantic.ValidationError: If a feature does not describe a valid asset.
    """
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    document = orjson.loads(data)
    if not (
        isinstance(document, dict)
        and document.get("type") == "FeatureCollection"
        and isinstance(document.get("features"), list)
    ):
        raise ValueError(f"{path} is not a GeoJSON FeatureCollection")
    assets = []
    for feature in document["features"]:
        if not isinstance(feature, dict):
            raise ValueError(f"{path} holds a feature that is not a JSON object")
        assets.append(Asset.from_feature(feature))
    return assets


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
