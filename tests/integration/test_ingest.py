"""Ingest against a real broker and a real worker process."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import orjson

from schemas import MAX_KEPT_VALUE_BYTES, Alert, Asset, DeadLetter, decode_model, encode
from streams.broker.admin import ensure_topics
from streams.core.topics import Topics
from tests.badness import BadMessage, catalogue
from tests.engine_support import run
from tests.factories import (
    BASE_TIME,
    hotline_factory,
    inspection_factory,
    sensor_factory,
    to_bytes,
)
from tests.scenarios import water_main_burst
from tests.support import Record, WorkerProcess, metric_sum, produce, read_all, wait_until

VALID = 1000
INVALID = 200
DUPLICATES = 50

Message = tuple[bytes | None, bytes]


def valid_events() -> list[dict[str, Any]]:
    # Event times span 200 s: shuffled, they stay within the engine's allowed
    # lateness, so the only dead letters are the invalid messages.
    events: list[dict[str, Any]] = []
    for i in range(VALID):
        at = {"event_time": (BASE_TIME + timedelta(seconds=i % 200)).isoformat()}
        if i % 10 < 6:
            events.append(sensor_factory(**at))
        elif i % 10 < 8:
            # Half the hotline cases carry no asset_id: they go to the holding path.
            events.append(hotline_factory(asset_id=None, **at) if i % 2 else hotline_factory(**at))
        else:
            events.append(inspection_factory(**at))
    return events


def expected_key(event: dict[str, Any]) -> bytes:
    if event["kind"] == "hotline" and event.get("asset_id") is None:
        return str(event["service_request_id"]).encode()
    return str(event["asset_id"]).encode()


def body(record: Record) -> dict[str, Any]:
    assert record.value is not None
    return dict(orjson.loads(record.value))


def metrics_after(worker: WorkerProcess, total: int) -> dict[str, float]:
    """The worker's metrics once every message has an outcome (consumed or dead-lettered).

    Not once ``gridwatch_messages_received_total`` reaches ``total``: that counts
    deliveries, and a message the consumer delivers again counts twice.
    """

    def decided_all() -> dict[str, float] | None:
        samples = worker.metrics()
        decided = metric_sum(samples, "gridwatch_events_consumed_total") + metric_sum(
            samples, "gridwatch_dead_letters_total"
        )
        return samples if decided >= total else None

    return wait_until(
        decided_all,
        timeout=120,
        message=lambda: f"the worker to decide {total} messages\n{worker.tail()}",
    )


def records_after(bootstrap: str, topics: list[str], count: int) -> list[Record]:
    def enough() -> list[Record] | None:
        records = [r for topic in topics for r in read_all(bootstrap, topic)]
        return records if len(records) >= count else None

    return wait_until(enough, timeout=60, message=f"{count} records on {topics}")


def test_valid_forwarded_once_invalid_dead_lettered_once(
    kafka_bootstrap, topic_prefix, worker_factory
):
    topics = Topics(topic_prefix)
    input_topic = {
        "sensor": topics.sensor,
        "hotline": topics.hotline,
        "inspection": topics.inspection,
    }
    worker = worker_factory()
    rng = random.Random(2)

    events = valid_events()
    outgoing: dict[str, list[Message]] = {role: [] for role in input_topic}
    for event in events:
        outgoing[event["kind"]].append((expected_key(event), to_bytes(event)))
    bad: dict[bytes, BadMessage] = {}
    for i, message in enumerate(catalogue(INVALID)):
        key = f"bad-{i:03d}-{message.name}".encode()
        bad[key] = message
        outgoing[message.role].append((key, message.value))
    # Re-send some valid events verbatim: same event_id, to be dropped as duplicates.
    repeated = rng.sample(events, DUPLICATES)
    for event in repeated:
        outgoing[event["kind"]].append((expected_key(event), to_bytes(event)))
    for role, messages in outgoing.items():
        rng.shuffle(messages)
        assert produce(kafka_bootstrap, input_topic[role], messages) == len(messages)

    samples = metrics_after(worker, VALID + INVALID + DUPLICATES)
    assert metric_sum(samples, "gridwatch_events_consumed_total") == VALID + DUPLICATES
    assert metric_sum(samples, "gridwatch_dead_letters_total") == INVALID

    # No registry is loaded: a case without asset_id matches nothing (kept, counted).
    def is_unmatched(e: dict[str, Any]) -> bool:
        return e["kind"] == "hotline" and e.get("asset_id") is None

    unmatched = sum(map(is_unmatched, events))
    repeats = DUPLICATES - sum(map(is_unmatched, repeated))  # those reach the engine
    samples = wait_until(
        lambda: (
            (s := worker.metrics())
            and s.get('gridwatch_hotline_match_total{result="unmatched"}')
            == unmatched + (DUPLICATES - repeats)
            and s
        ),
        timeout=60,
        message="the unmatched cases",
    )

    # The engine applied every valid event once, and dropped every repeated one.
    def applied_all() -> dict[str, float] | None:
        samples = worker.metrics()
        done = metric_sum(samples, "gridwatch_engine_events_total")
        dropped = metric_sum(samples, "gridwatch_duplicates_dropped_total")
        return samples if done + dropped >= VALID - unmatched + repeats else None

    samples = wait_until(applied_all, timeout=60, message=lambda: f"the engine\n{worker.tail()}")
    assert metric_sum(samples, "gridwatch_engine_events_total") == VALID - unmatched
    assert metric_sum(samples, "gridwatch_duplicates_dropped_total") == repeats
    assert metric_sum(samples, "gridwatch_late_events_total") == 0

    # Dead letters: exactly the invalid messages, once each, with the right reason.
    dead = records_after(kafka_bootstrap, [topics.dlq], INVALID)
    assert len(dead) == INVALID
    per_key = Counter(record.key for record in dead)
    assert set(per_key) == set(bad)
    assert max(per_key.values()) == 1
    reasons = set()
    for record in dead:
        assert record.key is not None
        assert record.value is not None
        letter = decode_model(record.value, DeadLetter)
        original = bad[record.key]
        assert letter.reason is original.reason, (original.name, letter.detail)
        assert letter.original_value() == original.value[:MAX_KEPT_VALUE_BYTES]
        assert letter.value_size == len(original.value)
        assert letter.original_key() == record.key
        assert letter.topic == input_topic[original.role]
        assert letter.detail
        reasons.add(letter.reason)
    assert len(reasons) >= 12

    # Hotline cases with an asset_id went to their asset's partition of the repartition
    # topic, unchanged and keyed by asset_id (progress markers travel there too); a repeat
    # goes too (the engine drops it).
    def routed(e: dict[str, Any]) -> bool:
        return e["kind"] == "hotline" and e.get("asset_id") is not None

    with_asset = {to_bytes(e): e["asset_id"] for e in events if routed(e)}
    forwarded = [
        r for r in read_all(kafka_bootstrap, topics.events_by_asset) if r.value in with_asset
    ]
    assert Counter(r.value for r in forwarded) == Counter(
        to_bytes(e) for e in [*events, *repeated] if routed(e)
    )
    for record in forwarded:
        assert record.value is not None
        assert record.key == with_asset[record.value].encode()

    # Still alive and consuming afterwards.
    assert worker.alive()
    later = [sensor_factory() for _ in range(10)]
    produce(kafka_bootstrap, topics.sensor, [(expected_key(e), to_bytes(e)) for e in later])

    before = metric_sum(samples, "gridwatch_engine_events_total")

    def later_applied() -> bool:
        done = metric_sum(worker.metrics(), "gridwatch_engine_events_total")
        return done >= before + len(later)

    wait_until(later_applied, timeout=60, message="events sent after the bad input")
    assert worker.alive()


def test_deep_brackets_a_giant_and_a_poisoned_asset_cost_one_dead_letter_each(
    kafka_bootstrap, topic_prefix, worker_factory
):
    """Issue 11's three poisons, each among valid events and assets, on a real broker."""
    topics = Topics(topic_prefix)
    scenario = water_main_burst()
    assets = [Asset.from_feature(f) for f in scenario.assets]
    poisoned = orjson.loads(encode(assets[0]))
    poisoned["asset_id"] = "poisoned-ring"
    poisoned["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[121.40, 31.20], [121.50, 31.20], [121.40, 31.20]]],
    }
    half = len(assets) // 2
    registry = [(a.asset_id.encode(), encode(a)) for a in assets[:half]]
    registry.append((b"poisoned-ring", orjson.dumps(poisoned)))
    registry += [(a.asset_id.encode(), encode(a)) for a in assets[half:]]
    ensure_topics(kafka_bootstrap, topics.specs(4), 4, 1)
    assert produce(kafka_bootstrap, topics.assets, registry) == len(registry)
    worker = worker_factory()

    giant = to_bytes(sensor_factory(padding="x" * 1_000_000))  # just under the broker's 1 MiB
    deep = b"[" * 1100 + b"]" * 1100
    events = scenario.events
    middle = len(events) // 2
    outgoing: list[tuple[str, Message]] = [
        (e["kind"], (expected_key(e), to_bytes(e))) for e in events
    ]
    outgoing.insert(middle, ("sensor", (b"wm-1", giant)))
    outgoing.insert(middle, ("sensor", (b"wm-1", deep)))
    for kind in ("sensor", "hotline", "inspection"):
        messages = [m for k, m in outgoing if k == kind]
        assert produce(kafka_bootstrap, getattr(topics, kind), messages) == len(messages)

    valid = len(events)

    def applied_all() -> dict[str, float] | None:
        samples = worker.metrics()
        done = metric_sum(samples, "gridwatch_engine_events_total")
        return samples if done >= valid else None

    samples = wait_until(applied_all, timeout=120, message=lambda: f"the engine\n{worker.tail()}")
    assert metric_sum(samples, "gridwatch_engine_events_total") == valid
    assert samples.get("gridwatch_registry_assets") == len(assets)
    assert samples.get('gridwatch_assets_rejected_total{reason="invalid_geometry"}') == 1
    dead = records_after(kafka_bootstrap, [topics.dlq], 3)
    letters = {decode_model(r.value, DeadLetter).reason.value: r for r in dead}
    assert len(dead) == 3
    assert set(letters) == {"too_deep", "oversize", "invalid_geometry"}
    big = decode_model(letters["oversize"].value, DeadLetter)
    assert big.value_truncated
    assert big.value_size == len(giant)
    assert big.value_sha256 == hashlib.sha256(giant).hexdigest()
    assert giant.startswith(big.original_value() or b"?")
    ring = decode_model(letters["invalid_geometry"].value, DeadLetter)
    assert (ring.topic, ring.original_key()) == (topics.assets, b"poisoned-ring")
    assert decode_model(letters["too_deep"].value, DeadLetter).original_value() == deep
    # The valid events around them raised the incident as offline processing does.
    offline = {a.identifier for a in run(scenario).alerts}
    alerts = records_after(kafka_bootstrap, [topics.alerts], len(offline))
    assert {decode_model(r.value, Alert).identifier for r in alerts} == offline
