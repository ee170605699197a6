from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas import (
    DeadLetterReason,
    DecodeError,
    HotlineCase,
    InputLimits,
    InspectionFinding,
    SensorReading,
    decode_event,
    encode,
)
from tests.badness import BUILDERS
from tests.factories import hotline_factory, inspection_factory, sensor_factory, to_bytes


@pytest.mark.parametrize(
    ("factory", "model"),
    [
        (sensor_factory, SensorReading),
        (hotline_factory, HotlineCase),
        (inspection_factory, InspectionFinding),
    ],
)
def test_each_kind_decodes_to_its_model(factory, model, limits, now):
    wire = factory()
    event = decode_event(to_bytes(wire), limits=limits, now=now)
    assert isinstance(event, model)
    assert event.event_id == wire["event_id"]
    assert event.event_time.utcoffset() is not None


@pytest.mark.parametrize("factory", [sensor_factory, hotline_factory, inspection_factory])
def test_encode_then_decode_round_trips(factory, limits, now):
    event = decode_event(to_bytes(factory()), limits=limits, now=now)
    again = decode_event(encode(event), limits=limits, now=now)
    assert again == event


def test_encoded_times_keep_their_offset(limits, now):
    event = decode_event(
        to_bytes(sensor_factory(event_time="2026-11-27T16:00:00+08:00")), limits=limits, now=now
    )
    assert orjson.loads(encode(event))["event_time"] == "2026-11-27T16:00:00+08:00"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_kind_of_badness_gets_its_reason(name, limits):
    _, build, reason = BUILDERS[name]
    # Real wall-clock "now": the future-time case is built relative to it.
    with pytest.raises(DecodeError) as caught:
        decode_event(build(), limits=limits, now=datetime.now(UTC))
    assert caught.value.reason is reason, caught.value.detail
    assert caught.value.detail


def test_catalogue_covers_at_least_twelve_reasons():
    assert len({reason for _, _, reason in BUILDERS.values()}) >= 12


def test_message_size_limit_is_configurable(now):
    raw = to_bytes(sensor_factory(note="y" * 3000))
    assert decode_event(raw, limits=InputLimits(max_message_bytes=8192), now=now)
    with pytest.raises(DecodeError) as caught:
        decode_event(raw, limits=InputLimits(max_message_bytes=2048), now=now)
    assert caught.value.reason is DeadLetterReason.OVERSIZE


def test_future_skew_is_configurable(now):
    ahead = (now + timedelta(minutes=5)).isoformat()
    raw = to_bytes(sensor_factory(event_time=ahead))
    assert decode_event(raw, limits=InputLimits(max_future_skew=timedelta(minutes=10)), now=now)
    with pytest.raises(DecodeError) as caught:
        decode_event(raw, limits=InputLimits(max_future_skew=timedelta(minutes=1)), now=now)
    assert caught.value.reason is DeadLetterReason.FUTURE_EVENT_TIME


def test_field_errors_name_the_field(limits, now):
    with pytest.raises(DecodeError) as caught:
        decode_event(to_bytes(sensor_factory(value="high")), limits=limits, now=now)
    assert [e.loc for e in caught.value.errors] == ["sensor.value"]
    assert caught.value.errors[0].type == "float_type"


def test_unknown_fields_are_ignored_for_forward_compatibility(limits, now):
    event = decode_event(to_bytes(sensor_factory(firmware="2.1")), limits=limits, now=now)
    assert "firmware" not in orjson.loads(encode(event))


def test_integer_value_is_accepted_as_a_number(limits, now):
    event = decode_event(to_bytes(sensor_factory(value=300)), limits=limits, now=now)
    assert isinstance(event, SensorReading)
    assert event.value == 300.0


def test_boolean_is_not_a_number(limits, now):
    with pytest.raises(DecodeError) as caught:
        decode_event(to_bytes(sensor_factory(value=True)), limits=limits, now=now)
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE


def test_description_limit_counts_characters_not_bytes(limits, now):
    at_limit = to_bytes(hotline_factory(description="漏" * 4000))
    assert decode_event(at_limit, limits=limits, now=now)
