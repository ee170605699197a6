"""Bad input never stops a worker or loses good data: codec, dead letters, registry, agents.

Property-based (hypothesis): for any bytes, decoding gives a model or a
reason, never another exception; an agent handed any bytes among valid events
forwards, drops as a duplicate or dead-letters that one message, and the
valid events around it give the same alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import (
    MAX_KEPT_VALUE_BYTES,
    Asset,
    DeadLetterReason,
    DecodeError,
    InputLimits,
    bounded_dead_letter,
    decode_internal,
    decode_model,
    encode,
)
from streams.core.ingest import Accepted, Intake, Rejected
from streams.engine.registry import AssetRegistry
from streams.runtime.agents.state import registry_from_table
from tests.constants import NOW
from tests.factories import hotline_factory, inspection_factory, sensor_factory, to_bytes
from tests.fakes import Cluster, FakeEvent, FakeMessage, Sent, unique
from tests.unit.test_agents import city, expected

FUZZ_EXAMPLES = int(os.environ.get("GRIDWATCH_FUZZ_EXAMPLES", "300"))
"""Examples per decoder property; ``make fuzz`` runs many more."""
INTAKE = Intake(InputLimits())
CLUSTER_INTAKE = Intake(InputLimits(max_future_skew=timedelta(days=3650)))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


def _dumps(value: Any) -> bytes:
    """Any JSON value as bytes (big integers and NaN included, which orjson refuses)."""
    return json.dumps(value, allow_nan=True).encode()


def _decides(raw: bytes) -> None:
    for decide in (INTAKE.event, INTAKE.ack, INTAKE.line):
        decision = decide(raw, NOW)
        assert isinstance(decision, Accepted | Rejected)
        if isinstance(decision, Rejected):
            assert decision.error.reason is not DeadLetterReason.INTERNAL_ERROR, decision.error
    for decode in (decode_internal, lambda b: decode_model(b, Asset)):
        with contextlib.suppress(DecodeError):
            decode(raw)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_decode_or_get_a_reason(raw: bytes) -> None:
    _decides(raw)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(json_values)
def test_any_json_decodes_or_gets_a_reason(value: Any) -> None:
    _decides(json.dumps(value, allow_nan=True).encode())


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    st.sampled_from([sensor_factory, hotline_factory, inspection_factory]),
    st.data(),
    json_values,
)
def test_any_field_of_an_event_replaced_by_any_json_decodes_or_gets_a_reason(
    factory: Any, data: st.DataObject, value: Any
) -> None:
    event = factory()
    field = data.draw(st.sampled_from(sorted(event)))
    event[field] = value
    _decides(json.dumps(event, allow_nan=True).encode())


@pytest.mark.parametrize("depth", [17, 200, 1100, 5000])
def test_nesting_deeper_than_the_limit_is_too_deep_at_any_depth(depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' + b"[" * depth + b"]" * depth + b"}"):
        decision = INTAKE.event(raw, NOW)
        assert isinstance(decision, Rejected)
        assert decision.error.reason is DeadLetterReason.TOO_DEEP
        with pytest.raises(DecodeError) as raised:
            decode_internal(raw)
        assert raised.value.reason is DeadLetterReason.TOO_DEEP


def test_brackets_inside_strings_are_not_nesting() -> None:
    event = hotline_factory(description="[" * 1000 + "{" * 500)
    assert isinstance(INTAKE.event(to_bytes(event), NOW), Accepted)


def test_a_dead_letter_of_a_huge_message_keeps_a_prefix_its_size_and_hash() -> None:
    value = b"x" * 1_000_000
    letter = bounded_dead_letter(
        DeadLetterReason.OVERSIZE, "detail " * 10_000, topic="t", partition=0, offset=7,
        timestamp_ms=None, key=b"k" * 5000, value=value,
    )  # fmt: skip
    raw = encode(letter)
    assert len(raw) < 2 * MAX_KEPT_VALUE_BYTES  # far below the 1 MiB request limit
    assert letter.value_truncated
    assert letter.key_truncated
    assert letter.value_size == len(value)
    assert letter.value_sha256 == hashlib.sha256(value).hexdigest()
    assert letter.original_value() == value[:MAX_KEPT_VALUE_BYTES]
    small = bounded_dead_letter(
        DeadLetterReason.NOT_JSON, "d", topic="t", partition=0, offset=8, timestamp_ms=None,
        key=b"k", value=b"{not json",
    )  # fmt: skip
    assert not small.value_truncated
    assert small.original_value() == b"{not json"


def _asset(asset_id: str, geometry: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "asset_id": asset_id,
            "asset_type": "lifeline_corridor",
            "subtype": "water_main",
            "name": asset_id,
            "district": "Huangpu",
            "geometry": geometry,
        }
    )


POINT = {"type": "Point", "coordinates": [121.47, 31.23]}
POISONED: dict[str, dict[str, Any]] = {
    "triangle-ring": {
        "type": "Polygon",
        "coordinates": [[[121.4, 31.2], [121.5, 31.2], [121.4, 31.2]]],
    },
    "nested-point": {"type": "Point", "coordinates": [[121.47, 31.23]]},
}


def test_a_poisoned_asset_is_rejected_and_every_valid_one_kept() -> None:
    table: list[tuple[bytes, bytes | None]] = [
        (f"ok-{i}".encode(), _asset(f"ok-{i}", POINT)) for i in range(5)
    ]
    table += [(name.encode(), _asset(name, geometry)) for name, geometry in POISONED.items()]
    table += [(b"garbage", b"[" * 3000), (b"gone", None)]
    decode_model(table[0][1] or b"", Asset)  # the valid record is valid
    registry, rejections = registry_from_table(table)
    assert sorted(a.asset_id for a in registry) == [f"ok-{i}" for i in range(5)]
    reasons = {r.key: r.error.reason for r in rejections}
    assert reasons == {
        b"triangle-ring": DeadLetterReason.INVALID_GEOMETRY,
        b"nested-point": DeadLetterReason.INVALID_GEOMETRY,
        b"garbage": DeadLetterReason.TOO_DEEP,
    }
    with pytest.raises(ValueError, match="triangle-ring"):
        AssetRegistry([decode_model(_asset("triangle-ring", POISONED["triangle-ring"]), Asset)])


def test_the_worker_dead_letters_a_poisoned_asset_once_and_keeps_the_others() -> None:
    scenario = city()
    cluster = Cluster(scenario.assets)
    feed = cluster.registry
    key = b"triangle-ring"
    cluster.assets[key] = _asset("triangle-ring", POISONED["triangle-ring"])
    message = FakeMessage(cluster.topics.assets, 0, 41, key, cluster.assets[key], 1.5)
    asyncio.run(feed.on_record(FakeEvent(message)))
    for event in scenario.events:
        cluster.publish(event)
    cluster.settle()
    asyncio.run(feed.on_record(FakeEvent(message)))  # read again: no second dead letter
    assert feed.refresh() == []
    letters = cluster.dead_letters()
    assert [(d.reason, d.topic, d.offset) for d in letters] == [
        (DeadLetterReason.INVALID_GEOMETRY, cluster.topics.assets, 41)
    ]
    assert letters[0].original_key() == key
    assert cluster.sample("gridwatch_assets_rejected_total", reason="invalid_geometry") == 1
    assert cluster.sample("gridwatch_registry_assets") == len(scenario.assets)
    assert unique(cluster.alerts()) == expected(scenario)


INPUTS = ("sensor", "hotline", "inspection", "acks")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(INPUTS), st.binary(max_size=512) | json_values.map(_dumps), st.data())
def test_any_bytes_among_valid_events_are_one_dead_letter_and_lose_nothing(
    role: str, raw: bytes, data: st.DataObject
) -> None:
    scenario = city()
    cluster = Cluster(scenario.assets)
    at = data.draw(st.integers(0, len(scenario.events)))
    topic = getattr(cluster.topics, role)
    for event in scenario.events[:at]:
        cluster.publish(event)
    cluster.append(Sent(topic, b"anything", raw, None, None, None))
    for event in scenario.events[at:]:
        cluster.publish(event)
    cluster.settle()
    decide = CLUSTER_INTAKE.ack if role == "acks" else CLUSTER_INTAKE.event
    decision = decide(raw, NOW)
    letters = cluster.dead_letters()
    if isinstance(decision, Rejected):
        assert [(d.topic, d.reason) for d in letters] == [(topic, decision.error.reason)]
        assert letters[0].original_value() == raw
    else:
        assert all(d.reason is DeadLetterReason.LATE for d in letters)
    assert unique(cluster.alerts()) == expected(scenario)


@pytest.mark.parametrize("where", ["engine", "router"])
def test_a_failure_on_one_message_is_its_dead_letter_and_the_others_go_on(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = city()
    cluster = Cluster(scenario.assets)
    kind = "sensor" if where == "engine" else "hotline"
    victim = next(e for e in scenario.events if e["kind"] == kind)
    pipeline = cluster.pipeline
    original = pipeline.handle if where == "engine" else pipeline.match

    def failing(item: Any, *args: Any) -> Any:
        if item.event_id == victim["event_id"]:
            raise RuntimeError("a bug on one message")
        return original(item, *args)

    monkeypatch.setattr(pipeline, "handle" if where == "engine" else "match", failing)
    if where == "router":
        victim.pop("asset_id", None)  # only cases without asset_id are matched by the router
    for event in scenario.events:
        cluster.publish(event)
    cluster.settle()
    letters = cluster.dead_letters()
    assert [(d.reason, d.detail) for d in letters] == [
        (DeadLetterReason.INTERNAL_ERROR, "RuntimeError: a bug on one message")
    ]
    assert orjson.loads(letters[0].original_value() or b"")["event_id"] == victim["event_id"]
    applied = cluster.sample("gridwatch_engine_events_total", kind="sensor")
    applied += cluster.sample("gridwatch_engine_events_total", kind="hotline")
    applied += cluster.sample("gridwatch_engine_events_total", kind="inspection")
    assert applied == len(scenario.events) - 1


def _total(cluster: Cluster, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for metric in cluster.metrics.registry.collect()
        for sample in metric.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def _outcomes(cluster: Cluster) -> tuple[float, float, float, float]:
    """Dead-lettered, applied, dropped as a duplicate, kept unmatched (hotline without asset)."""
    return (
        _total(cluster, "gridwatch_dead_letters_total"),
        _total(cluster, "gridwatch_engine_events_total"),
        _total(cluster, "gridwatch_duplicates_dropped_total"),
        _total(cluster, "gridwatch_hotline_match_total", result="unmatched"),
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_message_has_exactly_one_outcome(data: st.DataObject) -> None:
    """Any bytes on any input, a repeat, or a valid event: one outcome each, nothing raises."""
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events:
        cluster.publish(event)
    cluster.settle()
    before = _outcomes(cluster)
    what = data.draw(st.sampled_from(["bytes", "json", "repeat", "new"]))
    if what in ("repeat", "new"):
        event = dict(data.draw(st.sampled_from(scenario.events)))
        if what == "new":
            event["event_id"] = f"{event.get('event_id', 'x')}-again"
        cluster.publish(event)
    else:
        role = data.draw(st.sampled_from(INPUTS))
        raw = data.draw(st.binary(max_size=512) if what == "bytes" else json_values.map(_dumps))
        cluster.append(Sent(getattr(cluster.topics, role), b"anything", raw, None, None, None))
    cluster.settle()
    after = _outcomes(cluster)
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    assert sum(deltas) == 1, (what, deltas)
    if what == "repeat":
        assert deltas[1] == 0  # never applied twice: a duplicate, or late if that old
    assert unique(cluster.alerts()) == expected(scenario)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=256) | json_values.map(_dumps))
def test_any_asset_record_is_either_in_the_registry_or_one_dead_letter(raw: bytes) -> None:
    table: list[tuple[bytes, bytes | None]] = [(b"ok", _asset("ok", POINT)), (b"any", raw)]
    registry, rejections = registry_from_table(table)
    kept = {asset.asset_id for asset in registry}
    assert "ok" in kept
    assert (len(kept) - 1) + len(rejections) == 1


def test_a_bug_in_a_validator_is_a_decode_error_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(obj: Any) -> Any:
        raise TypeError("a validator bug")

    monkeypatch.setattr(Asset, "model_validate", bug)
    with pytest.raises(DecodeError) as raised:
        decode_model(_asset("ok", POINT), Asset)
    assert raised.value.reason is DeadLetterReason.INTERNAL_ERROR
    assert "a validator bug" in raised.value.detail
