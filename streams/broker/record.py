"""Dump a topic to an event log: ``gridwatch record``.

Every partition of the topic is read with a group-less consumer from a start
position (the beginning, an offset, or the first record at or after a time) up
to the end offsets captured when recording starts, or up to the first record
stamped after ``--to-time``. Each record value becomes one line; the lines are
written sorted by (Kafka timestamp, partition, offset), which for gridwatch's
input topics is event-time order, so the log can be fed to ``gridwatch replay``
or ``gridwatch process`` as it is.

Sorting needs every record in memory before the first line is written: about
the size of the values plus ~150 bytes per record, so a few million records
(a few GB at most) is the practical limit. Nothing is written if reading
fails, so a failed recording never leaves a truncated log behind.

The Kafka-free parts (:func:`resolve_topic`, :func:`log_line`,
:class:`RecordBuffer`, :func:`write_log`) are pure and unit-tested.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
from kafka.errors import KafkaError as KafkaPythonError

from streams.broker.admin import admin_client, partition_counts
from streams.broker.clients import open_async_consumer
from streams.core.settings import Settings
from streams.core.timefmt import epoch_ms
from streams.core.topics import Topics

ROLES: Final = ("sensor", "hotline", "inspection", "alerts", "risk", "acks", "dlq", "assets")
"""Role names ``--topic`` accepts besides full topic names."""

STALL_TIMEOUT_S: Final = 60.0
"""Give up when no partition makes progress for this long."""


class RecordError(RuntimeError):
    """Recording cannot go on (unknown topic, stalled broker)."""


class NotJson(ValueError):  # noqa: N818 - reads as a verdict on the value
    """A record value that is not JSON; it is skipped and counted."""


def resolve_topic(name: str, topics: Topics) -> str:
    """Return the topic ``name`` stands for: a role name with the prefix, else ``name`` itself.

    Args:
        name: A role (``sensor``, ``hotline``, ``inspection``, ``alerts``, ``risk``,
            ``acks``, ``dlq``, ``assets``) or a full topic name.
        topics: The configured topic names.

    Returns:
        The full topic name.
    """
    if name in ROLES:
        full: str = getattr(topics, name)
        return full
    return name


def log_line(value: bytes) -> bytes:
    """Turn a record value into one log line (without the newline).

    The value is kept byte for byte unless it spans several lines (pretty-printed
    JSON), in which case it is re-serialized compactly with orjson.

    Args:
        value: The record value.

    Returns:
        The line.

    Raises:
        NotJson: The value is not (UTF-8) JSON.
    """
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise NotJson(str(exc)) from None
    if b"\n" in value or b"\r" in value:
        return orjson.dumps(parsed)
    return value.strip()


def sort_key(entry: tuple[int, int, int, bytes]) -> tuple[int, int, int]:
    """Order of lines in a recorded log: (Kafka timestamp, partition, offset)."""
    return entry[0], entry[1], entry[2]


@dataclass
class RecordBuffer:
    """Collects record values and hands them back as lines in timestamp order.

    Attributes:
        entries: (timestamp ms, partition, offset, line) of each kept record.
        tombstones: Records without a value, skipped.
        not_json: Records whose value is not JSON, skipped.
    """

    entries: list[tuple[int, int, int, bytes]] = field(default_factory=list, repr=False)
    tombstones: int = 0
    not_json: int = 0

    def add(self, timestamp_ms: int, partition: int, offset: int, value: bytes | None) -> None:
        """Keep one record's value as a line, or count why it is skipped."""
        if value is None:
            self.tombstones += 1
            return
        try:
            line = log_line(value)
        except NotJson:
            self.not_json += 1
            return
        self.entries.append((timestamp_ms, partition, offset, line))

    @property
    def skipped(self) -> int:
        """Records not written, whatever the reason."""
        return self.tombstones + self.not_json

    def lines(self) -> Iterator[bytes]:
        """The kept lines ordered by (timestamp, partition, offset)."""
        self.entries.sort(key=sort_key)
        return (entry[3] for entry in self.entries)


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """What was read from one partition.

    Attributes:
        partition: Partition number.
        start: First offset to read.
        end: End offset captured at start (exclusive).
        records: Records read.
        stopped_at: Offset of the first record past ``--to-time``, if one stopped it.
    """

    partition: int
    start: int
    end: int
    records: int
    stopped_at: int | None = None


