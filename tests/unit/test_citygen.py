from __future__ import annotations

import gzip
import inspect
import io
import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Sequence

import orjson
import pytest

from schemas import Asset
from streams.lab import citygen
from streams.lab.citygen import (
    CAPACITY_RANGES,
    ID_PREFIXES,
    SUBTYPE_SHARES,
    SUBTYPES,
    TYPE_SHARES,
    generate_registry,
    main,
)
from streams.lab.cityshape import DISTRICTS, LAT_RANGE, LON_RANGE, district_at
from streams.lab.geojson import read_geojson, write_geojson
from tests.constants import SAMPLE_REGISTRY as SAMPLE

# Generated once per module: 200 assets take a few milliseconds.
REGISTRY = list(generate_registry(200, 11))


def geojson_bytes(n_assets: int, seed: int) -> bytes:
    buffer = io.BytesIO()
    write_geojson(generate_registry(n_assets, seed), buffer)
    return buffer.getvalue()


def haversine_m(a: Sequence[float], b: Sequence[float]) -> float:
    lat1, lat2 = math.radians(a[1]), math.radians(b[1])
    dlat, dlon = lat2 - lat1, math.radians(b[0] - a[0])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def positions(asset: Asset) -> list[list[float]]:
    coords = asset.geometry.coordinates
    if asset.geometry.type == "Point":
        return [coords]
    if asset.geometry.type == "LineString":
        return coords
    assert asset.geometry.type == "Polygon"
    return [p for ring in coords for p in ring]


def test_subtype_constants_are_exactly_the_agreed_vocabulary():
    assert SUBTYPES == {
        "lifeline_corridor": (
            "water_main",
            "gas_main",
            "power_cable",
            "heat_pipe",
            "bridge",
            "tunnel",
        ),
        "traffic_trunk": ("expressway", "arterial"),
        "crowded_place": ("metro_station", "square", "transit_hub"),
    }
    all_subtypes = [s for subtypes in SUBTYPES.values() for s in subtypes]
    assert set(ID_PREFIXES) == set(all_subtypes) == set(SUBTYPE_SHARES)
    assert len(set(ID_PREFIXES.values())) == len(ID_PREFIXES)
    assert math.isclose(sum(TYPE_SHARES.values()), 1.0)
    for subtypes in SUBTYPES.values():
        assert math.isclose(sum(SUBTYPE_SHARES[s] for s in subtypes), 1.0)


def test_same_seed_gives_byte_identical_geojson():
    assert geojson_bytes(150, 7) == geojson_bytes(150, 7)


def test_different_seed_gives_different_geojson():
    assert geojson_bytes(150, 7) != geojson_bytes(150, 8)


def test_a_longer_registry_starts_with_the_shorter_one():
    short = [a.model_dump() for a in generate_registry(40, 5)]
    long = [a.model_dump() for a in itertools.islice(generate_registry(500, 5), 40)]
    assert short == long


def test_every_type_and_subtype_present_for_200():
    subtypes = Counter((a.asset_type, a.subtype) for a in REGISTRY)
    expected = {(t, s) for t, subs in SUBTYPES.items() for s in subs}
    assert set(subtypes) == expected


@pytest.mark.parametrize("seed", [0, 1, 2, 99])
def test_every_subtype_present_for_30(seed):
    assert {a.subtype for a in generate_registry(30, seed)} == set(SUBTYPE_SHARES)


def test_mix_follows_the_shares():
    n = 2_000
    counts = Counter(a.subtype for a in generate_registry(n, 4))
    for asset_type, subtypes in SUBTYPES.items():
        for subtype in subtypes:
            expected = n * TYPE_SHARES[asset_type] * SUBTYPE_SHARES[subtype]
            assert abs(counts[subtype] - expected) <= 0.01 * n, subtype


def test_all_features_validate_via_from_feature():
    document = orjson.loads(geojson_bytes(200, 11))
    assert document["type"] == "FeatureCollection"
    assert len(document["features"]) == 200
    for feature, asset in zip(document["features"], REGISTRY, strict=True):
        assert feature["type"] == "Feature"
        assert Asset.from_feature(feature) == asset
        assert feature["properties"]["thresholds"] == {}


