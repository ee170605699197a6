from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely

from schemas import Asset
from streams.engine.registry import FITTING_ASSETS, AssetMatch, AssetRegistry
from streams.engine.registry_file import load_registry

# Shanghai, People's Square.
LAT0 = 31.23
LON0 = 121.47
EARTH_RADIUS_M = 6_371_008.8


# -- independent spherical helpers (the registry uses the WGS84 ellipsoid) -----


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def north_of(lat: float, meters: float) -> float:
    return lat + math.degrees(meters / EARTH_RADIUS_M)


def east_of(lat: float, lon: float, meters: float) -> float:
    return lon + math.degrees(meters / (EARTH_RADIUS_M * math.cos(math.radians(lat))))


def asset(
    asset_id: str,
    asset_type: str,
    subtype: str,
    geometry_type: str,
    coordinates: Any,
    **extra: Any,
) -> Asset:
    return Asset.model_validate(
        {
            "asset_id": asset_id,
            "asset_type": asset_type,
            "subtype": subtype,
            "name": extra.pop("name", asset_id),
            "geometry": {"type": geometry_type, "coordinates": coordinates},
            **extra,
        }
    )


def east_west_line(
    asset_id: str, subtype: str, lat: float, length_m: float, asset_type: str = "lifeline_corridor"
) -> Asset:
    """A straight line of only two vertices, centred on LON0."""
    west = east_of(lat, LON0, -length_m / 2)
    east = east_of(lat, LON0, length_m / 2)
    return asset(asset_id, asset_type, subtype, "LineString", [[west, lat], [east, lat]])


def square(asset_id: str, lat: float, lon: float, side_m: float) -> Asset:
    half = side_m / 2
    south, north = north_of(lat, -half), north_of(lat, half)
    west, east = east_of(lat, lon, -half), east_of(lat, lon, half)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return asset(asset_id, "crowded_place", "plaza", "Polygon", [ring], capacity=5000.0)


def point(asset_id: str, lat: float, lon: float, subtype: str = "metro_station") -> Asset:
    return asset(asset_id, "crowded_place", subtype, "Point", [lon, lat])


# -- distances -------------------------------------------------------------------


def test_distance_to_middle_of_long_line_is_perpendicular_not_to_vertices():
    pipe = east_west_line("wm-long", "water_main", LAT0, 5000.0)
    registry = AssetRegistry([pipe])
    case_lat = north_of(LAT0, 100.0)

    # The pipe's only vertices are 2.5 km away from the case.
    west, east = pipe.geometry.coordinates
    assert haversine_m(case_lat, LON0, west[1], west[0]) > 2400
    assert haversine_m(case_lat, LON0, east[1], east[0]) > 2400

    match = registry.match_case(case_lat, LON0, "water_leak", radius_m=150.0)

    # The straight chord and the parallel differ by ~0.3 m at 5 km, and the
    # spherical offset by ~0.3 %: both well inside 1 %.
    assert match is not None
    assert match.asset_id == "wm-long"
    assert match.distance_m == pytest.approx(100.0, rel=0.01)


def test_point_to_point_distance_agrees_with_haversine():
    station = point("ms-1", LAT0, LON0)
    registry = AssetRegistry([station])
    case_lat, case_lon = LAT0 + 0.0021, LON0 - 0.0017  # ~290 m to the north-west
    expected = haversine_m(LAT0, LON0, case_lat, case_lon)

    match = registry.match_case(case_lat, case_lon, "crowding", radius_m=500.0)

    assert match is not None
    assert match.asset_id == "ms-1"
    assert match.distance_m == pytest.approx(expected, rel=0.005)


def test_point_inside_polygon_is_at_distance_zero():
    plaza = square("pl-1", LAT0, LON0, side_m=200.0)
    registry = AssetRegistry([plaza])
    case_lat, case_lon = north_of(LAT0, 60.0), east_of(LAT0, LON0, -70.0)

    match = registry.match_case(case_lat, case_lon, "crowding", radius_m=0.0)

    assert match == AssetMatch(asset_id="pl-1", distance_m=0.0)


def test_distance_to_polygon_is_to_its_edge_not_centroid():
    plaza = square("pl-1", LAT0, LON0, side_m=200.0)
    registry = AssetRegistry([plaza])
    # 50 m east of the east edge, 250 m east of the centroid.
    case_lon = east_of(LAT0, LON0, 150.0)

    match = registry.match_case(LAT0, case_lon, "crowding", radius_m=100.0)

    assert match is not None
    assert match.distance_m == pytest.approx(50.0, rel=0.01)


