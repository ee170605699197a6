"""What every agent shares: raw-bytes topics, sending, and dead-lettering."""

from __future__ import annotations

import base64
from typing import Any

import faust

from schemas import DeadLetter, DecodeError, encode
from streams.core.clock import Clock
from streams.runtime.metrics import Metrics

# Agents see and send bytes; the one codec (schemas.codec) does all decoding.
RAW: Any = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


async def produce(
    app: Any, topic: str, key: bytes | None, value: bytes, timestamp: float | None = None
) -> None:
    """Send one record straight to the producer.

    Faust's Topic.send costs several times more per message. Delivery is still
    at-least-once, because Faust flushes the producer before it commits
    consumer offsets.
    """
    await app.producer.send(topic, key, value, None, timestamp, None)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def dead_letter_for(message: Any, error: DecodeError, clock: Clock) -> DeadLetter:
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


async def dead_letter(
    app: Any,
    dlq: str,
    message: Any,
    error: DecodeError,
    *,
    metrics: Metrics,
    clock: Clock,
    source: str,
) -> None:
    """Count a rejected message and send it to the dead-letter topic, keyed as it came."""
    metrics.dead_letters.labels(error.reason.value, source).inc()
    await produce(app, dlq, message.key, encode(dead_letter_for(message, error, clock)))
