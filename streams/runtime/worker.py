"""Running the Faust worker from settings."""

from __future__ import annotations

import gc
import logging
from typing import Any, Final

from faust.worker import Worker
from rich.console import Console

from streams.broker.admin import ensure_topics, wait_for_broker
from streams.broker.preflight import check_group, check_state_owner, partition_count
from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.runtime.app import create_app

log = logging.getLogger(__name__)


GC_THRESHOLDS: Final = (50_000, 20, 100)
"""Allocations before a young collection, and how many of each before an older one."""


def tune_gc() -> None:
    """Leave what start-up made out of garbage collection, and collect cycles less often.

    Python's collector scans every tracked object in a full collection. On a
    backlog the engine's merge holds thousands of events, which survive the
    young collections and soon trigger full ones: a worker on the 60k-event
    backlog ran 11 full collections of about 100 ms each, 1.4 s of GC in a
    5 s run (``gc.callbacks``). What start-up made (modules, the app, Faust)
    lives as long as the process, so it is frozen out of the scans
    (``gc.freeze``), and young collections run every 50,000 allocations
    instead of 700: the same run then spent 0.16 s in 14 young collections,
    and one worker went from 10.1k to 12.5k events/s side by side. Most
    garbage is freed by reference counting; reference cycles are still
    collected, less often.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def faust_worker(app: Any, settings: Settings) -> Worker:
    """Faust's worker for ``app``, logging at the settings' level and without a spinner.

    Faust's terminal spinner turns once per log record: to see them all it sets
    the root logger to DEBUG for the whole run, so every ``log.debug`` of
    aiokafka and Faust (a few per message sent) built a record that no handler
    wanted, 5% of a worker's time on a backlog (py-spy). The spinner also wrote
    terminal escapes into the worker's log.
    """
    worker = Worker(
        app,
        loglevel=settings.log_level,
        workdir=str(settings.worker_data_dir),
        redirect_stdouts=False,
    )
    worker.spinner = None
    return worker


def run_worker(settings: Settings, console: Console | None = None) -> None:
    """Create missing topics (unless disabled) and run a worker until stopped.

    Blocks; SIGINT/SIGTERM stop the worker cleanly (Faust's own handling).

    Raises:
        BrokerUnavailableError: No broker answered.
        ReplicationError: Topics are missing and the cluster has fewer brokers
            than the replication factor.
        PreflightError: The topics or the group belong to another deployment, or
            the inputs are not co-partitioned.
    """
    out = console if console is not None else Console(stderr=True)
    wait_for_broker(settings.bootstrap, timeout_s=30.0, security=settings.kafka_security)
    if settings.create_topics:
        outcomes = ensure_topics(
            settings.bootstrap,
            Topics.of(settings).specs(settings.partitions),
            settings.partitions,
            settings.replication_factor,
            security=settings.kafka_security,
            min_insync_replicas=settings.min_insync_replicas,
        )
        created = [o.name for o in outcomes if o.created]
        if created:
            out.print(f"created topics: {', '.join(created)}")
    check_group(settings)
    check_state_owner(settings)
    partitions = partition_count(settings)
    if partitions != settings.partitions:
        out.print(
            f"the topics have {partitions} partitions (GRIDWATCH_PARTITIONS says "
            f"{settings.partitions}); using {partitions}"
        )
        settings = settings.model_copy(update={"partitions": partitions})
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    gridwatch = create_app(settings)
    worker = faust_worker(gridwatch.app, settings)
    tune_gc()
    out.print(
        f"gridwatch worker {settings.app_id} on {settings.bootstrap}, "
        f"topics {settings.topic_prefix}*, http://{settings.web_host}:{settings.web_port}/"
    )
    worker.execute_from_commandline()
