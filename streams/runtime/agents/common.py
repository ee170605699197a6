"""What every agent shares: raw-bytes topics, the outbox they send through, dead letters.

Agents are small classes whose per-message or per-batch methods take plain
message objects and send through an :class:`Outbox`; the Faust app wires their
``run`` loops to topics. A unit test drives the same methods with fakes.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

import faust

from schemas import DeadLetter, DecodeError, encode
from streams.core.clock import Clock
from streams.runtime.metrics import Metrics

# Agents see and send bytes; the one codec (schemas.codec) does all decoding.
RAW: Any = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


class Message(Protocol):
    """What agents read of a Kafka message (Faust's ``Message``, or a test's fake)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float


class Outbox(Protocol):
    """Where agents send records."""

    async def send(
        self, topic: str, key: bytes | None, value: bytes, timestamp: float | None = None
    ) -> None:
        """Send one record (``timestamp`` in epoch seconds, None for now)."""
        ...


class ProducerOutbox:
    """Sends straight to the Faust app's producer.

    Faust's ``Topic.send`` costs several times more per message. Delivery is
    still at-least-once, because Faust flushes the producer before it commits
    consumer offsets.
    """

    def __init__(self, app: Any) -> None:
        self._app = app

    async def send(
        self, topic: str, key: bytes | None, value: bytes, timestamp: float | None = None
    ) -> None:
        """Hand one record to the producer."""
        await self._app.producer.send(topic, key, value, None, timestamp, None)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def dead_letter_for(message: Message, error: DecodeError, clock: Clock) -> DeadLetter:
    """Build the dead-letter record of a rejected Kafka message."""
    timestamp = getattr(message, "timestamp", None)
    return DeadLetter(
        reason=error.reason,
        detail=error.detail,
        errors=error.errors,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=None if timestamp is None else int(timestamp * 1000),
        key_b64=_b64(message.key),
        value_b64=_b64(message.value),
        dead_lettered_at=clock.now(),
    )


class DeadLetters:
    """Counts a rejected message and sends it to the dead-letter topic, keyed as it came."""

    def __init__(self, outbox: Outbox, dlq: str, metrics: Metrics, clock: Clock) -> None:
        self._outbox = outbox
        self._dlq = dlq
        self._metrics = metrics
        self._clock = clock

    async def send(self, message: Message, error: DecodeError, source: str) -> None:
        """Dead-letter ``message`` for ``error``; ``source`` labels the counter."""
        self._metrics.dead_letters.labels(error.reason.value, source).inc()
        await self._outbox.send(
            self._dlq, message.key, encode(dead_letter_for(message, error, self._clock))
        )
