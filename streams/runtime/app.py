"""Builds the Faust application from settings: topics, agents, timers and web views.

This is the thin shell around the pure logic in :mod:`streams.core` and
:mod:`streams.engine`; every agent is a small class in
:mod:`streams.runtime.agents`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CollectorRegistry

from streams.core.clock import Clock, SystemClock
from streams.core.http_guard import HttpGuard
from streams.core.ingest import Intake
from streams.core.riskview import RiskPicture
from streams.core.settings import Settings
from streams.core.topics import STATE_TABLE, Topics
from streams.engine.config import EngineConfig, load_config
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.runtime.agents.common import RAW, DeadLetters, ProducerOutbox
from streams.runtime.agents.consumer import FaustConsumerView
from streams.runtime.agents.engine import EngineAgent
from streams.runtime.agents.router import HotlineRouter
from streams.runtime.agents.state import RegistryFeed, TableStateStore
from streams.runtime.faust_compat import (
    BATCHED_TOPICS_ATTR,
    URGENT_TOPICS_ATTR,
    ConfirmedTable,
    GridwatchApp,
    SharedTopicGlobalTable,
    fetch_first,
    patch_faust,
)
from streams.runtime.health import ProgressWatch, StallGuard
from streams.runtime.kafka_auth import faust_credentials
from streams.runtime.metrics import FAUST_PREFIX, Metrics
from streams.runtime.web import register_views, web_application_options

MAX_POLL_RECORDS: Final = 4000
"""Records one ``getmany`` of the worker's consumer hands out at most."""
REREAD_AFTER_S: Final = 5.0
"""A partition fetched to its end that delivered nothing of its lag this long is read again."""
INPUTS_FLOW_S: Final = 1.0
"""Inputs flow while one arrived this recently: the router then announces its
progress every eighth of the idle wait (events wait for it), otherwise every half."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gridwatch:
    """A wired gridwatch worker application.

    Attributes:
        app: The Faust app (run it with :func:`streams.runtime.worker.run_worker`).
        settings: The settings it was built from.
        topics: Topic names.
        metrics: The worker's Prometheus metrics.
        pipeline: Matching and the risk engine the agents drive.
        engine: The engine agent.
        router: The hotline router.
        watch: The stall watch behind ``/health``.
    """

    app: Any
    settings: Settings
    topics: Topics
    metrics: Metrics
    pipeline: RiskPipeline
    engine: EngineAgent
    router: HotlineRouter
    watch: ProgressWatch


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
    """Build the Faust app, its agents, timers and web views.

    Args:
        settings: Configuration.
        clock: Wall clock for the future-event-time limit; the system clock by default.
        registry: Prometheus registry; a fresh one by default.
        engine_config: Risk engine configuration; ``settings.engine_config`` by default.

    Returns:
        The wired application.
    """
    patch_faust()
    app = GridwatchApp(
        settings.app_id,
        broker=faust_broker_url(settings.bootstrap),
        # TLS and SASL for every aiokafka client Faust opens (None: PLAINTEXT).
        broker_credentials=faust_credentials(settings.kafka_security),
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
        # Size, rate and token checks before every view (streams.core.http_guard).
        web_application_options=web_application_options(HttpGuard.from_settings(settings)),
        autodiscover=False,
        GlobalTable=SharedTopicGlobalTable,
        # Changelog writes the engine can await before acknowledging its inputs.
        Table=ConfirmedTable,
        producer_acks=-1,
        # Let the producer batch: a 5 ms linger turns thousands of tiny produce
        # requests into a few large ones.
        producer_linger=0.005,
        producer_max_request_size=max(settings.max_message_bytes * 4, 1 << 20),
        # Per partition and fetch: Kafka's 1 MiB, or room for 16 of the largest
        # messages. Larger fetches only queue more data ahead of the hotline
        # router's progress markers, which a worker on a backlog waits for.
        consumer_max_fetch_size=max(settings.max_message_bytes * 16, 1 << 20),
        # A getmany hands out this many records at most (Faust: all it holds), so
        # the repartition topic's records, handed out first, wait for one such
        # share of a backlog's fetch, not for all of it (faust_compat.FETCHED_FIRST).
        broker_max_poll_records=MAX_POLL_RECORDS,
        # A SIGKILLed worker's partitions move after this, not after Faust's 60 s.
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 4),
        broker_rebalance_timeout=max(30.0, settings.session_timeout_s * 3),
        # The engine holds messages back for the event-time merge and
        # acknowledges them itself; a rebalance must not wait for them (Faust
        # re-delivers everything after the committed offsets anyway).
        stream_wait_empty=False,
    )
    topics = Topics.of(settings)
    metrics = Metrics(registry if registry is not None else CollectorRegistry())
    wall_clock = clock if clock is not None else SystemClock()
    config = engine_config if engine_config is not None else load_config(settings.engine_config)
    pipeline = RiskPipeline(AssetRegistry([]), config)
    outbox = ProducerOutbox(app)
    dead_letters = DeadLetters(outbox, topics.dlq, metrics)
    consumer = FaustConsumerView(app)
    intake = Intake(settings.input_limits)

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
    picture = RiskPicture()

    async def on_risk_record(event: Any) -> None:
        picture.apply(event.key, event.value)

    risk_topic = app.topic(topics.risk, partitions=settings.partitions, compacting=True, schema=RAW)
    _shared_global_table(app, "gridwatch-risk", risk_topic, settings.partitions, on_risk_record)
    state_table = app.Table(
        STATE_TABLE,
        partitions=settings.partitions,
        # Keys go to the partition the producer's partitioner picks, the same
        # as the inputs', so an asset's state sits with its events.
        use_partitioner=True,
        schema=RAW,
        key_type=bytes,
        value_type=bytes,
    )
    store = TableStateStore(state_table, settings.topic_prefix)
    pipeline.engine.store = store

    watched = (
        topics.sensor,
        topics.inspection,
        topics.acks,
        topics.hotline,
        topics.events_by_asset,
    )

    def generation() -> int | None:
        value = getattr(app, "consumer_generation_id", None)
        return None if value is None else int(value)

    def inputs_flow() -> bool:
        # Read when the router's timer fires, after both agents exist.
        last = max(engine.last_input_at, router.last_input_at)
        return time.time() - last < INPUTS_FLOW_S

    watch = ProgressWatch(
        settings.stall_timeout_s,
        watched,
        reread_after_s=min(REREAD_AFTER_S, settings.stall_timeout_s / 4),
        rereads=metrics.offset_rereads.inc,
    )
    router = HotlineRouter(
        topics, settings.partitions, intake, pipeline, registry_feed, metrics, wall_clock,
        outbox, dead_letters, consumer, heartbeat_s=settings.idle_wait_s / 2,
        busy_heartbeat_s=settings.idle_wait_s / 8, busy=inputs_flow,
        observe=watch.observe, generation=generation,
    )  # fmt: skip
    engine = EngineAgent(
        topics, settings.partitions, intake, pipeline, store, registry_feed, metrics, wall_clock,
        outbox, dead_letters, consumer,
        idle_wait_s=settings.idle_wait_s, max_wait_s=settings.max_wait_s, observe=watch.observe,
        generation=generation, flush=lambda: app.producer.flush(),
    )  # fmt: skip

    app.agent(app.topic(topics.hotline, schema=RAW), name="gridwatch.route")(router.run)
    inputs = app.topic(
        topics.sensor, topics.inspection, topics.acks, topics.events_by_asset, schema=RAW
    )
    app.agent(inputs, name="gridwatch.engine")(engine.run)
    # The engine's inputs reach it a fetch at a time, past Faust's per-message path.
    setattr(app, BATCHED_TOPICS_ATTR, frozenset(inputs.topics))
    # The router's progress markers go ahead of a waiting backlog (see the attribute).
    setattr(app, URGENT_TOPICS_ATTR, frozenset({topics.events_by_asset}))
    fetch_first({topics.events_by_asset})

    async def revoked(*args: Any, **kwargs: Any) -> None:
        consumer.forget()
        await router.on_partitions_revoked()
        await engine.on_partitions_revoked()

    async def assigned(*args: Any, **kwargs: Any) -> None:
        await router.on_partitions_assigned()
        await engine.on_partitions_assigned()

    app.on_partitions_revoked.connect(revoked)
    app.on_partitions_assigned.connect(assigned)
    app.timer(interval=min(0.05, settings.idle_wait_s / 4))(engine.tick)
    app.timer(interval=router.busy_heartbeat_s)(router.heartbeat)

    def busy() -> bool:
        tables: Any = app.tables
        return bool(app.rebalancing or (tables is not None and tables.recovery.in_recovery))

    guard = StallGuard(watch, consumer, busy=busy, gauge=metrics.stalled_partitions)
    app.timer(interval=1.0)(guard.check)

    register_views(app, metrics, picture, watch)
    # Faust's own sensor metrics (faust_*) in the same registry, served by /metrics.
    setup_prometheus_sensors(
        app, pattern="/faust/metrics", registry=metrics.registry, name_prefix=FAUST_PREFIX
    )
    return Gridwatch(app, settings, topics, metrics, pipeline, engine, router, watch)


def _shared_global_table(
    app: Any, name: str, topic: Any, partitions: int, on_record: Callable[[Any], Awaitable[None]]
) -> Any:
    """A GlobalTable whose changelog is one of our compacted topics.

    It keeps reading every partition after recovery: the records come from
    producers outside this table (assets load, the engine agents); ``on_record``
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