# -- fitting -----------------------------------------------------------------------


def test_gas_smell_skips_nearer_water_main_for_gas_main():
    water = east_west_line("wm-1", "water_main", LAT0, 2000.0)
    gas = east_west_line("gm-1", "gas_main", north_of(LAT0, 255.0), 2000.0)
    registry = AssetRegistry([water, gas])
    case_lat = north_of(LAT0, 5.0)  # 5 m from the water main, 250 m from the gas main

    leak = registry.match_case(case_lat, LON0, "water_leak", radius_m=500.0)
    assert leak is not None
    assert leak.asset_id == "wm-1"
    match = registry.match_case(case_lat, LON0, "gas_smell", radius_m=500.0)

    assert match is not None
    assert match.asset_id == "gm-1"
    assert match.distance_m == pytest.approx(250.0, rel=0.01)


def test_water_leak_next_to_only_a_trunk_road_matches_nothing():
    road = east_west_line("tr-1", "expressway", LAT0, 2000.0, asset_type="traffic_trunk")
    registry = AssetRegistry([road])

    assert registry.match_case(LAT0, LON0, "water_leak", radius_m=500.0) is None
    assert registry.match_case(LAT0, LON0, "traffic_jam", radius_m=500.0) is not None


def test_road_damage_fits_trunks_of_any_subtype_and_bridges_but_not_pipes():
    pipe = east_west_line("wm-1", "water_main", LAT0, 1000.0)
    bridge = east_west_line("br-1", "bridge", north_of(LAT0, 40.0), 1000.0)
    road = east_west_line(
        "tr-1", "some_new_kind", north_of(LAT0, 90.0), 1000.0, asset_type="traffic_trunk"
    )
    registry = AssetRegistry([pipe, bridge, road])

    near_road = registry.match_case(north_of(LAT0, 80.0), LON0, "road_damage", 100.0)
    near_pipe = registry.match_case(LAT0, LON0, "road_damage", 100.0)
    structural = registry.match_case(north_of(LAT0, 80.0), LON0, "structural_damage", 100.0)

    assert near_road is not None
    assert near_road.asset_id == "tr-1"
    assert near_pipe is not None
    assert near_pipe.asset_id == "br-1"
    assert structural is not None
    assert structural.asset_id == "br-1"


@pytest.mark.parametrize("service_code", ["other", "noise", "unknown_code"])
def test_other_and_unknown_service_codes_match_nothing(service_code):
    registry = AssetRegistry(
        [
            square("pl-1", LAT0, LON0, 200.0),
            east_west_line("wm-1", "water_main", LAT0, 1000.0),
        ]
    )

    assert service_code not in FITTING_ASSETS
    assert registry.match_case(LAT0, LON0, service_code, radius_m=1000.0) is None


# -- radius and ties -----------------------------------------------------------------


def test_radius_boundary_is_inclusive():
    registry = AssetRegistry([point("ms-1", LAT0, LON0)])
    case_lat = north_of(LAT0, 100.0)  # ~100 m (spherical offset, within 0.3 %)

    assert registry.match_case(case_lat, LON0, "crowding", radius_m=101.0) is not None
    assert registry.match_case(case_lat, LON0, "crowding", radius_m=99.0) is None

    exact = registry.match_case(case_lat, LON0, "crowding", radius_m=1000.0)
    assert exact is not None
    assert registry.match_case(case_lat, LON0, "crowding", exact.distance_m) == exact
    assert registry.match_case(case_lat, LON0, "crowding", exact.distance_m - 0.01) is None


def test_tie_goes_to_smallest_asset_id_whatever_the_order():
    twins = [point("ms-b", LAT0, LON0), point("ms-a", LAT0, LON0), point("ms-c", LAT0, LON0)]
    case_lat = north_of(LAT0, 30.0)

    for order in (twins, twins[::-1], twins[1:] + twins[:1]):
        match = AssetRegistry(order).match_case(case_lat, LON0, "crowding", 100.0)
        assert match is not None
        assert match.asset_id == "ms-a"


def test_symmetric_positions_tie_within_a_millimetre():
    west = point("z-west", LAT0, east_of(LAT0, LON0, -40.0))
    east = point("a-east", LAT0, east_of(LAT0, LON0, 40.0))

    for order in ([west, east], [east, west]):
        match = AssetRegistry(order).match_case(LAT0, LON0, "crowding", 100.0)
        assert match is not None
        assert match.asset_id == "a-east"
        assert match.distance_m == pytest.approx(40.0, rel=0.01)