def test_ids_unique_readable_and_prefixed_by_subtype():
    ids = [a.asset_id for a in generate_registry(1_000, 2)]
    assert len(set(ids)) == len(ids)
    for asset in REGISTRY:
        assert re.fullmatch(r"[a-z]{2}-\d{6}", asset.asset_id)
        assert asset.asset_id.startswith(ID_PREFIXES[asset.subtype] + "-")
    # Numbered from 1 within each subtype.
    assert {a.asset_id for a in REGISTRY} >= {f"{p}-000001" for p in ID_PREFIXES.values()}


def test_coordinates_inside_shanghai_box_and_rounded():
    for asset in generate_registry(1_000, 12):
        for lon, lat in positions(asset):
            assert LON_RANGE[0] <= lon <= LON_RANGE[1]
            assert LAT_RANGE[0] <= lat <= LAT_RANGE[1]
            assert round(lon, 6) == lon
            assert round(lat, 6) == lat


def test_density_peaks_near_peoples_square():
    centre = (121.4737, 31.2304)
    starts = [positions(a)[0] for a in generate_registry(1_000, 13)]
    within_10km = sum(haversine_m(centre, p) <= 10_000 for p in starts)
    beyond_20km = sum(haversine_m(centre, p) > 20_000 for p in starts)
    assert within_10km > 500
    assert beyond_20km < 100


def test_crowded_places_have_capacity_and_others_do_not():
    for asset in generate_registry(600, 14):
        feature = asset.to_feature()
        if asset.asset_type == "crowded_place":
            lo, hi = CAPACITY_RANGES[asset.subtype]
            assert asset.capacity is not None
            assert lo <= asset.capacity <= hi
        else:
            assert asset.capacity is None
            assert "capacity" not in feature["properties"]


def test_geometry_types_per_subtype():
    kinds = {(a.subtype, a.geometry.type) for a in generate_registry(600, 15)}
    expected_type = {
        "metro_station": "Point",
        "square": "Polygon",
        "transit_hub": "Polygon",
    }
    for subtype, geometry_type in kinds:
        assert geometry_type == expected_type.get(subtype, "LineString")


def test_line_lengths_and_vertex_counts():
    ranges = {"expressway": (2_000, 12_000), "bridge": (200, 1_500)}
    for asset in generate_registry(1_500, 16):
        if asset.geometry.type != "LineString":
            continue
        line = asset.geometry.coordinates
        assert 2 <= len(line) <= 8
        length = sum(haversine_m(a, b) for a, b in itertools.pairwise(line))
        lo, hi = ranges.get(asset.subtype, (300, 5_000))
        assert lo <= length <= hi, (asset.asset_id, length)
        if asset.subtype == "bridge":
            # Straight-ish: barely longer than the chord.
            assert length <= 1.02 * haversine_m(line[0], line[-1])


def test_polygons_closed_counter_clockwise_and_sized():
    polygons = [a for a in generate_registry(1_500, 17) if a.geometry.type == "Polygon"]
    assert len(polygons) > 100
    for asset in polygons:
        (ring,) = asset.geometry.coordinates
        assert len(ring) >= 5
        assert ring[0] == ring[-1]
        twice_area = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))
        assert twice_area > 0  # RFC 7946: exterior rings are counter-clockwise
        across = max(haversine_m(a, b) for a in ring for b in ring)
        assert 60 <= across <= 400, (asset.asset_id, across)


def test_districts_and_names():
    assets = list(generate_registry(1_000, 18))
    assert {a.district for a in assets} <= set(DISTRICTS)
    assert len({a.district for a in assets}) >= 8
    for asset in assets:
        assert asset.name
        if asset.subtype == "metro_station":
            assert asset.name.endswith(" metro station")
        if asset.subtype == "water_main":
            assert re.search(r" water main DN\d+$", asset.name)


