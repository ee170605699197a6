"""Ingest against a real broker and a real worker process."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import orjson

from schemas import DeadLetter, decode_model
from streams.core.topics import Topics
from tests.badness import BadMessage, catalogue
from tests.factories import (
    BASE_TIME,
    hotline_factory,
    inspection_factory,
    sensor_factory,
    to_bytes,
)
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
    def received_all() -> dict[str, float] | None:
        samples = worker.metrics()
        return (
            samples if metric_sum(samples, "gridwatch_messages_received_total") >= total else None
        )

    return wait_until(
        received_all,
        timeout=120,
        message=lambda: f"the worker to receive {total} messages\n{worker.tail()}",
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
    for event in rng.sample(events, DUPLICATES):
        outgoing[event["kind"]].append((expected_key(event), to_bytes(event)))
    for role, messages in outgoing.items():
        rng.shuffle(messages)
        assert produce(kafka_bootstrap, input_topic[role], messages) == len(messages)

    samples = metrics_after(worker, VALID + INVALID + DUPLICATES)
    assert metric_sum(samples, "gridwatch_messages_received_total") == VALID + INVALID + DUPLICATES
    assert metric_sum(samples, "gridwatch_events_consumed_total") == VALID
    assert metric_sum(samples, "gridwatch_duplicates_dropped_total") == DUPLICATES
    assert metric_sum(samples, "gridwatch_dead_letters_total") == INVALID
    unmatched = sum(1 for e in events if e["kind"] == "hotline" and e.get("asset_id") is None)
    assert samples["gridwatch_hotline_unmatched_total"] == unmatched

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
        assert letter.original_value() == original.value
        assert letter.original_key() == record.key
        assert letter.topic == input_topic[original.role]
        assert letter.detail
        reasons.add(letter.reason)
    assert len(reasons) >= 12

    # Forwarded: every valid event once, keyed by asset (by case id on the holding path).
    forwarded = records_after(
        kafka_bootstrap, [topics.events_by_asset, topics.hotline_unmatched], VALID
    )
    assert len(forwarded) == VALID
    per_id = Counter(body(r)["event_id"] for r in forwarded)
    assert set(per_id) == {e["event_id"] for e in events}
    assert max(per_id.values()) == 1
    sent = {e["event_id"]: e for e in events}
    for record in forwarded:
        event = body(record)
        assert record.key == expected_key(sent[event["event_id"]])
        held = event["kind"] == "hotline" and event.get("asset_id") is None
        assert (record.topic == topics.hotline_unmatched) == held

    # Still alive and consuming afterwards.
    assert worker.alive()
    later = [sensor_factory() for _ in range(10)]
    produce(kafka_bootstrap, topics.sensor, [(expected_key(e), to_bytes(e)) for e in later])

    def later_forwarded() -> bool:
        ids = {body(r)["event_id"] for r in read_all(kafka_bootstrap, topics.events_by_asset)}
        return {e["event_id"] for e in later} <= ids

    wait_until(later_forwarded, timeout=60, message="events sent after the bad input")
    assert worker.alive()
