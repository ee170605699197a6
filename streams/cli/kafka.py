"""``gridwatch kafka up|down|status|jars`` and ``gridwatch topics create``."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from streams.broker import local as kafka_local
from streams.broker.admin import BrokerUnavailableError, ensure_topics
from streams.broker.local import LocalKafka, LocalKafkaError
from streams.cli.common import bootstrap_option, err, fail, load_settings, out
from streams.core.topics import Topics


@click.group()
def kafka() -> None:
    """Manage the local Apache Kafka broker (KRaft, from Maven Central jars)."""


_port_option = click.option(
    "--port", type=int, default=None, help="Client port (env GRIDWATCH_KAFKA_PORT, default 9092)."
)


@kafka.command("up")
@_port_option
@click.option("--timeout", type=float, default=kafka_local.START_TIMEOUT_S, show_default=True)
def kafka_up(port: int | None, timeout: float) -> None:
    """Start the local broker (idempotent); returns once it answers."""
    local = LocalKafka(load_settings(kafka_port=port))
    try:
        before = kafka_local.status(local)
        if not before.running:
            err.print(f"starting Apache Kafka {local.version} on {local.address} …")
        state = kafka_local.up(local, timeout_s=timeout)
    except LocalKafkaError as exc:
        fail(str(exc))
    verb = "already running" if before.running else "started"
    out.print(f"kafka {verb}: {state.address} (pid {state.pid}, Apache Kafka {state.version})")


@kafka.command("down")
@_port_option
def kafka_down(port: int | None) -> None:
    """Stop the broker that `kafka up` started (by its PID)."""
    local = LocalKafka(load_settings(kafka_port=port))
    try:
        stopped = kafka_local.down(local)
    except LocalKafkaError as exc:
        fail(str(exc))
    out.print("kafka stopped" if stopped else "kafka was not running")


@kafka.command("status")
@_port_option
def kafka_status(port: int | None) -> None:
    """Tell whether the local broker runs, and its address. Exit 3 when stopped."""
    local = LocalKafka(load_settings(kafka_port=port))
    try:
        state = kafka_local.status(local)
    except LocalKafkaError as exc:
        fail(str(exc))
    if state.running:
        answers = "answering" if state.answers else "not answering yet"
        out.print(
            f"running: {state.address} (pid {state.pid}, Apache Kafka {state.version}, {answers})"
        )
        return
    other = "; another broker answers at that address" if state.answers else ""
    out.print(f"stopped: {state.address}{other}")
    sys.exit(3)


@kafka.command("jars")
def kafka_jars() -> None:
    """Resolve the broker's jars into the cache (CI calls this before the tests)."""
    local = LocalKafka(load_settings())
    try:
        path = kafka_local.resolve_jars(local, quiet=False)
    except LocalKafkaError as exc:
        fail(str(exc))
    out.print(f"Apache Kafka {local.version} jars in {path}")


@click.group()
def topics() -> None:
    """Manage gridwatch's topics."""


@topics.command("create")
@bootstrap_option
@click.option("--partitions", type=int, default=None, help="Env GRIDWATCH_PARTITIONS (4).")
def topics_create(bootstrap: str | None, partitions: int | None) -> None:
    """Create every gridwatch topic that is missing (idempotent)."""
    settings = load_settings(bootstrap=bootstrap, partitions=partitions)
    names = Topics.of(settings)
    try:
        outcomes = ensure_topics(
            settings.bootstrap,
            names.specs(settings.partitions),
            settings.partitions,
            settings.replication_factor,
        )
    except BrokerUnavailableError as exc:
        fail(str(exc))
    table = Table(title=f"topics on {settings.bootstrap}")
    for column in ("topic", "partitions", "cleanup", "state"):
        table.add_column(column)
    for outcome in outcomes:
        state = "created" if outcome.created else "exists"
        if outcome.warning:
            state += f" ({outcome.warning})"
        cleanup = "compact" if outcome.compacted else "delete"
        table.add_row(outcome.name, str(outcome.partitions), cleanup, state)
    out.print(table)