@dataclass
class RecordResult:
    """What a recording read.

    Attributes:
        topic: The topic read.
        buffer: The records kept and skipped.
        partitions: One range per partition.
    """

    topic: str
    buffer: RecordBuffer
    partitions: list[PartitionRange]


def read_topic(
    settings: Settings,
    topic: str,
    *,
    from_offset: int | None = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
    progress: Any = None,
) -> RecordResult:
    """Read every partition of ``topic`` into a :class:`RecordBuffer`.

    The consumer is aiokafka's: its records are parsed in C, where
    kafka-python's pure-Python path held a recording to a quarter of the
    client's speed.

    Args:
        settings: Where the broker is.
        topic: Full topic name.
        from_offset: Start each partition at this offset (clamped to what the log holds).
        from_time: Start each partition at its first record stamped at or after this.
        to_time: Stop a partition at its first record stamped after this.
        progress: Called with (records read so far, records expected at most).

    Returns:
        The records and the partition ranges.

    Raises:
        RecordError: The topic does not exist, the broker stopped answering, or
            it failed while reading.
    """
    return asyncio.run(
        _read_topic(
            settings,
            topic,
            from_offset=from_offset,
            from_time=from_time,
            to_time=to_time,
            progress=progress,
        )
    )


async def _read_topic(
    settings: Settings,
    topic: str,
    *,
    from_offset: int | None,
    from_time: datetime | None,
    to_time: datetime | None,
    progress: Any,
) -> RecordResult:
    from aiokafka import TopicPartition
    from aiokafka.errors import KafkaError

    try:
        with admin_client(settings.bootstrap, security=settings.kafka_security) as client:
            count = partition_counts(client, [topic]).get(topic)
    except KafkaPythonError as exc:
        raise RecordError(f"reading {topic} from {settings.bootstrap} failed: {exc}") from exc
    if not count:
        raise RecordError(f"topic {topic} does not exist")
    consumer = open_async_consumer(
        settings,
        client_id="gridwatch-record",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
    )
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in range(count)]
        beginnings = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        starts = {tp: beginnings[tp] for tp in tps}
        if from_offset is not None:
            starts = {tp: min(max(from_offset, beginnings[tp]), ends[tp]) for tp in tps}
        elif from_time is not None:
            wanted = {tp: max(0, epoch_ms(from_time)) for tp in tps}
            found = await consumer.offsets_for_times(wanted)
            starts = {tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in tps}
        to_ms = epoch_ms(to_time) if to_time is not None else None
        counts = dict.fromkeys(tps, 0)
        stopped: dict[Any, int] = {}
        open_tps = {tp for tp in tps if starts[tp] < ends[tp]}
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        idle = [tp for tp in tps if tp not in open_tps]
        if idle:
            consumer.pause(*idle)
        expected = sum(ends[tp] - starts[tp] for tp in tps)
        buffer = RecordBuffer()
        read = 0
        last_progress = time.monotonic()
        while open_tps:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                if tp not in open_tps:
                    continue
                for record in records:
                    if record.offset >= ends[tp]:
                        open_tps.discard(tp)
                        break
                    if to_ms is not None and record.timestamp > to_ms:
                        stopped[tp] = record.offset
                        open_tps.discard(tp)
                        break
                    buffer.add(record.timestamp, tp.partition, record.offset, record.value)
                    counts[tp] += 1
                    read += 1
            for tp in list(open_tps):
                # Transaction markers take offsets no record is returned for.
                if await consumer.position(tp) >= ends[tp]:
                    open_tps.discard(tp)
            paused = consumer.paused()
            done = [tp for tp in tps if tp not in open_tps and tp not in paused]
            if done:
                consumer.pause(*done)
            if batches:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_TIMEOUT_S:
                raise RecordError(
                    f"no progress reading {topic} for {STALL_TIMEOUT_S:.0f}s "
                    f"({read} of up to {expected} records read)"
                )
            if progress is not None:
                progress(read, expected)
        ranges = [
            PartitionRange(tp.partition, starts[tp], ends[tp], counts[tp], stopped.get(tp))
            for tp in tps
        ]
        return RecordResult(topic, buffer, ranges)
    except KafkaError as exc:
        raise RecordError(f"reading {topic} from {settings.bootstrap} failed: {exc}") from exc
    finally:
        await consumer.stop()
