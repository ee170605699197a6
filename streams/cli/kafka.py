"""``gridwatch kafka up|down|status|jars`` and ``gridwatch topics create``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from streams.broker import local as kafka_local
from streams.broker.admin import (
    PRODUCTION_MIN_INSYNC_REPLICAS,
    PRODUCTION_REPLICATION_FACTOR,
    BrokerUnavailableError,
    ReplicationError,
    ensure_topics,
)
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
@click.option(
    "--secure",
    is_flag=True,
    help="Client listener SASL_SSL with SCRAM-SHA-512: a CA and broker certificate made for "
    "the run and a generated user, whose settings go to a file readable by you alone.",
)
def kafka_up(port: int | None, timeout: float, secure: bool) -> None:
    """Start the local broker (idempotent); returns once it answers."""
    local = LocalKafka(load_settings(kafka_port=port))
    try:
        before = kafka_local.status(local)
        if not before.running:
            mode = " with TLS and SASL" if secure else ""
            err.print(f"starting Apache Kafka {local.version} on {local.address}{mode} …")
        state = kafka_local.up(local, timeout_s=timeout, secure=secure)
    except (LocalKafkaError, BrokerUnavailableError) as exc:
        fail(str(exc))
    verb = "already running" if before.running else "started"
    out.print(
        f"kafka {verb}: {state.address} (pid {state.pid}, Apache Kafka {state.version}, "
        f"{state.security})",
        highlight=False,
    )
    if state.client_env is not None:
        _print_client_settings(local, state.client_env)


def _print_client_settings(local: LocalKafka, client_env: Path) -> None:
    """The settings that reach the secure broker; the password only as the file holding it."""
    variables = {
        "GRIDWATCH_BOOTSTRAP": local.address,
        **local.client_security().environment(with_password=False),
    }
    out.print(
        f"clients use these settings; GRIDWATCH_SASL_PASSWORD is in {client_env} (mode 0600), "
        f"which holds them all: set -a; . {client_env}; set +a",
        highlight=False,
        markup=False,
    )
    for name, value in variables.items():
        out.print(f"  {name}={value}", highlight=False, markup=False)


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
    except (LocalKafkaError, BrokerUnavailableError) as exc:
        fail(str(exc))
    secure = f"secure, {state.security}" if state.secure else state.security
    if state.running:
        answers = "answering" if state.answers else "not answering yet"
        out.print(
            f"running: {state.address} (pid {state.pid}, Apache Kafka {state.version}, {secure}, "
            f"{answers})",
            highlight=False,
        )
        if state.client_env is not None:
            out.print(f"client settings: {state.client_env}", highlight=False, markup=False)
        return
    other = "; another broker answers at that address" if state.answers else ""
    out.print(f"stopped: {state.address} ({secure}){other}", highlight=False)
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
@click.option(
    "--production",
    is_flag=True,
    help=f"Replication factor {PRODUCTION_REPLICATION_FACTOR} and min.insync.replicas "
    f"{PRODUCTION_MIN_INSYNC_REPLICAS} (needs {PRODUCTION_REPLICATION_FACTOR} brokers); "
    "otherwise env GRIDWATCH_REPLICATION_FACTOR (1) and GRIDWATCH_MIN_INSYNC_REPLICAS "
    "(the broker's default).",
)
def topics_create(bootstrap: str | None, partitions: int | None, production: bool) -> None:
    """Create every gridwatch topic that is missing (idempotent)."""
    durability: dict[str, int] = {}
    if production:
        durability = {
            "replication_factor": PRODUCTION_REPLICATION_FACTOR,
            "min_insync_replicas": PRODUCTION_MIN_INSYNC_REPLICAS,
        }
    settings = load_settings(bootstrap=bootstrap, partitions=partitions, **durability)
    names = Topics.of(settings)
    try:
        outcomes = ensure_topics(
            settings.bootstrap,
            names.specs(settings.partitions),
            settings.partitions,
            settings.replication_factor,
            security=settings.kafka_security,
            min_insync_replicas=settings.min_insync_replicas,
        )
    except ReplicationError as exc:
        asked = " (asked by --production)" if production else ""
        fail(f"{exc}{asked}; nothing was created")
    except BrokerUnavailableError as exc:
        fail(str(exc))
    table = Table(title=f"topics on {settings.bootstrap}")
    for column in ("topic", "partitions", "replicas", "cleanup", "state"):
        table.add_column(column)
    for outcome in outcomes:
        state = "created" if outcome.created else "exists"
        if outcome.warning:
            state += f" ({outcome.warning})"
        cleanup = "compact" if outcome.compacted else "delete"
        replicas = "" if outcome.replication is None else str(outcome.replication)
        table.add_row(outcome.name, str(outcome.partitions), replicas, cleanup, state)
    out.print(table)
