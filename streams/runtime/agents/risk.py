"""The risk agents: spatial matching, acknowledgements and the engine over Kafka.

Thin shell: decode → :class:`~streams.engine.pipeline.RiskPipeline` → send.
Per-asset engine state lives in a changelog-backed table, written once per
batch for each asset that changed.
"""

from __future__ import annotations

import logging
import time
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
from streams.core.riskview import RiskPicture
from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.engine.state import AssetState
from streams.runtime.agents.common import RAW, dead_letter, produce
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


def registry_from_table(table: Any) -> AssetRegistry:
    """Build the asset registry from the assets GlobalTable's current contents."""
    assets = []
    for key, blob in list(table.items()):
        if blob is None:
            continue
        try:
            assets.append(decode_model(blob, Asset))
        except DecodeError as exc:
            log.warning("asset %r on the assets topic is invalid: %s", key, exc)
    return AssetRegistry(assets)


def register_risk_agents(
    app: Any,
    settings: Settings,
    topics: Topics,
    pipeline: RiskPipeline,
    metrics: Metrics,
    clock: Clock,
    picture: RiskPicture,
) -> None:
    """Attach the matcher, ack and engine agents and their tables; feed ``picture``."""

    def shared_global_table(name: str, topic: Any, partitions: int, on_record: Any) -> Any:
        # A GlobalTable whose changelog is one of our compacted topics. Keep
        # reading every partition after recovery: the records come from
        # producers outside this table (assets load, the risk agents).
        return app.GlobalTable(
            name,
            changelog_topic=topic,
            partitions=partitions,
            schema=RAW,
            key_type=bytes,
            value_type=bytes,
            on_changelog_event=on_record,
            synchronize_all_active_partitions=True,
        )

    # The registry changes when the assets topic does; the table tells us.
    registry_changed = [True]

    async def on_asset_change(event: Any) -> None:
        registry_changed[0] = True

    assets_topic = app.topic(topics.assets, partitions=1, compacting=True, schema=RAW)
    assets_table = shared_global_table("gridwatch-assets", assets_topic, 1, on_asset_change)
    state_table = app.Table(
        "gridwatch-asset-state",
        partitions=settings.partitions,
        # Keys go to the partition the producer's partitioner picks, the same
        # as the per-asset stream's, so an asset's state sits with its events.
        use_partitioner=True,
        schema=RAW,
        key_type=bytes,
        value_type=bytes,
    )
    store = TableStateStore(state_table)
    pipeline.engine.store = store

    # The risk picture: every worker reads the whole compacted risk topic. Faust
    # calls this for every record it reads, during recovery and afterwards; the
    # table's own contents are not relied on (a GlobalTable fed by another
    # producer does not apply standby records promptly).
    async def on_risk_record(event: Any) -> None:
        picture.apply(event.key, event.value)

    risk_topic = app.topic(topics.risk, partitions=settings.partitions, compacting=True, schema=RAW)
    shared_global_table("gridwatch-risk", risk_topic, settings.partitions, on_risk_record)

    def refresh_registry() -> None:
        if registry_changed[0]:
            registry_changed[0] = False
            pipeline.set_registry(registry_from_table(assets_table))
            metrics.registry_assets.set(len(pipeline.registry))
            log.info("asset registry loaded: %d assets", len(pipeline.registry))

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        await produce(app, topic, key, value)

    async def reject(message: Any, error: DecodeError) -> None:
        await dead_letter(
            app, topics.dlq, message, error, metrics=metrics, clock=clock, source="internal"
        )

    engine_events = {
        kind: metrics.engine_events.labels(kind)
        for kind in ("sensor", "hotline", "inspection", "ack")
    }

    async def match_hotline(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            refresh_registry()
            try:
                case = decode_internal(message.value)
            except DecodeError as error:
                await reject(message, error)
                continue
            if not isinstance(case, HotlineCase):
                continue
            matched = pipeline.match(case)
            if matched is None or matched.asset_id is None:
                metrics.hotline_matches.labels("unmatched").inc()
                continue
            metrics.hotline_matches.labels("matched").inc()
            await send(topics.events_by_asset, matched.asset_id.encode(), encode(matched))

    async def acknowledgements(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                ack = decode_ack(message.value, limits=settings.input_limits, now=clock.now())
            except DecodeError as error:
                await reject(message, error)
                continue
            await send(topics.events_by_asset, ack.asset_id.encode(), encode(ack))

    async def risk(stream: Any) -> None:
        async for batch in stream.take_events(BATCH_SIZE, BATCH_WITHIN_S):
            refresh_registry()
            newest = 0.0
            for event in batch:
                newest = max(newest, await _apply(event.message))
            metrics.state_writes.inc(store.persist(pipeline.engine.drain_dirty()))
            if newest:
                metrics.stream_lag.set(max(0.0, clock.now().timestamp() - newest))

    async def _apply(message: Any) -> float:
        """Apply one message; return its event time (0 when not applied)."""
        try:
            item = decode_internal(message.value)
        except DecodeError as error:
            await reject(message, error)
            return 0.0
        started = time.perf_counter()
        if isinstance(item, Acknowledgement):
            output = pipeline.handle(item)
        elif isinstance(item, HotlineCase) and item.asset_id is None:
            return 0.0  # cases wait on the holding topic for the matcher
        else:
            output = pipeline.handle(item, (message.partition, message.offset))
        metrics.engine_seconds.observe(time.perf_counter() - started)
        if output.redelivered:
            metrics.redelivered.inc()
            return 0.0
        engine_events[item.kind].inc()
        if output.unknown_asset:
            metrics.unknown_asset_events.inc()
        if output.late:
            metrics.late_events.inc()
            late = DecodeError(
                DeadLetterReason.LATE,
                f"event_time {item.event_time.isoformat()} is more than "
                f"{pipeline.config.allowed_lateness_s:.0f}s behind the newest event of "
                f"asset {message.key.decode(errors='replace')}",
            )
            await reject(message, late)
            return 0.0
        key = message.key
        for alert in output.alerts:
            metrics.alerts.labels(
                alert.msgType, alert.info[0].severity, alert.asset_type or "unknown"
            ).inc()
            await send(topics.alerts, key, encode(alert))
            metrics.alert_latency.observe(
                max(0.0, clock.now().timestamp() - alert.event_time.timestamp())
            )
        if output.risk is not None:
            metrics.risk_updates.inc()
            await send(topics.risk, key, encode(output.risk))
        return item.event_time.timestamp()

    app.agent(app.topic(topics.hotline_unmatched, schema=RAW), name="gridwatch.match")(
        match_hotline
    )
    app.agent(app.topic(topics.acks, schema=RAW), name="gridwatch.acks")(acknowledgements)
    app.agent(app.topic(topics.events_by_asset, schema=RAW), name="gridwatch.risk")(risk)

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator]  # faust signal
    async def _forget_cache(*args: Any, **kwargs: Any) -> None:
        store.forget()


__all__ = ["TableStateStore", "register_risk_agents", "registry_from_table"]