def test_district_rule_is_roughly_geographic():
    assert district_at(121.4737, 31.2304) == "Huangpu"  # People's Square
    assert district_at(121.5055, 31.2397) == "Pudong"  # Lujiazui, across the river
    assert district_at(121.4365, 31.1950) == "Xuhui"  # Xujiahui
    assert district_at(121.4480, 31.2230) == "Jing'an"  # Jing'an Temple
    assert district_at(121.5140, 31.2990) == "Yangpu"  # Wujiaochang
    assert district_at(121.6000, 31.2000) == "Pudong"  # Zhangjiang
    assert district_at(121.3800, 31.1100) == "Minhang"
    assert district_at(121.4800, 31.4000) == "Baoshan"


def test_some_bridges_cross_the_huangpu_downtown():
    bridges = [a for a in generate_registry(3_000, 19) if a.subtype == "bridge"]
    crossing = [b for b in bridges if b.name in {"Nanpu Bridge", "Lupu Bridge", "Yangpu Bridge"}]
    assert crossing
    for bridge in crossing:
        (lon0, _), (lon1, _) = bridge.geometry.coordinates[0], bridge.geometry.coordinates[-1]
        middle = (lon0 + lon1) / 2
        assert 121.46 <= middle <= 121.545


def test_write_then_read_round_trips(tmp_path):
    path = tmp_path / "registry.geojson"
    assert write_geojson(REGISTRY, path) == 200
    assert read_geojson(path) == REGISTRY


def test_gz_round_trips_and_is_deterministic(tmp_path):
    first, second = tmp_path / "a.geojson.gz", tmp_path / "b.geojson.gz"
    assert write_geojson(generate_registry(120, 20), first) == 120
    assert write_geojson(generate_registry(120, 20), second) == 120
    assert first.read_bytes()[:2] == b"\x1f\x8b"
    assert first.read_bytes() == second.read_bytes()
    assert gzip.decompress(first.read_bytes()) == geojson_bytes(120, 20)
    assert read_geojson(first) == list(generate_registry(120, 20))


def test_empty_registry_is_a_valid_feature_collection(tmp_path):
    path = tmp_path / "empty.geojson"
    assert write_geojson(generate_registry(0, 1), path) == 0
    assert orjson.loads(path.read_bytes()) == {"type": "FeatureCollection", "features": []}
    assert read_geojson(path) == []


def test_negative_count_is_rejected():
    with pytest.raises(ValueError, match="n_assets"):
        generate_registry(-1, 1)


def test_read_rejects_what_is_not_a_feature_collection(tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_bytes(b'{"type":"Feature"}')
    with pytest.raises(ValueError, match="FeatureCollection"):
        read_geojson(path)


def test_committed_sample_matches_the_generator():
    assert SAMPLE.read_bytes() == geojson_bytes(400, 1), (
        "the sample drifted; regenerate it with python -m streams.lab.citygen "
        "--assets 400 --seed 1 --out data/registry/shanghai-sample.geojson"
    )


def test_committed_sample_is_small_and_complete():
    assert SAMPLE.stat().st_size < 300_000
    assets = read_geojson(SAMPLE)
    assert len(assets) == 400
    assert {a.subtype for a in assets} == set(SUBTYPE_SHARES)


def test_generating_100k_is_lazy(monkeypatch):
    built = 0
    make_asset = citygen._make_asset

    def counting(*args, **kwargs):
        nonlocal built
        built += 1
        return make_asset(*args, **kwargs)

    monkeypatch.setattr(citygen, "_make_asset", counting)
    started = time.perf_counter()
    registry = generate_registry(100_000, 3)
    assert inspect.isgenerator(registry)
    assert built == 0
    first = list(itertools.islice(registry, 5))
    elapsed = time.perf_counter() - started
    assert len(first) == 5
    assert built == 5
    assert elapsed < 0.5
    # Same first assets as a small registry with the same seed.
    assert first == list(generate_registry(5, 3))


def test_cli_writes_the_registry(tmp_path, capsys):
    out = tmp_path / "nested" / "registry.geojson"
    assert main(["--assets", "40", "--seed", "2", "--out", str(out)]) == 0
    assert out.read_bytes() == geojson_bytes(40, 2)
    assert "wrote 40 assets" in capsys.readouterr().err
