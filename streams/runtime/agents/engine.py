"""The engine agent: each partition's inputs, merged in event time, through the risk engine.

It reads partition ``p`` of the sensor, inspection and acks topics directly and
of the repartition topic (hotline cases and progress markers), validates what
it reads, and merges everything per partition in event time
(:class:`~streams.core.task.PartitionTask`) before the engine applies it, so
the alerts do not depend on how the inputs interleave on arrival.

Crash safety, per batch: the alerts, risk states and dead letters an item
causes are acknowledged by the broker *before* the asset states are written
to the changelog-backed table (stamped with the task's frontier), an input
message is acknowledged only once the broker has those states too, and only
once everything before it in its partition is finished. After a crash the
worker resumes from the committed offsets with the persisted states: a
message before an asset's frontier was applied and is skipped, anything later
is applied again and gives the same bytes again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas import DeadLetterReason, DecodeError, HotlineCase, encode
from streams.core.clock import Clock
from streams.core.ingest import Accepted, Intake, Item, item_id
from streams.core.repartition import (
    Forwarded,
    Origin,
    RepartitionFormatError,
    forward_headers,
    read,
)
from streams.core.task import (
    DIRECT_SOURCES,
    Admission,
    BrokerContact,
    PartitionTask,
    Pending,
    hotline_source,
)
from streams.core.topics import Topics
from streams.engine.pipeline import RiskPipeline
from streams.runtime.agents.acks import OrderedAcks
from streams.runtime.agents.common import (
    DeadLetters,
    Message,
    Outbox,
    dead_letter_for,
    headers_of,
    is_stale,
    partition_for,
    timestamp_ms,
)
from streams.runtime.agents.consumer import ConsumerView
from streams.runtime.agents.offsets import GuardedIntake
from streams.runtime.agents.state import RegistryFeed, TableStateStore
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)

KINDS = ("sensor", "hotline", "inspection", "ack")
"""Event kinds, as the counters label them."""
YIELD_EVERY = 1_000
"""A batch gives the event loop a turn after this many messages, and a round after
this many applied events (whose counts it then adds to the counters).

A fetch of a backlog is some 16,000 messages, and a worker started on a
backlog releases all it buffered in one round: seconds of work that the
hotline router (whose progress markers the merge waits for), the consumer and
the web server would wait for. A round is not cut short instead: each round
writes the state of every asset it touched, and rounds of 10,000 events cut a
10,000-asset worker's throughput from 8.8k to 2.8k events/s.
"""
PERSIST_EVERY_S = 5.0
"""While events wait in a merge, touched states are written at most this often.

Every write of a round's states costs a changelog record per touched asset
(a 1,000-asset city touches all of them in every round of a backlog) and a
round trip to the broker before the round's messages are acknowledged. Under
a backlog the states of several rounds are written together, as Kafka Streams'
record cache writes a store's changelog once per commit; the rounds' messages
are acknowledged once their states are in the changelog, so a crash in between
only means they are read and applied again. Once nothing waits, the states are
written at the end of the round, as before.

