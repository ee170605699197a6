"""The ``gridwatch`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from streams.broker import local as kafka_local
from streams.broker.admin import BrokerUnavailableError, ensure_topics
from streams.broker.local import LocalKafka, LocalKafkaError
from streams.core.cap_xml import cap_xml_command
from streams.core.settings import Settings
from streams.core.topics import Topics

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
    from streams.runtime.worker import run_worker  # faust is heavy; only this command needs it

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
    from streams.engine.registry_file import load_registry

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
    from streams.core.eventlog import read_log
    from streams.core.offline import process_log, write_risk
    from streams.engine.config import load_config
    from streams.engine.registry import AssetRegistry
    from streams.engine.registry_file import load_registry

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

    from streams.lab.bench import bench_engine

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


@cli.command("evaluate")
@click.option(
    "--alerts",
    "alerts_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Alerts as JSON Lines (.gz allowed), e.g. from `gridwatch process`.",
)
@click.option(
    "--truth",
    "truth_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The simulation's ground truth as JSON Lines (.gz allowed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON object.")
@click.option(
    "--grace-s",
    type=click.FloatRange(min=0.0),
    default=900.0,
    show_default=True,
    help="Seconds after a true incident's end in which a first alert still matches.",
)
def evaluate_command(alerts_file: Path, truth_file: Path, as_json: bool, grace_s: float) -> None:
    """Score alerts against a simulation's ground truth: precision, recall, time to detect."""
    import orjson

    from streams.lab.evaluate import evaluate, load_alerts, load_truth, print_report

    try:
        truth = load_truth(truth_file)
        alerts = load_alerts(alerts_file)
    except (OSError, ValueError) as exc:
        _fail(str(exc), 2)
    result = evaluate(alerts, truth, grace_s=grace_s)
    if as_json:
        click.echo(orjson.dumps(result).decode())
        return
    print_report(result, Console())


