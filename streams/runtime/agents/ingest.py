"""The ingest agents: one per input topic, validating and routing every message."""

from __future__ import annotations

import logging
import time
from typing import Any

from schemas import (
    AnyEvent,
    DeadLetterReason,
    DecodeError,
    encode,
)
from streams.core.clock import Clock
from streams.core.ingest import Duplicate, Forward, Ingest, IngestDecision, Reject, Route
from streams.core.topics import Topics
from streams.runtime.agents.common import RAW, dead_letter, produce
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)


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
    targets = {
        Route.BY_ASSET: topics.events_by_asset,
        Route.UNMATCHED_HOTLINE: topics.hotline_unmatched,
    }
    # Metric children bound once, not looked up per message.
    kinds = ("sensor", "hotline", "inspection")
    consumed = {kind: metrics.events_consumed.labels(kind) for kind in kinds}
    duplicates = {kind: metrics.duplicates.labels(kind) for kind in kinds}

    async def forward(decision: Forward) -> None:
        event: AnyEvent = decision.event
        consumed[event.kind].inc()
        if decision.route is Route.UNMATCHED_HOTLINE:
            metrics.hotline_unmatched.inc()
        if decision.unknown_service_code:
            metrics.unknown_service_codes.inc()
        await produce(
            app,
            targets[decision.route],
            decision.key.encode(),
            encode(event),
            event.event_time.timestamp(),
        )

    def make_agent(role: str, topic_name: str) -> None:
        received = metrics.messages_received.labels(role)

        async def ingest_agent(stream: Any) -> None:
            async for event in stream.events():
                message = event.message
                started = time.perf_counter()
                received.inc()
                decision = _decide(ingest, message.value, clock)
                if isinstance(decision, Forward):
                    await forward(decision)
                elif isinstance(decision, Duplicate):
                    duplicates[decision.event.kind].inc()
                else:
                    await dead_letter(
                        app, topics.dlq, message, decision.error,
                        metrics=metrics, clock=clock, source=role,
                    )  # fmt: skip
                metrics.dedup_ids.set(ingest.remembered_ids)
                metrics.ingest_seconds.observe(time.perf_counter() - started)

        app.agent(app.topic(topic_name, schema=RAW), name=f"gridwatch.ingest.{role}")(ingest_agent)

    make_agent("sensor", topics.sensor)
    make_agent("hotline", topics.hotline)
    make_agent("inspection", topics.inspection)
