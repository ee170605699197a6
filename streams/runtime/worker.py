"""Running the Faust worker from settings."""

from __future__ import annotations

import logging
from typing import Any

from faust.worker import Worker
from rich.console import Console

from streams.broker.admin import ensure_topics, wait_for_broker
from streams.broker.preflight import check_group, check_state_owner, partition_count
from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.runtime.app import create_app

log = logging.getLogger(__name__)


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
    out.print(
        f"gridwatch worker {settings.app_id} on {settings.bootstrap}, "
        f"topics {settings.topic_prefix}*, http://{settings.web_host}:{settings.web_port}/"
    )
    worker.execute_from_commandline()
