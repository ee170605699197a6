"""Publish a recorded event log into the input topics: ``gridwatch replay``.

Replay only routes: each line of the log goes, byte for byte, to the topic of
its ``kind`` (``sensor``, ``hotline``, ``inspection`` or ``ack``), keyed as
producers key it (``asset_id``, or ``service_request_id`` for hotline cases),
with the Kafka timestamp set to its ``event_time``. Validation is the worker's
job: a line that routes but is otherwise invalid is published and dead-lettered
by the worker, exactly as it would be if a live producer had sent it. Only lines
that cannot be routed at all (not a JSON object, unknown ``kind``, no key, no
timezone-aware ``event_time``) are reported and skipped.

The routing and pacing (:func:`route`, :func:`replay_steps` and its drivers
:func:`replay_log` and :func:`replay_log_async`) are pure and take the send
function as an argument; :func:`publish_log` sends with aiokafka,
:func:`kafka_sender` and :class:`EventPublisher` with kafka-python.

Note:
    Kafka timestamps are event times, and time-based retention (and
    ``--from-time`` of ``gridwatch record``) uses them: a log older than the
    topic's ``retention.ms`` (7 days by Kafka's default; unlimited on the
    project's local broker) is eligible for deletion as soon as it is written.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
from kafka.errors import KafkaError

from streams.broker.admin import BrokerUnavailableError, admin_client
from streams.broker.clients import (
    MAX_REQUEST_BYTES,
    open_async_producer,
    open_producer,
    require_broker,
)
from streams.core.settings import Settings
from streams.core.timefmt import EPOCH, epoch_ms, parse_rfc3339
from streams.core.topics import Topics

KEY_FIELDS: Final[dict[str, str]] = {
    "sensor": "asset_id",
    "hotline": "service_request_id",
    "inspection": "asset_id",
    "ack": "asset_id",
}
"""The key field of each routable ``kind``."""

BARRIER_EVERY_S: Final = 0.1
"""Longest stretch of wall time a replay sends without flushing.

