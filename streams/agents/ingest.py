"""The ingest agents: one per input topic, validating and routing every message."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

from schemas import (
    AnyEvent,
    DeadLetter,
    DeadLetterReason,
    DecodeError,
    encode,
)
from streams.clock import Clock
from streams.ingest import Duplicate, Forward, Ingest, IngestDecision, Reject, Route
from streams.metrics import Metrics
from streams.topics import Topics

log = logging.getLogger(__name__)


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


def _decide(ingest: Ingest, value: bytes | None, clock: Clock) -> IngestDecision:
    try:
        return ingest.handle(value, clock.now())
    # A bug on one message must not stop the worker: it is logged and dead-lettered.
    except Exception as exc:
        log.exception("ingest failed on a message; dead-lettering it")
        return Reject(
            DecodeError(DeadLetterReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
        )


def register_ingest_agents(
    app: Any, topics: Topics, ingest: Ingest, metrics: Metrics, clock: Clock
) -> None:
    """Attach one ingest agent per input topic to ``app``.

    Valid events go to the per-asset stream (or the unmatched-hotline holding
    topic), duplicates are dropped and counted, and everything else goes to
    the dead-letter topic with its reason.
    """

    def raw_topic(name: str, *, internal: bool = False) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            internal=internal,
        )

    targets = {
        Route.BY_ASSET: topics.events_by_asset,
        Route.UNMATCHED_HOTLINE: topics.hotline_unmatched,
    }
    dlq = topics.dlq

    async def producer_send(
        topic: str, key: bytes | None, value: bytes, timestamp: float | None
    ) -> None:
        # Straight to the producer: Faust's Topic.send costs several times more
        # per message. Delivery is still at-least-once, because Faust flushes
        # the producer before it commits consumer offsets.
        await app.producer.send(topic, key, value, None, timestamp, None)

    async def forward(decision: Forward) -> None:
        event: AnyEvent = decision.event
        metrics.events_consumed.labels(event.kind).inc()
        if decision.route is Route.UNMATCHED_HOTLINE:
            metrics.hotline_unmatched.inc()
        if decision.unknown_service_code:
            metrics.unknown_service_codes.inc()
        await producer_send(
            targets[decision.route],
            decision.key.encode(),
            encode(event),
            event.event_time.timestamp(),
        )

    def make_agent(role: str, topic_name: str) -> None:
        async def ingest_agent(stream: Any) -> None:
            async for event in stream.events():
                message = event.message
                started = time.perf_counter()
                metrics.messages_received.labels(role).inc()
                decision = _decide(ingest, message.value, clock)
                if isinstance(decision, Forward):
                    await forward(decision)
                elif isinstance(decision, Duplicate):
                    metrics.duplicates.labels(decision.event.kind).inc()
                else:
                    metrics.dead_letters.labels(decision.error.reason.value, role).inc()
                    record = dead_letter_for(message, decision.error, clock)
                    await producer_send(dlq, message.key, encode(record), None)
                metrics.dedup_ids.set(ingest.remembered_ids)
                metrics.ingest_seconds.observe(time.perf_counter() - started)

        app.agent(raw_topic(topic_name), name=f"gridwatch.ingest.{role}")(ingest_agent)

    make_agent("sensor", topics.sensor)
    make_agent("hotline", topics.hotline)
    make_agent("inspection", topics.inspection)
