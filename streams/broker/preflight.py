"""Checks a worker runs before it joins its group: one deployment, co-partitioned inputs.

- The inputs a partition's task merges (sensor, inspection, acks, hotline and
  the repartition topic) and the state changelog must have the same number of
  partitions, or an asset's events would not meet on one partition number.
- The consumer group (the application id) must not hold offsets for another
  deployment's topics, and the state changelog must not hold state built from
  them: two deployments sharing one application id would skip each other's
  events as "already applied". The worker refuses to start instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
from kafka import TopicPartition
from kafka.errors import KafkaError

from streams.broker.admin import admin_client, partition_counts
from streams.broker.clients import open_consumer
from streams.core.settings import Settings
from streams.core.topics import STATE_OWNER_FIELD, Topics


class PreflightError(RuntimeError):
    """The worker must not start; the message says why and what to change."""


def co_partitioned_topics(topics: Topics) -> tuple[str, ...]:
    """The topics whose partition ``p`` one task reads together."""
    return (
        topics.sensor,
        topics.hotline,
        topics.inspection,
        topics.acks,
        topics.events_by_asset,
        topics.state_changelog,
    )


def partition_count(settings: Settings) -> int:
    """The partition count every co-partitioned topic has.

    Raises:
        PreflightError: The topics do not all have one count.
    """
    topics = Topics.of(settings)
    names = co_partitioned_topics(topics)
    with admin_client(settings.bootstrap, security=settings.kafka_security) as client:
        counts = partition_counts(client, list(names))
    distinct = set(counts.values())
    if len(distinct) > 1:
        listing = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        raise PreflightError(
            "the inputs must have one partition count, so that an asset's events meet on one "
            f"partition number; found {listing}"
        )
    return distinct.pop() if distinct else settings.partitions


def check_group(settings: Settings) -> None:
    """Refuse a consumer group that already consumes another deployment's topics.

    Raises:
        PreflightError: The group holds offsets for topics outside this deployment.
    """
    topics = Topics.of(settings)
    try:
        with admin_client(settings.bootstrap, security=settings.kafka_security) as client:
            offsets = client.list_group_offsets({settings.app_id: None}).get(settings.app_id, {})
    except KafkaError:
        return  # no such group yet
    foreign = sorted(
        {tp.topic for tp in offsets}
        - {name for name in _ours(topics, {tp.topic for tp in offsets})}
    )
    if foreign:
        raise PreflightError(
            f"consumer group {settings.app_id!r} already consumes {', '.join(foreign)}, "
            f"which are not topics of this deployment ({settings.topic_prefix}*): two deployments "
            "share one application id; give each its own GRIDWATCH_APP_ID (by default it "
            "follows GRIDWATCH_TOPIC_PREFIX)"
        )


def _ours(topics: Topics, names: Iterable[str]) -> Iterable[str]:
    for name in names:
        if name.startswith(topics.prefix) or name.startswith(topics.application + "-"):
            yield name


def check_state_owner(settings: Settings, timeout_s: float = 15.0) -> None:
    """Refuse a state changelog written for another deployment's topics.

    Reads the newest record of every partition of the changelog.

    Raises:
        PreflightError: A state there names another topic prefix.
    """
    topic = Topics.of(settings).state_changelog
    consumer = open_consumer(settings, client_id="gridwatch-preflight")
    try:
        numbers = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(numbers)]
        if not tps:
            return
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        wanted = [tp for tp in tps if ends[tp] > starts[tp]]
        if not wanted:
            return
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, ends[tp] - 1)
        pending = set(wanted)
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                pending.discard(tp)
                for record in records:
                    _check_record(record.value, settings.topic_prefix, topic)
    finally:
        consumer.close()


def _check_record(value: bytes | None, prefix: str, topic: str) -> None:
    if value is None:
        return
    try:
        found = orjson.loads(value).get(STATE_OWNER_FIELD)
    except (orjson.JSONDecodeError, AttributeError):
        found = "(not gridwatch state)"
    if found != prefix:
        raise PreflightError(
            f"{topic} holds state built from topics {found!r}*, not {prefix!r}*: two "
            "deployments share one application id; give each its own GRIDWATCH_APP_ID (by "
            "default it follows GRIDWATCH_TOPIC_PREFIX)"
        )
