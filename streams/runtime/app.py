"""Builds the Faust application from settings: topics, agents and web views.

This is the thin shell around the pure logic in :mod:`streams.core.ingest`.
"""

from __future__ import annotations

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
from streams.runtime.agents.ingest import register_ingest_agents
from streams.runtime.agents.risk import register_risk_agents
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
    register_ingest_agents(app, topics, ingest, metrics, wall_clock)
    config = engine_config if engine_config is not None else load_config(settings.engine_config)
    pipeline = RiskPipeline(AssetRegistry([]), config)
    picture = RiskPicture()
    register_risk_agents(app, settings, topics, pipeline, metrics, wall_clock, picture)
    register_views(app, metrics, picture)
    # Faust's own sensor metrics (faust_*) in the same registry, served by /metrics.
    setup_prometheus_sensors(
        app, pattern="/faust/metrics", registry=metrics.registry, name_prefix=FAUST_PREFIX
    )
    return Gridwatch(app, settings, topics, metrics, ingest, pipeline)