@cli.command()
@click.argument(
    "log", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Pace by event time: event-time seconds per wall-clock second "
    "(1 = real time, 60 = an hour in a minute).",
)
@click.option(
    "--max-speed",
    is_flag=True,
    help="Publish as fast as the broker takes it (the default when --speed is absent).",
)
@click.option("--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP).")
def replay(log: Path, speed: float | None, max_speed: bool, bootstrap: str | None) -> None:
    """Publish an event log (JSON Lines, .gz or - for stdin) into the input topics.

    Each line goes unchanged to the topic of its kind (sensor, hotline, inspection,
    ack → acks), keyed by asset_id (hotline: service_request_id), with its event_time
    as the Kafka timestamp. Lines that cannot be routed are reported as `line N:
    reason` and skipped; the worker validates the rest. Without --speed the log is
    replayed at maximum speed. Exit 1 if the broker cannot be reached or refuses
    records.
    """
    import time

    from kafka import KafkaProducer
    from kafka.errors import KafkaError
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from streams.broker.admin import admin_client, broker_answers
    from streams.broker.replay import DeliveryFailures, kafka_sender, replay_log
    from streams.core.eventlog import read_log

    if speed is not None and max_speed:
        raise click.UsageError("give --speed X or --max-speed, not both")
    settings = _settings(bootstrap=bootstrap)
    names = Topics(settings.topic_prefix)
    if not broker_answers(settings.bootstrap, timeout_s=5.0):
        _fail(
            f"no Kafka broker answers at {settings.bootstrap}; start one with `gridwatch kafka up`"
        )
    try:
        with admin_client(settings.bootstrap) as client:
            existing = set(client.list_topics())
    except (BrokerUnavailableError, KafkaError) as exc:
        _fail(f"cannot reach Kafka at {settings.bootstrap}: {exc}")
    wanted = (names.sensor, names.hotline, names.inspection, names.acks)
    missing = [topic for topic in wanted if topic not in existing]
    if missing:
        _fail(f"missing topics {', '.join(missing)}; create them with `gridwatch topics create`")
    max_request_size = 1_048_576
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap.split(","),
            acks="all",
            linger_ms=20,
            max_request_size=max_request_size,
            client_id="gridwatch-replay",
        )
    except KafkaError as exc:
        _fail(f"cannot reach Kafka at {settings.bootstrap}: {exc}")
    failures = DeliveryFailures()
    pace = "max speed" if speed is None else f"{speed:g}x"
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} lines"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(f"replaying {log} ({pace})", total=None)

        def on_malformed(number: int, reason: str) -> None:
            err.print(f"line {number}: {reason}", markup=False, highlight=False, soft_wrap=True)

        def on_progress(lines: int) -> None:
            bar.update(task, completed=lines)

        try:
            summary = replay_log(
                read_log(log),
                kafka_sender(producer, failures),
                topics=names,
                speed=speed,
                on_malformed=on_malformed,
                progress=on_progress,
                max_record_bytes=max_request_size - 1024,
            )
            bar.update(task, description=f"flushing {log}")
            producer.flush()
        except KafkaError as exc:
            producer.close(timeout=10)
            _fail(f"publishing to {settings.bootstrap} failed: {exc}")
        except KeyboardInterrupt:
            producer.close(timeout=10)
            _fail("interrupted; records sent so far were flushed", 130)
    producer.close(timeout=10)
    wall = time.monotonic() - started
    if failures.count:
        _fail(f"{failures.count} records were not delivered: {failures.first}")
    table = Table(title=f"replay of {log.name} ({pace})", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("broker", settings.bootstrap)
    for topic in wanted:
        table.add_row(topic, f"{summary.per_topic[topic]:,}")
    table.add_row("malformed lines (skipped)", f"{summary.malformed:,}")
    if summary.first_event_time is not None and summary.last_event_time is not None:
        table.add_row("first event time", summary.first_event_time.isoformat())
        table.add_row("last event time", summary.last_event_time.isoformat())
        table.add_row("event-time span", f"{summary.event_span_s:,.1f} s")
    table.add_row("wall time", f"{wall:,.2f} s")
    table.add_row("events/s", f"{summary.sent / wall if wall > 0 else 0.0:,.0f}")
    out.print(table)
    if summary.malformed:
        err.print(f"[yellow]{summary.malformed} malformed lines skipped[/]", highlight=False)


@cli.command()
@click.option(
    "--topic",
    "topic_name",
    required=True,
    help="A role (sensor, hotline, inspection, alerts, risk, acks, dlq, assets), "
    "prefixed with GRIDWATCH_TOPIC_PREFIX, or a full topic name.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    help="Log to write; .gz is gzipped, - is stdout.",
)
@click.option(
    "--from-offset", type=click.IntRange(min=0), default=None, help="Start every partition here."
)
@click.option(
    "--from-time",
    default=None,
    help="RFC 3339; start every partition at its first record stamped at or after it.",
)
@click.option(
    "--to-time", default=None, help="RFC 3339; stop a partition at a record stamped after it."
)
@click.option("--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP).")
def record(
    topic_name: str,
    out_path: Path,
    from_offset: int | None,
    from_time: str | None,
    to_time: str | None,
    bootstrap: str | None,
) -> None:
    """Dump a topic to a log, one record value a line, in (timestamp, partition, offset) order.

    Reads every partition up to its end when recording starts. Tombstones and
    values that are not JSON are skipped and counted. Every record is held in
    memory to sort them (a few million records at most).
    """
    from datetime import datetime

    from kafka.errors import KafkaError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from streams.broker.admin import broker_answers
    from streams.broker.record import (
        RecordError,
        open_log,
        parse_rfc3339,
        read_topic,
        resolve_topic,
        timestamp_text,
        write_log,
    )

    def moment(text: str | None, flag: str) -> datetime | None:
        if text is None:
            return None
        try:
            return parse_rfc3339(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=flag) from None

    start_time = moment(from_time, "--from-time")
    end_time = moment(to_time, "--to-time")
    if from_offset is not None and start_time is not None:
        raise click.UsageError("give --from-offset or --from-time, not both")
    if start_time is not None and end_time is not None and start_time > end_time:
        raise click.UsageError("--from-time is after --to-time")
    settings = _settings(bootstrap=bootstrap)
    topic = resolve_topic(topic_name, Topics(settings.topic_prefix))
    if not broker_answers(settings.bootstrap, timeout_s=5.0):
        _fail(
            f"no Kafka broker answers at {settings.bootstrap}; start one with `gridwatch kafka up`"
        )
    columns = (
        TextColumn(f"recording {topic}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("record", total=None)

        def on_progress(done: int, expected: int) -> None:
            bar.update(task, completed=done, total=expected)

        try:
            result = read_topic(
                settings.bootstrap,
                topic,
                from_offset=from_offset,
                from_time=start_time,
                to_time=end_time,
                progress=on_progress,
            )
        except RecordError as exc:
            _fail(str(exc))
        except KafkaError as exc:
            _fail(f"reading {topic} from {settings.bootstrap} failed: {exc}")
    buffer = result.buffer
    with open_log(out_path) as handle:
        written = write_log(buffer.lines(), handle)
    table = Table(title=f"recorded {topic} to {out_path}")
    for column in ("partition", "from offset", "end offset", "records", "note"):
        table.add_column(column, justify="left" if column == "note" else "right")
    for part in result.partitions:
        note = "" if part.stopped_at is None else f"stopped at {part.stopped_at} (--to-time)"
        table.add_row(str(part.partition), str(part.start), str(part.end), str(part.records), note)
    err.print(table)
    span = ""
    if buffer.entries:
        first, last = buffer.entries[0][0], buffer.entries[-1][0]
        span = f"; timestamps {timestamp_text(first)} to {timestamp_text(last)}"
    err.print(
        f"{written} records written from {len(result.partitions)} partitions, "
        f"{buffer.skipped} skipped ({buffer.tombstones} tombstones, "
        f"{buffer.not_json} not JSON){span}",
        highlight=False,
        soft_wrap=True,
    )


@cli.command()
@click.option("--assets", "n_assets", type=int, default=400, show_default=True)
@click.option("--duration", default="1h", show_default=True, help="e.g. 15m, 6h, 2d.")
@click.option("--incidents", type=int, default=6, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--start",
    default=None,
    help="RFC 3339 event time of the first minute; default Monday 2026-11-23 06:00+08:00, "
    "or (with --to-kafka) the duration before now.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Event log (JSON Lines, .gz allowed, - for stdout).",
)
@click.option("--registry", "registry_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--truth", "truth_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to-kafka", is_flag=True, help="Produce into the input topics instead.")
@click.option("--rate", type=float, default=None, help="With --to-kafka: events per second.")
@click.option("--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP).")
def simulate(
    n_assets: int,
    duration: str,
    incidents: int,
    seed: int,
    start: str | None,
    out: Path | None,
    registry_out: Path | None,
    truth_out: Path | None,
    to_kafka: bool,
    rate: float | None,
    bootstrap: str | None,
) -> None:
    """Generate a deterministic synthetic city: registry, events and ground truth."""
    import gzip
    import resource
    import time
    from datetime import UTC, datetime

    from streams.lab.simulate import default_start, parse_duration, run_simulation

    if (out is None) == (not to_kafka):
        _fail("give exactly one of --out LOG and --to-kafka", 2)
    if rate is not None and not to_kafka:
        _fail("--rate paces --to-kafka; a file is written at full speed", 2)
    try:
        span = parse_duration(duration)
    except ValueError:
        _fail(f"cannot read duration {duration!r} (use e.g. 90s, 15m, 6h, 2d)", 2)
    if start is not None:
        begin = datetime.fromisoformat(start)
        if begin.tzinfo is None:
            _fail("--start needs a UTC offset", 2)
    elif to_kafka:
        # Events must not lie in the future for the worker: the run ends now.
        begin = datetime.now(UTC).replace(microsecond=0) - span
    else:
        begin = default_start()
    settings = _settings(bootstrap=bootstrap)
    close: list[Any] = []
    if to_kafka:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        from streams.broker.replay import DeliveryFailures, MalformedLine, kafka_sender, route

        try:
            producer = KafkaProducer(
                bootstrap_servers=settings.bootstrap.split(","), acks="all", linger_ms=20
            )
        except KafkaError as exc:
            _fail(f"cannot reach Kafka at {settings.bootstrap}: {exc}")
        failures = DeliveryFailures()
        send = kafka_sender(producer, failures)
        names = Topics(settings.topic_prefix)
        started = time.monotonic()
        sent = [0]

        def emit(line: bytes) -> None:
            try:
                send(route(line, names))
            except MalformedLine as exc:  # the simulator's own output: a bug if it happens
                _fail(f"simulator produced an unroutable event: {exc}")
            sent[0] += 1
            if rate:
                ahead = sent[0] / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)

        close.append(lambda: producer.flush(timeout=120))
        close.append(lambda: producer.close(timeout=10))
    else:
        assert out is not None
        if str(out) == "-":
            stream: Any = sys.stdout.buffer
        else:
            # Closed through `close` once the simulation has run.
            stream = gzip.open(out, "wb") if str(out).endswith(".gz") else out.open("wb")  # noqa: SIM115
            close.append(stream.close)

        def emit(line: bytes) -> None:
            stream.write(line + b"\n")

    summary = run_simulation(
        n_assets=n_assets,
        duration=span,
        incidents=incidents,
        seed=seed,
        start=begin,
        emit=emit,
        registry_out=registry_out,
        truth_out=truth_out,
    )
    for step in close:
        step()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.events.items()))
    err.print(
        f"{summary.total} events ({kinds}) for {summary.assets} assets, {summary.incidents} "
        f"incidents, {summary.decoys} decoys in {summary.elapsed_s:.1f}s "
        f"({summary.total / max(summary.elapsed_s, 1e-9):,.0f} events/s, "
        f"peak RSS {peak_mb:,.0f} MB)",
        highlight=False,
    )


@cli.command()
@click.option("--rate", type=float, default=300.0, show_default=True, help="Simulator events/s.")
@click.option("--incidents", type=int, default=24, show_default=True)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP).")
@click.option("--web-port", type=int, default=None, help="HTTP port (env GRIDWATCH_WEB_PORT).")
def demo(
    rate: float,
    incidents: int,
    duration: float | None,
    bootstrap: str | None,
    web_port: int | None,
) -> None:
    """The main job on an embedded default: broker, worker, simulator and a live view."""
    from streams.lab.demo import run_demo

    settings = _settings(bootstrap=bootstrap, web_port=web_port)
    sys.exit(run_demo(settings, duration=duration, rate=rate, incidents=incidents, console=out))


cli.add_command(cap_xml_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gridwatch")
