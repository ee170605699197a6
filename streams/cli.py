"""The ``gridwatch`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from streams import kafka_local
from streams.admin import BrokerUnavailableError, ensure_topics
from streams.cap_xml import cap_xml_command
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


@cli.group()
def assets() -> None:
    """Manage the asset registry (the compacted assets topic)."""


@assets.command("load")
@click.argument("registry_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP).")
def assets_load(registry_file: Path, bootstrap: str | None) -> None:
    """Publish a GeoJSON registry to the assets topic, keyed by asset_id."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from schemas import encode
    from streams.engine.registry import load_registry

    settings = _settings(bootstrap=bootstrap)
    try:
        registry, problems = load_registry(registry_file)
    except ValueError as exc:
        _fail(str(exc))
    for problem in problems:
        err.print(f"[yellow]skipped:[/] {problem}", highlight=False)
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap.split(","), acks="all", linger_ms=20
        )
    except KafkaError as exc:
        _fail(f"cannot reach Kafka at {settings.bootstrap}: {exc}")
    topic = Topics(settings.topic_prefix).assets
    try:
        for asset in registry:
            producer.send(topic, key=asset.asset_id.encode(), value=encode(asset))
        producer.flush(timeout=120)
    except KafkaError as exc:
        _fail(f"publishing to {topic} failed: {exc}")
    finally:
        producer.close(timeout=10)
    out.print(f"published {len(registry)} assets to {topic} ({len(problems)} skipped)")


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--assets",
    "assets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="GeoJSON registry (env GRIDWATCH_ASSETS_FILE); without one every asset is unknown.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=Path("-"),
    show_default=True,
    help="Alerts as JSON Lines.",
)
@click.option(
    "--risk-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the final risk picture (latest risk state per asset).",
)
def process(log: Path, assets_file: Path | None, out: Path, risk_out: Path | None) -> None:
    """Run the risk logic over an event log offline, deterministically."""
    from streams.engine.config import load_config
    from streams.engine.registry import AssetRegistry, load_registry
    from streams.offline import process_log, read_log, write_risk

    settings = _settings()
    registry_path = assets_file or settings.assets_file
    registry = AssetRegistry([])
    if registry_path is not None:
        registry, problems = load_registry(registry_path)
        for problem in problems:
            err.print(f"[yellow]registry:[/] {problem}", highlight=False)
    else:
        err.print("[yellow]no --assets given: every asset is unknown, no case can be matched[/]")
    config = load_config(settings.engine_config)
    with click.open_file(str(out), "wb") as alerts_out:
        summary = process_log(
            read_log(log),
            registry,
            config,
            alerts_out,
            max_message_bytes=settings.max_message_bytes,
            invalid_out=sys.stderr,
        )
    if risk_out is not None:
        with risk_out.open("wb") as handle:
            write_risk(summary, handle)
    invalid = sum(summary.invalid.values())
    alerts = ", ".join(f"{k} {v}" for k, v in sorted(summary.alerts.items())) or "none"
    err.print(
        f"{summary.lines} lines: {summary.events} events, {invalid} invalid, "
        f"{summary.duplicates} duplicates, {summary.late} late, {summary.unmatched} unmatched "
        f"cases, {summary.unknown_asset} for unknown assets; alerts: {alerts}",
        highlight=False,
    )


@cli.group()
def bench() -> None:
    """Benchmarks: print numbers and write JSON."""


@bench.command("engine")
@click.option("--events", type=int, default=200_000, show_default=True)
@click.option("--assets", "asset_count", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--repeat", type=int, default=3, show_default=True, help="Best of N runs.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON object.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the JSON object to this file.",
)
def bench_engine_command(
    events: int, asset_count: int, seed: int, repeat: int, as_json: bool, out: Path | None
) -> None:
    """Decode-validate-and-engine against decode-validate only, same log, one process."""
    import orjson

    from streams.bench import bench_engine

    result = bench_engine(events, asset_count, seed, repeat)
    text = orjson.dumps(result).decode()
    if out is not None:
        out.write_text(text + "\n")
    if as_json:
        click.echo(text)
        return
    table = Table(title=f"gridwatch bench engine ({events} events, {asset_count} assets)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("decode + validate", f"{result['decode_events_per_s']:,.0f} events/s")
    table.add_row("decode + validate + engine", f"{result['engine_events_per_s']:,.0f} events/s")
    table.add_row("ratio", f"{result['ratio']:.3f}")
    table.add_row("alerts", str(result["alerts"]))
    out_console = Console()
    out_console.print(table)
    click.echo(text)


cli.add_command(cap_xml_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gridwatch")
