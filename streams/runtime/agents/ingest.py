"""The ingest agents: one per input topic, validating and routing every message."""

from __future__ import annotations

import logging
import time
from typing import Any

from schemas import AnyEvent, DeadLetterReason, DecodeError, encode
from streams.core.clock import Clock
from streams.core.ingest import Duplicate, Forward, Ingest, IngestDecision, Reject, Route
from streams.core.topics import Topics
from streams.runtime.agents.common import DeadLetters, Message, Outbox
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)

KINDS = ("sensor", "hotline", "inspection")


class IngestAgent:
    """Decode, validate, de-duplicate and route the messages of one input topic.

    Valid events go to the per-asset stream (or the unmatched-hotline holding
    topic), duplicates are dropped and counted, and everything else goes to
    the dead-letter topic with its reason.

    Args:
        role: The input's role (``sensor``, ``hotline``, ``inspection``), for metrics.
        topics: Topic names.
        ingest: The ingest policy (shared by the agents of one worker).
        metrics: The worker's metrics.
        clock: Wall clock for the future-event-time limit.
        outbox: Where records go.
        dead_letters: Where rejected messages go.
    """

    def __init__(
        self,
        role: str,
        topics: Topics,
        ingest: Ingest,
        metrics: Metrics,
        clock: Clock,
        outbox: Outbox,
        dead_letters: DeadLetters,
    ) -> None:
        self.role = role
        self._ingest = ingest
        self._metrics = metrics
        self._clock = clock
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._targets = {
            Route.BY_ASSET: topics.events_by_asset,
            Route.UNMATCHED_HOTLINE: topics.hotline_unmatched,
        }
        # Metric children bound once, not looked up per message.
        self._received = metrics.messages_received.labels(role)
        self._consumed = {kind: metrics.events_consumed.labels(kind) for kind in KINDS}
        self._duplicates = {kind: metrics.duplicates.labels(kind) for kind in KINDS}

    def decide(self, value: bytes | None) -> IngestDecision:
        """The ingest decision for one value; a bug becomes a ``processing_error`` rejection."""
        try:
            return self._ingest.handle(value, self._clock.now())
        # A bug on one message must not stop the worker: it is logged and dead-lettered.
        except Exception as exc:
            log.exception("ingest failed on a message; dead-lettering it")
            return Reject(
                DecodeError(DeadLetterReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
            )

    async def handle(self, message: Message) -> None:
        """Carry out the decision for one message."""
        started = time.perf_counter()
        self._received.inc()
        decision = self.decide(message.value)
        if isinstance(decision, Forward):
            await self._forward(decision)
        elif isinstance(decision, Duplicate):
            self._duplicates[decision.event.kind].inc()
        else:
            await self._dead_letters.send(message, decision.error, self.role)
        self._metrics.dedup_ids.set(self._ingest.remembered_ids)
        self._metrics.ingest_seconds.observe(time.perf_counter() - started)

    async def _forward(self, decision: Forward) -> None:
        event: AnyEvent = decision.event
        self._consumed[event.kind].inc()
        if decision.route is Route.UNMATCHED_HOTLINE:
            self._metrics.hotline_unmatched.inc()
        if decision.unknown_service_code:
            self._metrics.unknown_service_codes.inc()
        await self._outbox.send(
            self._targets[decision.route],
            decision.key.encode(),
            encode(event),
            event.event_time.timestamp(),
        )

    async def run(self, stream: Any) -> None:
        """The Faust agent loop."""
        async for event in stream.events():
            await self.handle(event.message)
