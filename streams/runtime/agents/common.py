"""What every agent shares: raw-bytes topics, the outbox they send through, dead letters.

Agents are small classes whose per-message or per-batch methods take plain
message objects and send through an :class:`Outbox`; the Faust app wires their
``run`` loops to topics. A unit test drives the same methods with fakes.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol

import faust
from aiokafka.partitioner import murmur2

from schemas import DeadLetter, DecodeError, bounded_dead_letter, encode
from streams.runtime.metrics import Metrics

# Agents see and send bytes; the one codec (schemas.codec) does all decoding.
RAW: Any = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)

Headers = Sequence[tuple[str, bytes]]


class Message(Protocol):
    """What agents read of a Kafka message (Faust's ``Message``, or a test's fake)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    headers: Any


def is_stale(message: Message, generation: int | None) -> bool:
    """Whether ``message`` was fetched in an earlier group generation than ``generation``.

    After a rebalance Faust seeks every partition back to its committed offset
    and delivers again; a message fetched before it may still come out of a
    buffer, and handling it would let later offsets overtake earlier ones.
    """
    fetched_in = getattr(message, "generation_id", None)
    return generation is not None and fetched_in is not None and fetched_in != generation


def headers_of(message: Message) -> Headers:
    """A message's headers as ``(name, bytes)`` pairs, whatever form the client gave them."""
    headers = getattr(message, "headers", None)
    if not headers:
        return ()
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


class Outbox(Protocol):
    """Where agents send records."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        timestamp: float | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Awaitable[Any]:
        """Hand one record to the producer; await the result for the broker's acknowledgement."""
        ...


class ProducerOutbox:
    """Sends straight to the Faust app's (idempotent) producer.

    Faust's ``Topic.send`` costs several times more per message. Every record an
    agent sends is in the producer before the agent acknowledges the input that
    caused it, and Faust flushes the producer before it commits offsets.
    """

    def __init__(self, app: Any) -> None:
        self._app = app

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        timestamp: float | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Awaitable[Any]:
        """Hand one record to the producer; the result resolves once the broker has it."""
        future: Awaitable[Any] = await self._app.producer.send(
            topic, key, value, partition, timestamp, list(headers) if headers else None
        )
        return future


def dead_letter_for(
    error: DecodeError,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
) -> DeadLetter:
    """The dead letter of a rejected message: only the message and the reason, bounded."""
    return bounded_dead_letter(
        error.reason,
        error.detail,
        errors=error.errors,
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=value,
    )


def timestamp_ms(message: Message) -> int | None:
    """A Faust message's timestamp (float seconds) in epoch milliseconds."""
    timestamp = getattr(message, "timestamp", None)
    return None if timestamp is None else round(timestamp * 1000)


class DeadLetters:
    """Counts a rejected message and sends it to the dead-letter topic, keyed as it came."""

    def __init__(self, outbox: Outbox, dlq: str, metrics: Metrics) -> None:
        self._outbox = outbox
        self._dlq = dlq
        self._metrics = metrics

    async def send(self, message: Message, error: DecodeError, source: str) -> Awaitable[Any]:
        """Dead-letter ``message`` for ``error``; ``source`` labels the counter."""
        return await self.send_letter(
            dead_letter_for(
                error,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                timestamp_ms=timestamp_ms(message),
                key=message.key,
                value=message.value,
            ),
            source,
        )

    async def send_letter(self, letter: DeadLetter, source: str) -> Awaitable[Any]:
        """Count and send a dead letter built elsewhere."""
        self._metrics.dead_letters.labels(letter.reason.value, source).inc()
        return await self._outbox.send(self._dlq, letter.original_key(), encode(letter))


@functools.lru_cache(maxsize=1 << 16)
def partition_for(key: str, partitions: int) -> int:
    """The partition a key's records go to: Kafka's default partitioner (murmur2).

    Java clients, kafka-python and aiokafka all partition this way, so an
    asset's events on every input topic, its state and its repartitioned
    hotline cases meet on one partition number. Cached: aiokafka's murmur2 is
    pure Python, and the same asset ids come back with every reading.
    """
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions
