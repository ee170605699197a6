"""The ``gridwatch`` command line."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from streams import kafka_local
from streams.admin import BrokerUnavailableError, ensure_topics
from streams.kafka_local import LocalKafka, LocalKafkaError
from streams.settings import Settings
from streams.topics import Topics

err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        _fail(f"invalid settings:\n{exc}", 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """gridwatch: a megacity's sensor, hotline and inspection events, joined per asset."""


@cli.group()
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
    local = LocalKafka(_settings(kafka_port=port))
    try:
        before = kafka_local.status(local)
        if not before.running:
            err.print(f"starting Apache Kafka {local.version} on {local.address} …")
        state = kafka_local.up(local, timeout_s=timeout)
    except LocalKafkaError as exc:
        _fail(str(exc))
    verb = "already running" if before.running else "started"
    out.print(f"kafka {verb}: {state.address} (pid {state.pid}, Apache Kafka {state.version})")


@kafka.command("down")
@_port_option
def kafka_down(port: int | None) -> None:
    """Stop the broker that `kafka up` started (by its PID)."""
    local = LocalKafka(_settings(kafka_port=port))
    try:
        stopped = kafka_local.down(local)
    except LocalKafkaError as exc:
        _fail(str(exc))
    out.print("kafka stopped" if stopped else "kafka was not running")


@kafka.command("status")
@_port_option
def kafka_status(port: int | None) -> None:
    """Tell whether the local broker runs, and its address. Exit 3 when stopped."""
    local = LocalKafka(_settings(kafka_port=port))
    try:
        state = kafka_local.status(local)
    except LocalKafkaError as exc:
        _fail(str(exc))
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
    local = LocalKafka(_settings())
    try:
        path = kafka_local.resolve_jars(local, quiet=False)
    except LocalKafkaError as exc:
        _fail(str(exc))
    out.print(f"Apache Kafka {local.version} jars in {path}")


@cli.group()
def topics() -> None:
    """Manage gridwatch's topics."""


@topics.command("create")
@click.option("--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP).")
@click.option("--partitions", type=int, default=None, help="Env GRIDWATCH_PARTITIONS (4).")
def topics_create(bootstrap: str | None, partitions: int | None) -> None:
    """Create every gridwatch topic that is missing (idempotent)."""
    settings = _settings(bootstrap=bootstrap, partitions=partitions)
    names = Topics(settings.topic_prefix)
    try:
        outcomes = ensure_topics(
            settings.bootstrap,
            names.specs(settings.partitions),
            settings.partitions,
            settings.replication_factor,
        )
    except BrokerUnavailableError as exc:
        _fail(str(exc))
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


@cli.command()
@click.option("--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP).")
@click.option("--web-port", type=int, default=None, help="HTTP port (env GRIDWATCH_WEB_PORT).")
def worker(bootstrap: str | None, web_port: int | None) -> None:
    """Run a gridwatch worker (several may run in one group)."""
    from streams.worker import run_worker  # faust is heavy; only this command needs it

    settings = _settings(bootstrap=bootstrap, web_port=web_port)
    try:
        run_worker(settings)
    except BrokerUnavailableError as exc:
        _fail(f"{exc}; start one with `gridwatch kafka up`")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gridwatch")
