from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import (
    Alert,
    Asset,
    CapInfo,
    DeadLetter,
    DeadLetterReason,
    DecodeError,
    Evidence,
    RiskFactor,
    RiskState,
    SensorReading,
    decode_model,
    encode,
)
from tests.factories import sensor_factory

SENT = datetime(2026, 11, 27, 8, 5, tzinfo=UTC)


def water_main_feature(**properties):
    return {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[121.4737, 31.2304], [121.4800, 31.2350]],
        },
        "properties": {
            "asset_id": "wm-001",
            "asset_type": "lifeline_corridor",
            "subtype": "water_main",
            "name": "Nanjing Rd water main DN600",
            "district": "Huangpu",
            "thresholds": {"water_pressure_kpa": {"direction": "below", "warning": 200}},
            **properties,
        },
    }


def alert_factory(**overrides):
    fields = {
        "identifier": "gridwatch-wm-001-pressure-1",
        "sender": "gridwatch@ops.example",
        "sent": SENT,
        "msgType": "Alert",
        "info": [
            CapInfo(
                category=["Infra"],
                event="Water main pressure drop",
                urgency="Immediate",
                severity="Severe",
                certainty="Likely",
            )
        ],
        "asset_id": "wm-001",
        "asset_type": "lifeline_corridor",
        "risk_score": 72.5,
        "level": "warning",
        "event_time": SENT,
        "evidence": [Evidence(event_id="sensor-1", summary="pressure 210 kPa, -30% in 10 min")],
    }
    fields.update(overrides)
    return Alert(**fields)


def test_events_are_frozen():
    event = SensorReading.model_validate(sensor_factory())
    with pytest.raises(ValidationError):
        event.value = 1.0  # type: ignore[misc]


def test_asset_from_feature_and_back():
    asset = Asset.from_feature(water_main_feature())
    assert asset.asset_type == "lifeline_corridor"
    assert asset.thresholds["water_pressure_kpa"].direction == "below"
    assert Asset.from_feature(asset.to_feature()) == asset


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [121.47, 95.0]},
        {"type": "LineString", "coordinates": [[200.0, 31.2], [121.4, 31.2]]},
        {"type": "Point", "coordinates": []},
        {"type": "Circle", "coordinates": [121.4, 31.2]},
    ],
)
def test_asset_rejects_bad_geometry(geometry):
    feature = water_main_feature()
    feature["geometry"] = geometry
    with pytest.raises(ValidationError):
        Asset.from_feature(feature)


def test_crowded_place_capacity_must_be_positive():
    feature = water_main_feature(asset_type="crowded_place", subtype="metro_station", capacity=0)
    with pytest.raises(ValidationError):
        Asset.from_feature(feature)


def test_alert_round_trips_through_the_codec():
    alert = alert_factory()
    assert decode_model(encode(alert), Alert) == alert


def test_alert_sent_is_encoded_with_numeric_offset():
    # CAP's dateTime pattern wants +00:00, never Z.
    assert b'"sent":"2026-11-27T08:05:00+00:00"' in encode(alert_factory())


@pytest.mark.parametrize(
    "overrides",
    [
        {"risk_score": 101.0},
        {"level": "severe"},
        {"msgType": "Alarm"},
        {"info": []},
        {"sent": datetime(2026, 11, 27, 8, 5)},  # noqa: DTZ001 - naive on purpose
    ],
)
def test_alert_rejects_invalid_fields(overrides):
    with pytest.raises(ValidationError):
        alert_factory(**overrides)


def test_risk_state_carries_its_factors():
    state = RiskState(
        asset_id="wm-001",
        asset_type="lifeline_corridor",
        risk_score=55.0,
        level="watch",
        certainty="Possible",
        factors=[
            RiskFactor(
                name="rate:water_pressure_kpa",
                source="sensor",
                contribution=55.0,
                detail="-18% in 10 min",
            )
        ],
        event_time=SENT,
    )
    assert decode_model(encode(state), RiskState) == state


def test_dead_letter_keeps_the_original_bytes():
    original = b"\xff\x00 not json"
    letter = DeadLetter(
        reason=DeadLetterReason.NOT_UTF8,
        detail="not UTF-8",
        topic="gridwatch.sensor",
        partition=2,
        offset=41,
        key_b64=base64.b64encode(b"wm-001").decode(),
        value_b64=base64.b64encode(original).decode(),
    )
    decoded = decode_model(encode(letter), DeadLetter)
    assert decoded.original_value() == original
    assert decoded.original_key() == b"wm-001"
    assert decoded.reason is DeadLetterReason.NOT_UTF8


def test_decode_model_reports_a_reason():
    with pytest.raises(DecodeError) as caught:
        decode_model(b'{"asset_id": "x"}', RiskState)
    assert caught.value.reason is DeadLetterReason.MISSING_FIELD


def test_every_model_survives_the_codec_with_its_optional_fields_empty():
    # encode() drops None fields: every optional field needs a default to decode again.
    state = RiskState(
        asset_id="wm-001",
        asset_type=None,
        risk_score=0.0,
        level=None,
        certainty="Unlikely",
        event_time=SENT,
    )
    assert decode_model(encode(state), RiskState) == state
    alert = alert_factory(asset_type=None, incidents=None)
    assert decode_model(encode(alert), Alert) == alert
