"""The risk agents: spatial matching, acknowledgements and the engine over Kafka.

Thin shell: decode → :class:`~streams.engine.pipeline.RiskPipeline` → send.
Per-asset engine state lives in a changelog-backed table, written once per
batch for each asset that changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from schemas import (
    Acknowledgement,
    Asset,
    DeadLetterReason,
    DecodeError,
    HotlineCase,
    decode_ack,
    decode_internal,
    decode_model,
    encode,
)
from streams.core.clock import Clock
from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.engine.state import AssetState
from streams.runtime.agents.common import DeadLetters, Message, Outbox
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
BATCH_WITHIN_S = 0.05


class TableStateStore:
    """Engine state backed by a Faust table of JSON snapshots, with a decoded cache."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.cache: dict[str, AssetState] = {}

    def get(self, asset_id: str) -> AssetState | None:
        """The asset's state: from the cache, else restored from the table."""
        state = self.cache.get(asset_id)
        if state is None:
            blob = self.table.get(asset_id.encode())
            if blob is not None:
                state = AssetState.restore(orjson.loads(blob))
                self.cache[asset_id] = state
        return state

    def put(self, asset_id: str, state: AssetState) -> None:
        """Keep the state in the cache (persisted by :meth:`persist`)."""
        self.cache[asset_id] = state

    def persist(self, states: list[AssetState]) -> int:
        """Write changed states to the table (one changelog message each)."""
        for state in states:
            self.table[state.asset_id.encode()] = orjson.dumps(state.snapshot())
        return len(states)

    def forget(self) -> None:
        """Drop the cache (after a rebalance the table is the truth)."""
        self.cache.clear()


def registry_from_table(items: Iterable[tuple[bytes, bytes | None]]) -> AssetRegistry:
    """Build the asset registry from the assets table's (key, value) items."""
    assets = []
    for key, blob in items:
        if blob is None:
            continue
        try:
            assets.append(decode_model(blob, Asset))
        except DecodeError as exc:
            log.warning("asset %r on the assets topic is invalid: %s", key, exc)
    return AssetRegistry(assets)


class RegistryFeed:
    """Keeps the pipeline's registry in step with the assets table.

    The table calls :meth:`changed` for every record it reads; agents call
    :meth:`refresh` before they use the registry, which rebuilds it only when
    something changed since the last time.

    Args:
        pipeline: The pipeline whose registry to swap.
        metrics: Where the registry size goes.
    """

    def __init__(self, pipeline: RiskPipeline, metrics: Metrics) -> None:
        self._table: Mapping[bytes, bytes | None] = {}
        self._pipeline = pipeline
        self._metrics = metrics
        self._stale = True

    def read_from(self, table: Mapping[bytes, bytes | None]) -> None:
        """Build registries from ``table`` (the assets GlobalTable, or any such mapping)."""
        self._table = table
        self._stale = True

    def changed(self) -> None:
        """Note that the assets table changed."""
        self._stale = True

    async def on_record(self, event: Any) -> None:
        """The table's changelog callback."""
        self.changed()

    def refresh(self) -> None:
        """Rebuild the registry if the table changed since the last refresh."""
        if not self._stale:
            return
        self._stale = False
        self._pipeline.set_registry(registry_from_table(list(self._table.items())))
        self._metrics.registry_assets.set(len(self._pipeline.registry))
        log.info("asset registry loaded: %d assets", len(self._pipeline.registry))


class MatchAgent:
    """Matches hotline cases without ``asset_id`` to the nearest fitting asset."""

    def __init__(
        self,
        topics: Topics,
        pipeline: RiskPipeline,
        registry: RegistryFeed,
        metrics: Metrics,
        outbox: Outbox,
        dead_letters: DeadLetters,
    ) -> None:
        self._target = topics.events_by_asset
        self._pipeline = pipeline
        self._registry = registry
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._matched = metrics.hotline_matches.labels("matched")
        self._unmatched = metrics.hotline_matches.labels("unmatched")

    async def handle(self, message: Message) -> None:
        """Match one case from the holding topic; forward it when an asset fits."""
        self._registry.refresh()
        try:
            case = decode_internal(message.value)
        except DecodeError as error:
            await self._dead_letters.send(message, error, "internal")
            return
        if not isinstance(case, HotlineCase):
            return
        matched = self._pipeline.match(case)
        if matched is None or matched.asset_id is None:
            self._unmatched.inc()
            return
        self._matched.inc()
        await self._outbox.send(self._target, matched.asset_id.encode(), encode(matched))

    async def run(self, stream: Any) -> None:
        """The Faust agent loop."""
        async for event in stream.events():
            await self.handle(event.message)


