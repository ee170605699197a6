"""The hotline router: each case to its asset's partition, and progress to every partition.

Hotline cases are keyed by ``service_request_id``; the engine needs them on
the partition of their asset. The router validates each case (invalid ones are
dead-lettered here, once), matches a case without ``asset_id`` to the nearest
fitting asset, and forwards the original bytes to that partition of the
repartition topic (:mod:`streams.core.repartition`). After every batch, and
on a timer, it tells every partition how far each hotline partition it holds
has been forwarded in event time and whether it is caught up: the engine tasks
treat each hotline partition as one ordered source.

How fresh those markers are bounds every event's latency: a reading waits in
the merge until each hotline partition was seen caught up ``idle_wait_s`` after
it arrived, *and that was announced*. So while inputs flow the timer announces
every ``busy_heartbeat_s`` (an eighth of the idle wait), and otherwise every
``heartbeat_s``; each announcement is one marker per partition, whatever the
number of hotline partitions held.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from schemas import DeadLetterReason, DecodeError, HotlineCase
from streams.core.clock import Clock
from streams.core.ingest import Accepted, Intake
from streams.core.repartition import Origin, Progress, forward_headers, progress_message
from streams.core.topics import Topics
from streams.engine.pipeline import RiskPipeline
from streams.runtime.agents.common import (
    DeadLetters,
    Message,
    Outbox,
    is_stale,
    partition_for,
    timestamp_ms,
)
from streams.runtime.agents.consumer import ConsumerView
from streams.runtime.agents.offsets import GuardedIntake
from streams.runtime.agents.state import RegistryFeed
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)


class HotlineRouter:
    """Validates, matches and forwards hotline cases; announces each partition's progress.

    Args:
        topics: Topic names.
        partitions: Partitions of the repartition topic (and of every input).
        intake: Validation.
        pipeline: Spatial matching (its registry kept fresh by ``registry``).
        registry: The registry feed.
        metrics: The worker's metrics.
        clock: Wall clock (future-time limit).
        outbox: Where records go.
        dead_letters: Where rejected messages go.
        consumer: Where high watermarks and the assignment come from.
        heartbeat_s: How often the router repeats its progress while no input flows.
        busy_heartbeat_s: How often it repeats it while inputs flow (``busy``).
        busy: Whether inputs flow to this worker (they wait for the markers).
        observe: Told of every message received (topic, partition, offset, wall time).
        generation: The consumer's current group generation (see :func:`is_stale`).
        wall: Wall-clock seconds (injected by tests).
    """

    def __init__(
        self,
        topics: Topics,
        partitions: int,
        intake: Intake,
        pipeline: RiskPipeline,
        registry: RegistryFeed,
        metrics: Metrics,
        clock: Clock,
        outbox: Outbox,
        dead_letters: DeadLetters,
        consumer: ConsumerView,
        *,
        heartbeat_s: float,
        busy_heartbeat_s: float | None = None,
        busy: Callable[[], bool] = lambda: False,
        observe: Callable[[str, int, int, float], None] | None = None,
        generation: Callable[[], int | None] = lambda: None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._topics = topics
        self._partitions = partitions
        self._intake = intake
        self._pipeline = pipeline
        self._registry = registry
        self._metrics = metrics
        self._clock = clock
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._consumer = consumer
        self._offsets = GuardedIntake(consumer, metrics.offset_rereads.inc, metrics.offset_gaps.inc)
        self.heartbeat_s = heartbeat_s
        self.busy_heartbeat_s = heartbeat_s if busy_heartbeat_s is None else busy_heartbeat_s
        self._busy = busy
        self.last_input_at = 0.0
        """Wall time a hotline case last arrived."""
        self._announced: dict[int, float] = {}
        self._observe = observe
        self._generation = generation
        self._wall = wall
        # A heartbeat must not run between a forward and the progress it implies:
        # its marker would overtake the forwarded case on the way to the broker.
        self._lock = asyncio.Lock()
        self._accepting = True
        self._progress: dict[int, float] = {}
        self._next: dict[int, int] = {}
        self._received = metrics.messages_received.labels("hotline")
        self._matched = metrics.hotline_matches.labels("matched")
        self._unmatched = metrics.hotline_matches.labels("unmatched")

    async def handle_batch(self, events: Iterable[Any]) -> list[Awaitable[Any]]:
        """Route a batch of Faust events (messages with ``ack()``); then announce progress.

        Each message is acknowledged once its forward (or dead letter) is in the
        producer, which Faust flushes before it commits.
        """
        async with self._lock:
            if not self._accepting:
                return []
            sent: list[Awaitable[Any]] = [
                await self._dead_letters.send_letter(letter, "assets")
                for letter in self._registry.refresh()
            ]
            touched: set[int] = set()
            generation = self._generation()
            for event in events:
                message: Message = event.message
                if is_stale(message, generation):
                    continue  # fetched before a rebalance: delivered again from the commit
                if not self._offsets.admit(message.topic, message.partition, message.offset):
                    continue  # offsets before it were skipped: read again from the first
                touched.add(message.partition)
                try:
                    sent.extend(await self._route(message))
                # Policy: a failure on one message is that message's dead letter, never a
                # lost batch or a stopped agent.
                except Exception as exc:
                    log.exception(
                        "internal error on hotline[%d]@%d", message.partition, message.offset
                    )
                    error = DecodeError(
                        DeadLetterReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"
                    )
                    sent.append(await self._dead_letters.send(message, error, "hotline"))
                event.ack()
            now = self._wall()
            if touched:
                self.last_input_at = now
                sent.extend(await self._announce(sorted(touched), now))
            await self._offsets.seek()
            return sent

    async def heartbeat(self) -> None:
        """Repeat the progress of the hotline partitions held; re-read held-back ones (timer).

        The timer fires every ``busy_heartbeat_s``; the progress is repeated when
        that long has passed while inputs flow, or ``heartbeat_s`` otherwise.
        """
        async with self._lock:
            if not self._accepting:
                return
            now = self._wall()
            every = self.busy_heartbeat_s if self._busy() else self.heartbeat_s
            held = sorted(self._consumer.assigned(self._topics.hotline))
            if any(now - self._announced.get(partition, 0.0) >= every for partition in held):
                await self._announce(held, now)  # all of them: the marker costs the same
            await self._offsets.seek()

    async def on_partitions_revoked(self, *args: Any, **kwargs: Any) -> None:
        """Stop until the next assignment; forget what was learnt of partitions.

        After a rebalance Faust delivers again from the committed offsets, and a
        partition may have a new owner who announces its progress from then on.
        """
        async with self._lock:
            self._accepting = False
            self._progress.clear()
            self._next.clear()
            self._announced.clear()
            self._offsets.forget()

    async def on_partitions_assigned(self, *args: Any, **kwargs: Any) -> None:
        """Route and announce again."""
        async with self._lock:
            self._accepting = True

    async def _route(self, message: Message) -> list[Awaitable[Any]]:
        self._received.inc()
        partition, offset = message.partition, message.offset
        if self._observe is not None:
            self._observe(message.topic, partition, offset, self._wall())
        if offset < self._next.get(partition, 0):
            # Delivered again after it was routed (the consumer sought back): done already.
            self._metrics.redelivered.inc()
            return []
        if offset + 1 > self._next.get(partition, 0):
            self._next[partition] = offset + 1
        decision = self._intake.event(message.value, self._clock.now())
        if not isinstance(decision, Accepted):
            return [await self._dead_letters.send(message, decision.error, "hotline")]
        item = decision.item
        self._metrics.events_consumed.labels(item.kind).inc()
        if decision.unknown_service_code:
            self._metrics.unknown_service_codes.inc()
        t = item.event_time.timestamp()
        if t > self._progress.get(partition, float("-inf")):
            self._progress[partition] = t
        asset_id = item.asset_id
        if asset_id is None and isinstance(item, HotlineCase):
            matched = self._pipeline.match(item)
            asset_id = None if matched is None else matched.asset_id
            if asset_id is None:
                self._unmatched.inc()
                return []
            self._matched.inc()
        if asset_id is None:  # pragma: no cover - events always name an asset
            return []
        origin = Origin(message.topic, partition, offset, timestamp_ms(message), message.key)
        return [
            await self._outbox.send(
                self._topics.events_by_asset,
                asset_id.encode(),
                message.value,
                timestamp=t,
                partition=partition_for(asset_id, self._partitions),
                headers=forward_headers("case", asset_id, origin),
            )
        ]

    async def _announce(self, partitions: list[int], now: float) -> list[Awaitable[Any]]:
        """Send every partition one marker with the progress of ``partitions``."""
        progress = [self._progress_of(partition, now) for partition in partitions]
        headers, value = progress_message(progress)
        for partition in partitions:
            self._announced[partition] = now
        self._metrics.progress_markers.inc(self._partitions)
        return [
            await self._outbox.send(
                self._topics.events_by_asset, None, value, partition=target, headers=headers
            )
            for target in range(self._partitions)
        ]

    def _progress_of(self, partition: int, now: float) -> Progress:
        following = self._next.get(partition)
        if following is None:
            following = self._consumer.start_offset(self._topics.hotline, partition)
        fetched = self._consumer.highwater(self._topics.hotline, partition)
        caught_up_at: float | None = None
        if fetched is not None and following is not None and following >= fetched[0]:
            # Caught up as of the fetch that reported that end offset, not now.
            caught_up_at = min(fetched[1], now)
        return Progress(partition, self._progress.get(partition), caught_up_at)

    async def run(self, stream: Any) -> None:
        """The Faust agent loop: batches of up to 500 messages or 20 ms."""
        async for batch in stream.noack_take(500, 0.02):
            await self.handle_batch(batch)