def test_nearest_wins_over_smaller_asset_id():
    registry = AssetRegistry(
        [point("a-far", north_of(LAT0, 80.0), LON0), point("z-near", north_of(LAT0, 20.0), LON0)]
    )

    match = registry.match_case(LAT0, LON0, "crowding", 100.0)

    assert match is not None
    assert match.asset_id == "z-near"


def test_case_on_the_far_side_of_the_globe_matches_nothing():
    registry = AssetRegistry([point("ms-1", LAT0, LON0)])
    antipode_lat, antipode_lon = -LAT0, LON0 - 180.0

    assert registry.match_case(antipode_lat, antipode_lon, "crowding", 1000.0) is None


def test_invalid_inputs_raise():
    registry = AssetRegistry([point("ms-1", LAT0, LON0)])

    with pytest.raises(ValueError, match="radius_m"):
        registry.match_case(LAT0, LON0, "crowding", -1.0)
    with pytest.raises(ValueError, match="latitude"):
        registry.match_case(math.nan, LON0, "crowding", 10.0)


def test_empty_registry_matches_nothing():
    registry = AssetRegistry([])

    assert len(registry) == 0
    assert registry.match_case(LAT0, LON0, "crowding", 1000.0) is None


# -- immutability and versions ---------------------------------------------------------


def test_with_assets_and_without_build_new_registries_with_new_versions():
    water = east_west_line("wm-1", "water_main", LAT0, 1000.0)
    gas = east_west_line("gm-1", "gas_main", north_of(LAT0, 100.0), 1000.0)
    relined = water.model_copy(update={"name": "Main 1, relined"})
    base = AssetRegistry([water])

    grown = base.with_assets([gas])
    renamed = grown.with_assets([relined])
    shrunk = grown.without(["wm-1"])

    assert (len(base), len(grown), len(renamed), len(shrunk)) == (1, 2, 2, 1)
    assert "gm-1" not in base
    assert base.get("gm-1") is None
    assert "gm-1" in grown
    assert grown.get("gm-1") == gas
    assert "wm-1" in grown
    assert "wm-1" not in shrunk
    assert renamed.get("wm-1") == relined
    assert grown.get("wm-1") == water
    assert len({base.version, grown.version, renamed.version, shrunk.version}) == 4
    # The old registry still answers as before.
    assert base.match_case(north_of(LAT0, 100.0), LON0, "gas_smell", 50.0) is None
    assert grown.match_case(north_of(LAT0, 100.0), LON0, "gas_smell", 50.0) is not None
    assert shrunk.match_case(LAT0, LON0, "water_leak", 50.0) is None


def test_version_depends_only_on_contents():
    water = east_west_line("wm-1", "water_main", LAT0, 1000.0)
    gas = east_west_line("gm-1", "gas_main", north_of(LAT0, 100.0), 1000.0)
    registry = AssetRegistry([water, gas])

    assert AssetRegistry([gas, water]).version == registry.version
    assert registry.with_assets([water]) is registry
    assert registry.without(["no-such-asset"]) is registry
    assert registry.without(["gm-1"]).with_assets([gas]).version == registry.version


def test_iteration_and_membership():
    assets = [point("ms-1", LAT0, LON0), point("ms-2", north_of(LAT0, 50.0), LON0)]
    registry = AssetRegistry(assets)

    assert list(registry) == assets
    assert 42 not in registry


def test_constructor_rejects_badly_nested_coordinates():
    one_vertex = asset("wm-1", "lifeline_corridor", "water_main", "LineString", [[LON0, LAT0]])

    with pytest.raises(ValueError, match="wm-1"):
        AssetRegistry([one_vertex])


# -- representative point -----------------------------------------------------------------