class AckAgent:
    """Validates acknowledgements and forwards them to the per-asset stream."""

    def __init__(
        self,
        settings: Settings,
        topics: Topics,
        clock: Clock,
        outbox: Outbox,
        dead_letters: DeadLetters,
    ) -> None:
        self._limits = settings.input_limits
        self._target = topics.events_by_asset
        self._clock = clock
        self._outbox = outbox
        self._dead_letters = dead_letters

    async def handle(self, message: Message) -> None:
        """Validate one acknowledgement; forward it or dead-letter it."""
        try:
            ack = decode_ack(message.value, limits=self._limits, now=self._clock.now())
        except DecodeError as error:
            await self._dead_letters.send(message, error, "internal")
            return
        await self._outbox.send(self._target, ack.asset_id.encode(), encode(ack))

    async def run(self, stream: Any) -> None:
        """The Faust agent loop."""
        async for event in stream.events():
            await self.handle(event.message)


class EngineAgent:
    """Runs the per-asset stream through the engine in batches.

    Sends CAP messages to the alerts topic and risk states to the risk topic,
    dead-letters late events, and persists each changed asset's state once per
    batch.
    """

    def __init__(
        self,
        topics: Topics,
        pipeline: RiskPipeline,
        store: TableStateStore,
        registry: RegistryFeed,
        metrics: Metrics,
        clock: Clock,
        outbox: Outbox,
        dead_letters: DeadLetters,
    ) -> None:
        self._topics = topics
        self._pipeline = pipeline
        self._store = store
        self._registry = registry
        self._metrics = metrics
        self._clock = clock
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._engine_events = {
            kind: metrics.engine_events.labels(kind)
            for kind in ("sensor", "hotline", "inspection", "ack")
        }

    async def handle_batch(self, messages: Iterable[Message]) -> None:
        """Apply a batch of messages, then persist the states it changed."""
        self._registry.refresh()
        newest = 0.0
        for message in messages:
            newest = max(newest, await self._apply(message))
        self._metrics.state_writes.inc(self._store.persist(self._pipeline.engine.drain_dirty()))
        if newest:
            self._metrics.stream_lag.set(max(0.0, self._clock.now().timestamp() - newest))

    async def _apply(self, message: Message) -> float:
        """Apply one message; return its event time (0 when not applied)."""
        try:
            item = decode_internal(message.value)
        except DecodeError as error:
            await self._dead_letters.send(message, error, "internal")
            return 0.0
        started = time.perf_counter()
        if isinstance(item, Acknowledgement):
            output = self._pipeline.handle(item)
        elif isinstance(item, HotlineCase) and item.asset_id is None:
            return 0.0  # cases wait on the holding topic for the matcher
        else:
            output = self._pipeline.handle(item, (message.partition, message.offset))
        self._metrics.engine_seconds.observe(time.perf_counter() - started)
        if output.redelivered:
            self._metrics.redelivered.inc()
            return 0.0
        self._engine_events[item.kind].inc()
        if output.unknown_asset:
            self._metrics.unknown_asset_events.inc()
        if output.late:
            self._metrics.late_events.inc()
            late = DecodeError(
                DeadLetterReason.LATE,
                f"event_time {item.event_time.isoformat()} is more than "
                f"{self._pipeline.config.allowed_lateness_s:.0f}s behind the newest event of "
                f"asset {(message.key or b'').decode(errors='replace')}",
            )
            await self._dead_letters.send(message, late, "internal")
            return 0.0
        key = message.key
        for alert in output.alerts:
            self._metrics.alerts.labels(
                alert.msgType, alert.info[0].severity, alert.asset_type or "unknown"
            ).inc()
            await self._outbox.send(self._topics.alerts, key, encode(alert))
            self._metrics.alert_latency.observe(
                max(0.0, self._clock.now().timestamp() - alert.event_time.timestamp())
            )
        if output.risk is not None:
            self._metrics.risk_updates.inc()
            await self._outbox.send(self._topics.risk, key, encode(output.risk))
        return item.event_time.timestamp()

    async def run(self, stream: Any) -> None:
        """The Faust agent loop: batches of up to ``BATCH_SIZE`` or ``BATCH_WITHIN_S``."""
        async for batch in stream.take_events(BATCH_SIZE, BATCH_WITHIN_S):
            await self.handle_batch(event.message for event in batch)

    async def on_partitions_revoked(self, *args: Any, **kwargs: Any) -> None:
        """After a rebalance the table is the truth: drop the decoded cache."""
        self._store.forget()


__all__ = [
    "AckAgent",
    "EngineAgent",
    "MatchAgent",
    "RegistryFeed",
    "TableStateStore",
    "registry_from_table",
]
