"""Builds the Faust application from settings: topics, agents and web views.

This is the thin shell around the pure logic in :mod:`streams.core.ingest`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CollectorRegistry

from streams.core.clock import Clock, SystemClock
from streams.core.ingest import Ingest
from streams.core.riskview import RiskPicture
from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.engine.config import EngineConfig, load_config
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.runtime.agents.common import RAW, DeadLetters, ProducerOutbox
from streams.runtime.agents.ingest import IngestAgent
from streams.runtime.agents.risk import (
    AckAgent,
    EngineAgent,
    MatchAgent,
    RegistryFeed,
    TableStateStore,
)
from streams.runtime.faust_compat import SharedTopicGlobalTable
from streams.runtime.metrics import FAUST_PREFIX, Metrics
from streams.runtime.web import register_views


@dataclass(frozen=True, slots=True)
class Gridwatch:
    """A wired gridwatch worker application.

    Attributes:
        app: The Faust app (run it with :func:`streams.runtime.worker.run_worker`).
        settings: The settings it was built from.
        topics: Topic names.
        metrics: The worker's Prometheus metrics.
        ingest: The ingest policy the agents apply.
        pipeline: Matching and the risk engine the agents drive.
    """

    app: Any
    settings: Settings
    topics: Topics
    metrics: Metrics
    ingest: Ingest
    pipeline: RiskPipeline


def faust_broker_url(bootstrap: str) -> str:
    """Turn "h1:9092,h2:9092" into Faust's "kafka://h1:9092;kafka://h2:9092"."""
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap.split(",") if server)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
    engine_config: EngineConfig | None = None,
) -> Gridwatch:
    """Build the Faust app, its agents and its web views.

    Args:
        settings: Configuration.
        clock: Wall clock for the future-event-time limit; the system clock by default.
        registry: Prometheus registry; a fresh one by default.
        engine_config: Risk engine configuration; ``settings.engine_config`` by default.

    Returns:
        The wired application.
    """
    app = faust.App(
        settings.app_id,
        broker=faust_broker_url(settings.bootstrap),
        store="memory://",
        datadir=str(settings.worker_data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        topic_disable_leader=False,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
        GlobalTable=SharedTopicGlobalTable,
        producer_acks=-1,
        # Let the producer batch: a 5 ms linger turns thousands of tiny produce
        # requests into a few large ones.
        producer_linger=0.005,
        producer_max_request_size=max(settings.max_message_bytes * 4, 1 << 20),
        consumer_max_fetch_size=max(settings.max_message_bytes * 16, 4 << 20),
    )
    topics = Topics(settings.topic_prefix)
    metrics = Metrics(registry if registry is not None else CollectorRegistry())
    ingest = Ingest(
        settings.input_limits,
        dedup_horizon=timedelta(seconds=settings.dedup_horizon_s),
        dedup_max_ids=settings.dedup_max_ids,
    )
    wall_clock = clock if clock is not None else SystemClock()
    config = engine_config if engine_config is not None else load_config(settings.engine_config)
    pipeline = RiskPipeline(AssetRegistry([]), config)
    picture = RiskPicture()
    outbox = ProducerOutbox(app)
    dead_letters = DeadLetters(outbox, topics.dlq, metrics, wall_clock)

    for role, name in (
        ("sensor", topics.sensor),
        ("hotline", topics.hotline),
        ("inspection", topics.inspection),
    ):
        agent = IngestAgent(role, topics, ingest, metrics, wall_clock, outbox, dead_letters)
        app.agent(app.topic(name, schema=RAW), name=f"gridwatch.ingest.{role}")(agent.run)

    # The registry: a GlobalTable whose changelog *is* the compacted assets topic.
    assets_topic = app.topic(topics.assets, partitions=1, compacting=True, schema=RAW)
    registry_feed = RegistryFeed(pipeline, metrics)
    registry_feed.read_from(
        _shared_global_table(app, "gridwatch-assets", assets_topic, 1, registry_feed.on_record)
    )

    # The risk picture: every worker reads the whole compacted risk topic. Faust
    # calls this for every record it reads, during recovery and afterwards; the
    # table's own contents are not relied on (a GlobalTable fed by another
    # producer does not apply standby records promptly).
    async def on_risk_record(event: Any) -> None:
        picture.apply(event.key, event.value)

    risk_topic = app.topic(topics.risk, partitions=settings.partitions, compacting=True, schema=RAW)
    _shared_global_table(app, "gridwatch-risk", risk_topic, settings.partitions, on_risk_record)

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

    matcher = MatchAgent(topics, pipeline, registry_feed, metrics, outbox, dead_letters)
    acks = AckAgent(settings, topics, wall_clock, outbox, dead_letters)
    engine = EngineAgent(
        topics, pipeline, store, registry_feed, metrics, wall_clock, outbox, dead_letters
    )
    app.agent(app.topic(topics.hotline_unmatched, schema=RAW), name="gridwatch.match")(matcher.run)
    app.agent(app.topic(topics.acks, schema=RAW), name="gridwatch.acks")(acks.run)
    app.agent(app.topic(topics.events_by_asset, schema=RAW), name="gridwatch.risk")(engine.run)
    app.on_partitions_revoked.connect(engine.on_partitions_revoked)

    register_views(app, metrics, picture)
    # Faust's own sensor metrics (faust_*) in the same registry, served by /metrics.
    setup_prometheus_sensors(
        app, pattern="/faust/metrics", registry=metrics.registry, name_prefix=FAUST_PREFIX
    )
    return Gridwatch(app, settings, topics, metrics, ingest, pipeline)


def _shared_global_table(
    app: Any, name: str, topic: Any, partitions: int, on_record: Callable[[Any], Awaitable[None]]
) -> Any:
    """A GlobalTable whose changelog is one of our compacted topics.

    It keeps reading every partition after recovery: the records come from
    producers outside this table (assets load, the risk agents); ``on_record``
    sees each of them.
    """
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