def test_representative_point_lies_inside_a_concave_polygon():
    # An L-shape whose centroid falls outside it.
    d = 0.002
    ring = [
        [LON0, LAT0],
        [LON0 + 3 * d, LAT0],
        [LON0 + 3 * d, LAT0 + d],
        [LON0 + d, LAT0 + d],
        [LON0 + d, LAT0 + 3 * d],
        [LON0, LAT0 + 3 * d],
        [LON0, LAT0],
    ]
    plaza = asset("pl-l", "crowded_place", "plaza", "Polygon", [ring])
    registry = AssetRegistry([plaza])
    polygon = shapely.Polygon(ring)
    assert not polygon.contains(polygon.centroid)

    rep = registry.representative_point("pl-l")
    radius = registry.radius_m("pl-l")

    assert rep is not None
    assert radius is not None
    lat, lon = rep
    assert polygon.contains(shapely.Point(lon, lat))
    farthest = max(haversine_m(lat, lon, v_lat, v_lon) for v_lon, v_lat in ring)
    assert radius == pytest.approx(farthest, rel=0.005)


def test_representative_point_of_a_point_asset_is_the_point():
    registry = AssetRegistry([point("ms-1", LAT0 + 0.01, LON0 - 0.02)])

    rep = registry.representative_point("ms-1")

    assert rep == pytest.approx((LAT0 + 0.01, LON0 - 0.02), abs=1e-9)
    assert registry.radius_m("ms-1") == pytest.approx(0.0, abs=1e-6)
    assert registry.representative_point("nope") is None
    assert registry.radius_m("nope") is None


# -- loading --------------------------------------------------------------------------------


def feature_collection(*assets: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [a.to_feature() if isinstance(a, Asset) else a for a in assets],
    }


def test_load_registry_skips_invalid_features_and_reports_duplicates(tmp_path: Path) -> None:
    water = east_west_line("wm-1", "water_main", LAT0, 1000.0)
    water_again = water.model_copy(update={"name": "Main 1 (resurveyed)"})
    gas = east_west_line("gm-1", "gas_main", north_of(LAT0, 100.0), 1000.0)
    broken = point("ms-9", LAT0, LON0).to_feature()
    broken["geometry"]["coordinates"] = [LAT0, LON0 + 100.0]  # longitude out of range
    path = tmp_path / "assets.geojson"
    path.write_bytes(orjson.dumps(feature_collection(water, broken, gas, water_again)))

    registry, problems = load_registry(path)

    assert len(registry) == 2
    assert registry.get("wm-1") == water_again
    assert "ms-9" not in registry
    assert len(problems) == 2
    assert problems[0].startswith("feature 1 (asset_id ms-9): geometry.coordinates")
    assert "outside WGS84 range" in problems[0]
    assert problems[1].startswith("feature 3 (asset_id wm-1): duplicate asset_id")
    assert registry.match_case(north_of(LAT0, 90.0), LON0, "gas_smell", 50.0) is not None


def test_load_registry_reports_bad_nesting_and_missing_fields(tmp_path: Path) -> None:
    short_line = east_west_line("wm-2", "water_main", LAT0, 1000.0).to_feature()
    short_line["geometry"]["coordinates"] = short_line["geometry"]["coordinates"][:1]
    no_id = point("ms-1", LAT0, LON0).to_feature()
    del no_id["properties"]["asset_id"]
    path = tmp_path / "assets.json"
    path.write_bytes(orjson.dumps(feature_collection(short_line, no_id, "not a feature")))

    registry, problems = load_registry(path)

    assert len(registry) == 0
    assert problems[0].startswith("feature 0 (asset_id wm-2): geometry: ")
    assert problems[1].startswith("feature 1 (no asset_id): asset_id")
    assert problems[2] == "feature 2: not a JSON object"


def test_load_registry_reads_gzip(tmp_path: Path) -> None:
    assets = [point(f"ms-{i}", north_of(LAT0, 10.0 * i), LON0) for i in range(5)]
    path = tmp_path / "assets.geojson.gz"
    path.write_bytes(gzip.compress(orjson.dumps(feature_collection(*assets))))

    registry, problems = load_registry(path)

    assert problems == []
    assert list(registry) == assets
    assert registry.version == AssetRegistry(assets).version


@pytest.mark.parametrize(
    "document",
    [
        {"type": "Feature", "geometry": None, "properties": {}},
        [1, 2, 3],
        {"type": "FeatureCollection"},
    ],
)
def test_load_registry_rejects_what_is_not_a_feature_collection(
    tmp_path: Path, document: Any
) -> None:
    path = tmp_path / "assets.geojson"
    path.write_bytes(orjson.dumps(document))

    with pytest.raises(ValueError, match="FeatureCollection"):
        load_registry(path)


def test_load_registry_rejects_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "assets.geojson"
    path.write_text("{not json")

    with pytest.raises(ValueError, match="not valid JSON"):
        load_registry(path)