A producer keeps each partition's records in order, not the records of
different partitions: a lone inspection waits for its batch to fill or
linger out while full batches of readings go ahead of it, by seconds when the
broker is busy. The worker waits ``GRIDWATCH_IDLE_WAIT_S`` (0.25 s) for a
quiet input, so a replay flushes at least this often: nothing sent after a
flush can reach the broker before what was sent before it.
"""


class MalformedLine(ValueError):  # noqa: N818 - the name the command line and tests use
    """A log line that cannot be routed to a topic.

    Attributes:
        reason: Why, in a few words (shown as ``line N: <reason>``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Routed:
    """One log line, ready to be produced.

    Attributes:
        topic: Full name of the destination topic.
        key: The message key (UTF-8 of ``asset_id`` or ``service_request_id``).
        value: The original line, unchanged.
        timestamp_ms: The Kafka timestamp: the event time in epoch milliseconds.
        event_time: The parsed ``event_time``.
    """

    topic: str
    key: bytes
    value: bytes
    timestamp_ms: int
    event_time: datetime


def _topic_for(kind: str, topics: Topics) -> str:
    if kind == "sensor":
        return topics.sensor
    if kind == "hotline":
        return topics.hotline
    if kind == "inspection":
        return topics.inspection
    return topics.acks


def route(line: bytes, topics: Topics, *, max_record_bytes: int | None = None) -> Routed:
    """Decide the topic, key and timestamp of one log line.

    Args:
        line: One JSON Lines record (without its newline); it becomes the value unchanged.
        topics: The topic names to route to.
        max_record_bytes: If set, key plus value larger than this is malformed (the
            producer or the broker would refuse it).

    Returns:
        Where and how to produce the line.

    Raises:
        MalformedLine: The line is not a JSON object with a known ``kind``, a non-empty
            string key field and a timezone-aware RFC 3339 ``event_time``.
    """
    try:
        data: Any = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise MalformedLine(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MalformedLine(f"not a JSON object but {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KEY_FIELDS:
        if kind is None:
            raise MalformedLine("no kind")
        raise MalformedLine(f"unknown kind {kind!r} (expected sensor, hotline, inspection, ack)")
    key_field = KEY_FIELDS[kind]
    key = data.get(key_field)
    if not isinstance(key, str) or not key:
        if key is None:
            raise MalformedLine(f"{kind} without {key_field}")
        raise MalformedLine(f"{key_field} is not a non-empty string")
    raw_time = data.get("event_time")
    if not isinstance(raw_time, str):
        if raw_time is None:
            raise MalformedLine("no event_time")
        raise MalformedLine("event_time is not an RFC 3339 string")
    try:
        event_time = parse_rfc3339(raw_time)
    except ValueError as exc:
        raise MalformedLine(f"event_time {exc}") from None
    if event_time < EPOCH:
        raise MalformedLine(f"event_time {raw_time!r} is before 1970 (no Kafka timestamp)")
    key_bytes = key.encode()
    if max_record_bytes is not None and len(key_bytes) + len(line) > max_record_bytes:
        raise MalformedLine(
            f"{len(line)} bytes, larger than the {max_record_bytes} a Kafka record may hold"
        )
    return Routed(_topic_for(kind, topics), key_bytes, line, epoch_ms(event_time), event_time)


@dataclass
class ReplaySummary:
    """What one replay did.

    Attributes:
        lines: Non-blank lines read.
        per_topic: Lines sent, per topic.
        malformed: Lines skipped because they could not be routed.
        first_event_time: Earliest event time sent (None if nothing was sent).
        last_event_time: Latest event time sent (None if nothing was sent).
        elapsed_s: Wall time of the replay loop in seconds (without the final flush).
    """

    lines: int = 0
    per_topic: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    first_event_time: datetime | None = None
    last_event_time: datetime | None = None
    elapsed_s: float = 0.0

    @property
    def sent(self) -> int:
        """Lines sent, all topics together."""
        return sum(self.per_topic.values())

    @property
    def event_span_s(self) -> float:
        """Seconds of event time between the earliest and the latest event sent."""
        if self.first_event_time is None or self.last_event_time is None:
            return 0.0
        return (self.last_event_time - self.first_event_time).total_seconds()


class _Barrier:
    """A step of a replay: make everything sent so far reach the broker first."""


BARRIER: Final = _Barrier()

Step = Routed | float | _Barrier
"""What a replay does next: send a routed line, sleep that many seconds, or flush."""


def replay_steps(
    lines: Iterable[tuple[int, bytes]],
    summary: ReplaySummary,
    *,
    topics: Topics,
    speed: float | None,
    on_malformed: Callable[[int, str], None],
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    max_record_bytes: int | None = None,
    barriers: bool = False,
    barrier_every_s: float = BARRIER_EVERY_S,
) -> Iterator[Step]:
    """The steps of a replay, for a driver to carry out one by one (see :func:`replay_log`).

    A routed line is counted in ``summary`` once the driver asks for the next
    step, that is once it was sent; the wall time is set once all are.

    Raises:
        ValueError: ``speed`` is not positive.
    """
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be positive, not {speed}")
    started = last_barrier = clock()
    origin: tuple[float, datetime] | None = None  # (wall clock, event time) of the first line
    for number, line in lines:
        summary.lines += 1
        try:
            routed = route(line, topics, max_record_bytes=max_record_bytes)
        except MalformedLine as exc:
            summary.malformed += 1
            on_malformed(number, exc.reason)
        else:
            event_time = routed.event_time
            latest = summary.last_event_time
            if speed is not None:
                if origin is None:
                    origin = (clock(), event_time)
                elif latest is None or event_time >= latest:
                    due = (event_time - origin[1]).total_seconds() / speed
                    ahead = due - (clock() - origin[0])
                    if ahead > 0:
                        if barriers:
                            yield BARRIER
                        yield ahead
                        last_barrier = clock()
            if barriers and clock() - last_barrier >= barrier_every_s:
                yield BARRIER
                last_barrier = clock()
            yield routed
            summary.per_topic[routed.topic] += 1
            if latest is None or event_time > latest:
                summary.last_event_time = event_time
            if summary.first_event_time is None or event_time < summary.first_event_time:
                summary.first_event_time = event_time
        if progress is not None:
            progress(summary.lines)
    summary.elapsed_s = clock() - started


def replay_log(
    lines: Iterable[tuple[int, bytes]],
    send: Callable[[Routed], None],
    *,
    topics: Topics,
    speed: float | None,
    on_malformed: Callable[[int, str], None],
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    max_record_bytes: int | None = None,
    barrier: Callable[[], None] | None = None,
    barrier_every_s: float = BARRIER_EVERY_S,
) -> ReplaySummary:
    """Route every line and hand it to ``send``, paced in event time or at full speed.

    With ``speed`` X, a line whose event time is T is sent once the wall time since
    the first routed line reaches (T - T0) / X, T0 being the first line's event time:
    the replay sleeps only when it is ahead of that schedule, and never for a line
    whose event time is earlier than the latest one seen (late lines go at once).

    Args:
        lines: (line number, bytes) pairs, as :func:`streams.core.offline.read_log` yields.
        send: Called with each routed line, in log order.
        topics: The topic names to route to.
        speed: Event-time seconds per wall-clock second (60 = an hour in a minute);
            None for as fast as possible.
        on_malformed: Called with (line number, reason) for each line skipped.
        progress: Called with the count of lines handled so far after each line.
        clock: Monotonic seconds (injected for tests).
        sleep: Sleeps that many seconds (injected for tests).
        max_record_bytes: Passed to :func:`route`.
        barrier: Makes everything sent so far reach the broker before anything
            sent after it, whatever topic it goes to (a producer's ``flush``).
            Called before each pause of a paced replay, and at full speed once
            ``barrier_every_s`` of wall time passed since the last call.
        barrier_every_s: See ``barrier``.

    Returns:
        Counts, event-time span and wall time.

    Raises:
        ValueError: ``speed`` is not positive.
    """
    summary = ReplaySummary()
    for step in replay_steps(
        lines, summary, topics=topics, speed=speed, on_malformed=on_malformed,
        progress=progress, clock=clock, max_record_bytes=max_record_bytes,
        barriers=barrier is not None, barrier_every_s=barrier_every_s,
    ):  # fmt: skip
        if isinstance(step, Routed):
            send(step)
        elif isinstance(step, _Barrier):
            assert barrier is not None
            barrier()
        else:
            sleep(step)
    return summary


async def replay_log_async(
    lines: Iterable[tuple[int, bytes]],
    send: Callable[[Routed], Awaitable[None]],
    *,
    topics: Topics,
    speed: float | None,
    on_malformed: Callable[[int, str], None],
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_record_bytes: int | None = None,
    barrier: Callable[[], Awaitable[None]] | None = None,
    barrier_every_s: float = BARRIER_EVERY_S,
) -> ReplaySummary:
    """:func:`replay_log` with awaitable ``send``, ``sleep`` and ``barrier`` (the same steps)."""
    summary = ReplaySummary()
    for step in replay_steps(
        lines, summary, topics=topics, speed=speed, on_malformed=on_malformed,
        progress=progress, clock=clock, max_record_bytes=max_record_bytes,
        barriers=barrier is not None, barrier_every_s=barrier_every_s,
    ):  # fmt: skip
        if isinstance(step, Routed):
            await send(step)
        elif isinstance(step, _Barrier):
            assert barrier is not None
            await barrier()
        else:
            await sleep(step)
    return summary


class DeliveryFailures:
    """Errors the producer reported for records it could not deliver.

    Attributes:
        count: How many records failed.
        first: The first error, if any.
    """

    def __init__(self) -> None:
        self.count = 0
        self.first: BaseException | None = None

    def record(self, error: BaseException) -> None:
        """Count one failed delivery (a producer future's errback)."""
        self.count += 1
        if self.first is None:
            self.first = error


def kafka_sender(producer: Any, failures: DeliveryFailures) -> Callable[[Routed], None]:
    """A ``send`` for :func:`replay_log` that produces with a kafka-python producer.

    Args:
        producer: A ``kafka.KafkaProducer`` without serializers.
        failures: Collects asynchronous delivery errors.

    Returns:
        The send function; it raises the first delivery error once one has been reported,
        so a replay stops soon after the broker starts refusing records.
    """

    def send(routed: Routed) -> None:
        if failures.first is not None:
            raise failures.first
        future = producer.send(
            routed.topic, key=routed.key, value=routed.value, timestamp_ms=routed.timestamp_ms
        )
        future.add_errback(failures.record)

    return send


class ReplayError(RuntimeError):
    """Publishing could not go on (missing topics, refused records); the message says why."""


def _missing_topics(settings: Settings, wanted: Iterable[str]) -> list[str]:
    try:
        with admin_client(settings.bootstrap, security=settings.kafka_security) as client:
            existing = set(client.list_topics())
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
    return [topic for topic in wanted if topic not in existing]


def publish_log(
    settings: Settings,
    lines: Iterable[tuple[int, bytes]],
    *,
    speed: float | None,
    on_malformed: Callable[[int, str], None],
    progress: Callable[[int], None] | None = None,
    on_flush: Callable[[], None] | None = None,
) -> ReplaySummary:
    """Replay a log into the input topics of ``settings`` and wait until the broker has it all.

    The producer is aiokafka's (idempotent, ``acks=all``), as the worker's is:
    kafka-python's pure-Python record path held a full-speed replay to a third
    of the client's speed. Records the broker does not take (an outage) are
    retried for :data:`DELIVERY_TIMEOUT_MS`.

    Args:
        settings: Broker and topic prefix.
        lines: (line number, bytes) of the log.
        speed: See :func:`replay_log`.
        on_malformed: Called with (line number, reason) for each line skipped.
        progress: Called with the count of lines handled so far.
        on_flush: Called once every line is handed to the producer, before the final flush.

    Raises:
        BrokerUnavailableError: No broker answers.
        ReplayError: Input topics are missing, or the broker refused records.
    """
    topics = Topics(settings.topic_prefix)
    require_broker(settings)
    wanted = (topics.sensor, topics.hotline, topics.inspection, topics.acks)
    missing = _missing_topics(settings, wanted)
    if missing:
        raise ReplayError(
            f"missing topics {', '.join(missing)}; create them with `gridwatch topics create`"
        )
    return asyncio.run(_publish(settings, topics, lines, speed, on_malformed, progress, on_flush))


async def _publish(
    settings: Settings,
    topics: Topics,
    lines: Iterable[tuple[int, bytes]],
    speed: float | None,
    on_malformed: Callable[[int, str], None],
    progress: Callable[[int], None] | None,
    on_flush: Callable[[], None] | None,
) -> ReplaySummary:
    from aiokafka.errors import KafkaError as AIOKafkaError

    producer = open_async_producer(settings, client_id="gridwatch-replay")
    failures = DeliveryFailures()

    def delivered(future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            error = future.exception()
            assert error is not None
            failures.record(error)

    async def send(routed: Routed) -> None:
        if failures.first is not None:
            raise failures.first
        future = await producer.send(
            routed.topic, routed.value, key=routed.key, timestamp_ms=routed.timestamp_ms
        )
        future.add_done_callback(delivered)

    try:
        await producer.start()
        try:
            summary = await replay_log_async(
                lines,
                send,
                topics=topics,
                speed=speed,
                on_malformed=on_malformed,
                progress=progress,
                max_record_bytes=MAX_REQUEST_BYTES - 1024,
                barrier=producer.flush,
            )
            if on_flush is not None:
                on_flush()
            await producer.flush()
        finally:
            await producer.stop()
    except AIOKafkaError as exc:
        raise ReplayError(f"publishing to {settings.bootstrap} failed: {exc}") from exc
    if failures.count:
        raise ReplayError(f"{failures.count} records were not delivered: {failures.first}")
    return summary


class EventPublisher:
    """Routes generated event lines into the input topics, optionally at a fixed rate.

    The simulator's ``--to-kafka`` sink: each line is routed like a replayed one
    (:func:`route`) and sent; with ``rate`` the sender sleeps to keep that many
    events per second. It flushes before each pause and at least every
    :data:`BARRIER_EVERY_S`, as a replay does. Use it as a context manager:
    leaving flushes and closes.

    Raises:
        BrokerUnavailableError: The broker cannot be reached.
    """

    def __init__(self, settings: Settings, *, rate: float | None = None) -> None:
        self._topics = Topics(settings.topic_prefix)
        self._producer = open_producer(settings, client_id="gridwatch-simulate")
        self._failures = DeliveryFailures()
        self._send = kafka_sender(self._producer, self._failures)
        self._rate = rate
        self._started = self._flushed = time.monotonic()
        self.sent = 0

    def emit(self, line: bytes) -> None:
        """Send one event line (raises :class:`MalformedLine` when it cannot be routed)."""
        self._send(route(line, self._topics))
        self.sent += 1
        now = time.monotonic()
        ahead = self.sent / self._rate - (now - self._started) if self._rate else 0.0
        if ahead > 0 or now - self._flushed >= BARRIER_EVERY_S:
            # What was sent before a pause, or BARRIER_EVERY_S ago, arrives before what follows.
            self._producer.flush()
            self._flushed = time.monotonic()
        if ahead > 0:
            time.sleep(ahead)

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._producer.flush(timeout=120)
        finally:
            self._producer.close(timeout=10)
        if self._failures.count and exc_info[0] is None:
            raise ReplayError(
                f"{self._failures.count} records were not delivered: {self._failures.first}"
            )