Five seconds, not one: each asset's state is written once per interval however
many of its events were applied, so a longer one writes fewer records for the
same events. On one worker a 10,000-asset backlog went from 5.3k to 7.8k
events/s and its recovery from 11.1 to 6.2 s (fewer changelog records to
read), a 1,000-asset one from 10.4-11.7k to 12.9-13.8k; at 5k events/s live
the p50 latency halved. The price is at most five more seconds of input read
and applied again after a crash or a rebalance (Kafka Streams commits every
30 s by default).
"""
BROKER_SILENCE_S = 10.0
"""No fetch response for this long: the broker is unreachable, no input is passed over."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """What the agent needs to finish a merged item: its Kafka message and its origin.

    Attributes:
        partition: The (topic, partition) of the message to acknowledge.
        offset: Its offset.
        origin: Where the event entered gridwatch (for a late event's dead letter).
        value: The event's original bytes (likewise).
    """

    partition: Any
    offset: int
    origin: Origin
    value: bytes | None


@dataclass
class _Batch:
    """What one round produced: broker futures, and messages to finish after persisting.

    Attributes:
        at: The clock's time for the whole round (validation, lag).
        sent: Futures of the records sent.
        finish: Messages to finish once everything is persisted.
        newest_applied: Event time (epoch seconds) of the last item applied (lag).
        received: Messages received per input role, consumed and applied events per
            kind: added to the counters once per round (a counter's lock per message
            cost more than the counting).
    """

    at: datetime
    sent: list[Awaitable[Any]] = field(default_factory=list)
    finish: list[tuple[Any, int]] = field(default_factory=list)
    newest_applied: float | None = None
    received: Counter[str] = field(default_factory=Counter)
    consumed: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)


class EngineAgent:
    """Merges each partition's inputs in event time and runs them through the engine.

    Args:
        topics: Topic names.
        partitions: Partitions of every input (co-partitioned).
        intake: Validation.
        pipeline: Matching and the engine (its store is ``store``).
        store: The changelog-backed state store.
        registry: The registry feed.
        metrics: The worker's metrics.
        clock: Wall clock (future-time limit).
        outbox: Where records go.
        dead_letters: Where rejected messages go.
        consumer: High watermarks, for telling a quiet input from a lagging one.
        idle_wait_s: See :class:`~streams.core.merge.EventTimeMerge`.
        max_wait_s: See :class:`~streams.core.merge.EventTimeMerge`.
        observe: Told of every message received (topic, partition, offset, wall time).
        generation: The consumer's current group generation; a message fetched in an
            earlier one is stale (Faust delivers it again from the committed offset).
        flush: Waits until the producer has delivered everything handed to it.
        wall: Wall-clock seconds (injected by tests).
    """

    def __init__(
        self,
        topics: Topics,
        partitions: int,
        intake: Intake,
        pipeline: RiskPipeline,
        store: TableStateStore,
        registry: RegistryFeed,
        metrics: Metrics,
        clock: Clock,
        outbox: Outbox,
        dead_letters: DeadLetters,
        consumer: ConsumerView,
        *,
        idle_wait_s: float,
        max_wait_s: float | None,
        observe: Callable[[str, int, int, float], None] | None = None,
        generation: Callable[[], int | None] = lambda: None,
        wall: Callable[[], float] = time.time,
        flush: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self._topics = topics
        self._partitions = partitions
        self._intake = intake
        self._pipeline = pipeline
        self._store = store
        self._registry = registry
        self._metrics = metrics
        self._clock = clock
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._consumer = consumer
        self._idle_wait_s = idle_wait_s
        self._max_wait_s = max_wait_s
        self._observe = observe
        self._generation = generation
        self._wall = wall
        self._flush = flush
        # False between a revocation and the next assignment: nothing is handled
        # then, so no state is written for partitions another worker may now own.
        self._accepting = True
        self._roles = {
            topics.sensor: "sensor",
            topics.inspection: "inspection",
            topics.acks: "acks",
            topics.events_by_asset: "repartition",
        }
        self._direct_topics = {"sensor": topics.sensor, "inspection": topics.inspection,
                               "acks": topics.acks}  # fmt: skip
        self.tasks: dict[int, PartitionTask[Ticket]] = {}
        self.acks = OrderedAcks(lambda handle: handle.ack())
        self._offsets = GuardedIntake(consumer, metrics.offset_rereads.inc, metrics.offset_gaps.inc)
        self.lock = asyncio.Lock()
        self._passed_over = 0
        self._broker = BrokerContact(BROKER_SILENCE_S)
        self._unfinished: list[tuple[Any, int]] = []  # acknowledged once their states are written
        self._persisted_at = 0.0
        self.last_input_at = 0.0
        """Wall time an input event (not a progress marker) last arrived."""
        self._engine_events = {kind: metrics.engine_events.labels(kind) for kind in KINDS}
        self._first_applied = metrics.engine_first_applied
        self._last_applied = metrics.engine_last_applied
        self._applied_any = False
        self._consumed = {kind: metrics.events_consumed.labels(kind) for kind in KINDS}
        self._received = {
            role: metrics.messages_received.labels(role)
            for role in ("sensor", "inspection", "acks", "internal")
        }

    # -- the Faust side

    async def run(self, stream: Any) -> None:
        """The Faust agent loop: one batch per fetch.

        The consumer hands the engine's topics over a fetch at a time, as a list
        (``faust_compat.BATCHED_TOPICS_ATTR``); a single Faust event (the
        consumer without that patch) is a batch of one. Nothing is acknowledged
        by the stream: the agent acknowledges each message once it is finished.
        """
        async for value in stream.noack():
            await self.handle_batch(value if isinstance(value, list) else [value])

    async def tick(self) -> None:
        """Release what waited for a quiet input, and re-read held-back partitions (timer)."""
        async with self.lock:
            if not self._accepting:
                return
            if any(task.waiting() for task in self.tasks.values()):
                await self._finish_round(_Batch(self._clock.now()), self._wall())
            elif self._unfinished or self._pipeline.engine.dirty:
                await self._persist(self._wall())
            await self._offsets.seek()

    async def on_partitions_revoked(self, *args: Any, **kwargs: Any) -> None:
        """Stop, deliver what was written, and forget every task.

        Faust flushes its producer before it tells agents of a revocation; a
        batch that was still running wrote after that flush, so flush again:
        the next owner of a partition must find every state written here in the
        changelog when it recovers, or a late write could overwrite its own.
        After the rebalance Faust delivers again from the committed offsets.
        """
        async with self.lock:
            self._accepting = False
            if self._flush is not None:
                await self._flush()
            self.tasks.clear()
            self.acks.clear()
            self._unfinished.clear()  # not written: read again by the partitions' next owner
            self._offsets.forget()
            self._store.forget()
            self._pipeline.engine.dirty.clear()

    async def on_partitions_assigned(self, *args: Any, **kwargs: Any) -> None:
        """Handle messages again (those of the new generation)."""
        async with self.lock:
            self._accepting = True

    # -- one batch

    async def handle_batch(self, events: Iterable[Any]) -> None:
        """Take a batch of Faust events (messages with ``ack()``) through the merge.

        The merge counts an event as arrived when its fetch came (``fetched_at``
        of a :class:`~streams.runtime.faust_compat.Fetched`), however long it then
        waited in the agent's queue behind a backlog: a quiet input seen caught
        up ``idle_wait_s`` later covers it. A Faust event arrives now.
        """
        async with self.lock:
            if not self._accepting:
                return  # a rebalance is running: Faust delivers these again afterwards
            batch = _Batch(self._clock.now())
            for letter in self._registry.refresh():
                batch.sent.append(await self._dead_letters.send_letter(letter, "assets"))
            now = self._wall()
            generation = self._generation()
            for count, event in enumerate(events, start=1):
                if not count % YIELD_EVERY:
                    await asyncio.sleep(0)  # a turn for the router, the consumer, the web
                message: Message = event.message
                if is_stale(message, generation):
                    continue  # fetched before a rebalance: delivered again from the commit
                if not self._offsets.admit(message.topic, message.partition, message.offset):
                    continue  # offsets before it were skipped: read again from the first
                arrival = min(getattr(event, "fetched_at", now), now)
                tp = (message.topic, message.partition)
                self.acks.track(tp, message.offset, event)
                if self._observe is not None:
                    self._observe(message.topic, message.partition, message.offset, now)
                role = self._roles.get(message.topic)
                task = self._task(message.partition, now)
                try:
                    if role == "repartition":
                        batch.received["internal"] += 1
                        await self._internal(task, message, arrival, batch)
                    elif role is not None:
                        batch.received[role] += 1
                        await self._direct(task, role, message, arrival, batch)
                    else:  # pragma: no cover - the agent subscribes to these topics only
                        batch.finish.append((tp, message.offset))
                # Policy: a failure on one message is that message's dead letter, never a
                # lost batch or a stopped agent.
                except Exception as exc:  # noqa: BLE001
                    await self._failed(message, exc, role or "engine", batch)
            if any(role != "internal" for role in batch.received):
                self.last_input_at = now  # a direct input came (once per batch, not per message)
            await self._finish_round(batch, now)
            await self._offsets.seek()

    async def _failed(self, message: Message, exc: Exception, source: str, batch: _Batch) -> None:
        """Dead-letter one message gridwatch failed on (``internal_error``) and finish it."""
        log.exception(
            "internal error on %s[%d]@%d", message.topic, message.partition, message.offset
        )
        error = DecodeError(DeadLetterReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        batch.sent.append(await self._dead_letters.send(message, error, source))
        batch.finish.append(((message.topic, message.partition), message.offset))

    def _task(self, partition: int, now: float) -> PartitionTask[Ticket]:
        task = self.tasks.get(partition)
        if task is None:
            task = PartitionTask(
                partition,
                self._partitions,
                idle_wait_s=self._idle_wait_s,
                max_wait_s=self._max_wait_s,
                now=now,
            )
            self.tasks[partition] = task
        return task

    async def _direct(
        self, task: PartitionTask[Ticket], role: str, message: Message, now: float, batch: _Batch
    ) -> None:
        tp = (message.topic, message.partition)
        if task.is_buffered(role, message.offset):
            return  # delivered twice while waiting in the merge: both finish together
        following = task.next_offset(role)
        if following is not None and message.offset < following:
            # Delivered again after this task handled it (the consumer sought back to
            # the committed offset): handled already, finish it again.
            self._metrics.redelivered.inc()
            batch.finish.append((tp, message.offset))
            return
        task.seen(role, message.offset)
        decide = self._intake.ack if role == "acks" else self._intake.event
        decision = decide(message.value, batch.at)
        if not isinstance(decision, Accepted):
            batch.sent.append(await self._dead_letters.send(message, decision.error, role))
            batch.finish.append((tp, message.offset))
            return
        item = decision.item
        if decision.unknown_service_code:
            self._metrics.unknown_service_codes.inc()
        batch.consumed[item.kind] += 1
        origin = Origin(
            message.topic, message.partition, message.offset, timestamp_ms(message), message.key
        )
        asset_id = item.asset_id
        if asset_id is None and isinstance(item, HotlineCase):
            matched = self._pipeline.match(item)
            asset_id = None if matched is None else matched.asset_id
            if matched is None or asset_id is None:
                self._metrics.hotline_matches.labels("unmatched").inc()
                batch.finish.append((tp, message.offset))
                return
            item = matched
        assert asset_id is not None
        target = partition_for(asset_id, self._partitions)
        if target != task.partition:
            # Keyed or partitioned differently from asset_id: forward, apply on arrival.
            self._metrics.rerouted.inc()
            batch.sent.append(
                await self._outbox.send(
                    self._topics.events_by_asset,
                    asset_id.encode(),
                    message.value,
                    timestamp=item.event_time.timestamp(),
                    partition=target,
                    headers=forward_headers("reroute", asset_id, origin),
                )
            )
            batch.finish.append((tp, message.offset))
            return
        ticket = Ticket(tp, message.offset, origin, message.value)
        pending = Pending(item, role, message.offset, ticket)
        admission = task.push(pending, now)
        if admission is not Admission.BUFFERED:
            if admission is Admission.STRAGGLER:
                self._straggler(task, pending)
            await self._apply(pending, batch)

    async def _internal(
        self, task: PartitionTask[Ticket], message: Message, now: float, batch: _Batch
    ) -> None:
        tp = (message.topic, message.partition)
        try:
            decoded = read(headers_of(message), message.value)
        except RepartitionFormatError as exc:
            error = DecodeError(DeadLetterReason.INTERNAL_ERROR, str(exc))
            batch.sent.append(await self._dead_letters.send(message, error, "internal"))
            batch.finish.append((tp, message.offset))
            return
        if isinstance(decoded, tuple):  # progress of the hotline partitions a router holds
            for progress in decoded:
                task.progress(
                    hotline_source(progress.partition),
                    progress.event_time,
                    progress.caught_up_at,
                    now,
                )
            batch.finish.append((tp, message.offset))
            return
        self.last_input_at = now
        item = self._forwarded_item(decoded, batch.at)
        if item is None:
            error = DecodeError(DeadLetterReason.INTERNAL_ERROR, "forwarded event no longer valid")
            await self._dead_letter_origin(decoded.origin, decoded.value, error, "internal", batch)
            batch.finish.append((tp, message.offset))
            return
        ticket = Ticket(tp, message.offset, decoded.origin, decoded.value)
        if decoded.kind == "reroute":
            await self._apply(
                Pending(item, "rerouted", message.offset, ticket), batch, origin=False
            )
            return
        source = hotline_source(decoded.origin.partition)
        offset = decoded.origin.offset
        following = task.next_offset(source)
        if task.is_buffered(source, offset) or (following is not None and offset < following):
            batch.finish.append((tp, message.offset))  # forwarded twice (the router restarted)
            return
        pending = Pending(item, source, offset, ticket)
        admission = task.push(pending, now)
        if admission is not Admission.BUFFERED:
            if admission is Admission.STRAGGLER:
                self._straggler(task, pending)
            await self._apply(pending, batch)

    def _straggler(self, task: PartitionTask[Ticket], pending: Pending[Ticket]) -> None:
        self._metrics.stragglers.inc()
        log.warning(
            "event %s (%s offset %d, event time %s) arrived after its asset applied a later "
            "one (partition %d): applied on arrival, out of order",
            item_id(pending.item),
            pending.source,
            pending.offset,
            pending.item.event_time.isoformat(),
            task.partition,
        )

    def _forwarded_item(self, forwarded: Forwarded, at: datetime) -> Item | None:
        decision = self._intake.event(forwarded.value, at)
        if not isinstance(decision, Accepted):
            return None
        item = decision.item
        if isinstance(item, HotlineCase) and item.asset_id is None:
            item = item.model_copy(update={"asset_id": forwarded.asset_id})
        return item

    # -- releasing, applying, persisting

    async def _finish_round(self, batch: _Batch, now: float) -> None:
        """Release, apply, send and persist; the loop gets a turn every :data:`YIELD_EVERY`."""
        answering_since = self._broker.answering_since(self._consumer.last_fetch_at(), now)
        since_turn = 0
        for task in self.tasks.values():
            await self._observe_direct_sources(task, now)
            for pending in task.release(now, answering_since=answering_since):
                await self._apply(pending, batch)
                since_turn += 1
                if since_turn == YIELD_EVERY:
                    since_turn = 0
                    self._count(batch)  # progress shows while a long round runs
                    await asyncio.sleep(0)
        passed_over = sum(task.merge.passed_over for task in self.tasks.values())
        if passed_over > self._passed_over:
            self._metrics.merge_passed_over.inc(passed_over - self._passed_over)
            log.warning(
                "an input showed no progress for %ss and was passed over: %s",
                self._max_wait_s,
                ", ".join(
                    f"partition {task.partition} {task.merge.last_passed_over}"
                    for task in self.tasks.values()
                    if task.merge.last_passed_over is not None
                ),
            )
        self._passed_over = passed_over
        waiting = sum(task.waiting() for task in self.tasks.values())
        self._metrics.merge_waiting.set(waiting)
        self._count(batch)
        if batch.newest_applied is not None:
            lag = self._clock.now().timestamp() - batch.newest_applied
            self._metrics.stream_lag.set(max(0.0, lag))
        if batch.sent:
            await asyncio.gather(*batch.sent)
        self._unfinished.extend(batch.finish)
        if waiting and now - self._persisted_at < PERSIST_EVERY_S:
            return  # a backlog: this round's states are written with a later round's
        await self._persist(now)

    async def _persist(self, now: float) -> None:
        """Write the touched states, then acknowledge the messages they cover."""
        self._persisted_at = now
        # Taken with the states: a message finished after this is covered by a later write.
        unfinished, self._unfinished = self._unfinished, []
        states = self._pipeline.engine.drain_dirty()
        if states:
            # A task's frontier is the same for all its assets this round: built once
            # per task (it scans the task's buffered offsets), a copy for each state.
            frontiers: dict[int, dict[str, int]] = {}

            def frontier_of(asset_id: str) -> dict[str, int]:
                partition = partition_for(asset_id, self._partitions)
                frontier = frontiers.get(partition)
                if frontier is None:
                    task = self.tasks.get(partition)
                    frontier = frontiers[partition] = {} if task is None else task.frontier()
                return dict(frontier)

            self._metrics.state_writes.inc(self._store.persist(states, frontier_of))
            await self._store.delivered()
        for tp, offset in unfinished:
            self.acks.finish(tp, offset)

    def _count(self, batch: _Batch) -> None:
        """Add the round's counts so far to the counters (and start them again)."""
        if batch.applied:
            # The wall times of the first and the latest count: when the engine
            # started applying (start-up) and whether it still does (staleness).
            at = time.time()
            if not self._applied_any:
                self._applied_any = True
                self._first_applied.set(at)
            self._last_applied.set(at)
        for counters, counts in (
            (self._received, batch.received),
            (self._consumed, batch.consumed),
            (self._engine_events, batch.applied),
        ):
            for name, count in counts.items():
                counters[name].inc(count)
            counts.clear()

    async def _observe_direct_sources(self, task: PartitionTask[Ticket], now: float) -> None:
        """Tell the merge which direct inputs are caught up, and as of when.

        Caught up means the agent has received everything up to the end offset
        of the partition's last fetch; that fetch's time (not now) is when it
        held: records still waiting in the client are not fetched again yet.
        """
        for role in DIRECT_SOURCES:
            topic = self._direct_topics[role]
            fetched = self._consumer.highwater(topic, task.partition)
            if fetched is None:
                continue
            highwater, fetched_at = fetched
            following = task.next_offset(role)
            if following is None:
                # Nothing delivered since the assignment: did consumption start at the end?
                following = self._consumer.start_offset(topic, task.partition)
            if following is not None and following >= highwater:
                task.caught_up(role, min(fetched_at, now))
            else:
                task.caught_up(role, None)

    async def _apply(self, pending: Pending[Ticket], batch: _Batch, *, origin: bool = True) -> None:
        """Run one item through the engine; a failure becomes its dead letter."""
        try:
            await self._apply_item(pending, batch, origin=origin)
        # Policy: a failure on one item is that item's dead letter (see handle_batch).
        except Exception as exc:
            log.exception("internal error applying %s", item_id(pending.item))
            error = DecodeError(DeadLetterReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            await self._dead_letter_ticket(pending.ticket, error, batch)
            batch.finish.append((pending.ticket.partition, pending.ticket.offset))

    async def _dead_letter_ticket(self, ticket: Ticket, error: DecodeError, batch: _Batch) -> None:
        """Dead-letter the input message a ticket stands for (its origin, its bytes)."""
        await self._dead_letter_origin(ticket.origin, ticket.value, error, "engine", batch)

    async def _dead_letter_origin(
        self, origin: Origin, value: bytes | None, error: DecodeError, source: str, batch: _Batch
    ) -> None:
        """Dead-letter an input message by where it came from (located and keyed like it)."""
        letter = dead_letter_for(
            error,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
            timestamp_ms=origin.timestamp_ms,
            key=origin.key,
            value=value,
        )
        batch.sent.append(await self._dead_letters.send_letter(letter, source))

    async def _apply_item(self, pending: Pending[Ticket], batch: _Batch, *, origin: bool) -> None:
        item, ticket = pending.item, pending.ticket
        started = time.perf_counter()
        output = self._pipeline.handle(item, (pending.source, pending.offset) if origin else None)
        self._metrics.engine_seconds.observe(time.perf_counter() - started)
        batch.finish.append((ticket.partition, ticket.offset))
        if output.redelivered:
            self._metrics.redelivered.inc()
            return
        if output.duplicate:
            self._metrics.duplicates.labels(item.kind).inc()
            return
        if output.unknown_asset:
            self._metrics.unknown_asset_events.inc()
        if output.late:
            self._metrics.late_events.inc()
            error = DecodeError(
                DeadLetterReason.LATE,
                f"event_time {item.event_time.isoformat()} is more than "
                f"{self._pipeline.config.allowed_lateness_s:.0f}s behind the newest event of "
                f"asset {item.asset_id}",
            )
            await self._dead_letter_ticket(ticket, error, batch)
            return
        batch.applied[item.kind] += 1  # applied (a late event is a dead letter instead)
        key = (item.asset_id or "").encode()
        for alert in output.alerts:
            self._metrics.alerts.labels(
                alert.msgType, alert.info[0].severity, alert.asset_type or "unknown"
            ).inc()
            batch.sent.append(await self._outbox.send(self._topics.alerts, key, encode(alert)))
            self._metrics.alert_latency.observe(
                max(0.0, self._clock.now().timestamp() - alert.event_time.timestamp())
            )
        if output.risk is not None:
            self._metrics.risk_updates.inc()
            batch.sent.append(await self._outbox.send(self._topics.risk, key, encode(output.risk)))
        batch.newest_applied = item.event_time.timestamp()
