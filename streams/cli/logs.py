"""``gridwatch replay`` and ``gridwatch record``: event logs into and out of Kafka."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from streams.broker.admin import BrokerUnavailableError
from streams.cli.common import bootstrap_option, err, fail, load_settings, out
from streams.core.timefmt import parse_rfc3339, timestamp_text
from streams.core.topics import Topics

PROGRESS_EVERY = 1000
"""Lines between two updates of a replay's progress bar."""


@click.command()
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
@bootstrap_option
def replay(log: Path, speed: float | None, max_speed: bool, bootstrap: str | None) -> None:
    """Publish an event log (JSON Lines, .gz or - for stdin) into the input topics.

    Each line goes unchanged to the topic of its kind (sensor, hotline, inspection,
    ack → acks), keyed by asset_id (hotline: service_request_id), with its event_time
    as the Kafka timestamp. Lines that cannot be routed are reported as `line N:
    reason` and skipped; the worker validates the rest. Without --speed the log is
    replayed at maximum speed. Exit 1 if the broker cannot be reached or refuses
    records.
    """
    from streams.broker.replay import ReplayError, publish_log
    from streams.core.eventlog import read_log

    if speed is not None and max_speed:
        raise click.UsageError("give --speed X or --max-speed, not both")
    settings = load_settings(bootstrap=bootstrap)
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

        def progress(lines: int) -> None:
            # The bar redraws ten times a second; a lock per line cost 5% of a full-speed replay.
            if lines % PROGRESS_EVERY == 0:
                bar.update(task, completed=lines)

        try:
            summary = publish_log(
                settings,
                read_log(log),
                speed=speed,
                on_malformed=on_malformed,
                progress=progress,
                on_flush=lambda: bar.update(task, description=f"flushing {log}"),
            )
        except (BrokerUnavailableError, ReplayError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted; records sent so far were flushed", 130)
    wall = time.monotonic() - started
    table = Table(title=f"replay of {log.name} ({pace})", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("broker", settings.bootstrap)
    names = Topics(settings.topic_prefix)
    for topic in (names.sensor, names.hotline, names.inspection, names.acks):
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


def _moment(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


@click.command()
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
@bootstrap_option
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
    from streams.broker.clients import require_broker
    from streams.broker.record import RecordError, read_topic, resolve_topic
    from streams.core.eventlog import open_log, write_log

    start_time = _moment(from_time, "--from-time")
    end_time = _moment(to_time, "--to-time")
    if from_offset is not None and start_time is not None:
        raise click.UsageError("give --from-offset or --from-time, not both")
    if start_time is not None and end_time is not None and start_time > end_time:
        raise click.UsageError("--from-time is after --to-time")
    settings = load_settings(bootstrap=bootstrap)
    topic = resolve_topic(topic_name, Topics(settings.topic_prefix))
    columns = (TextColumn(f"recording {topic}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("record", total=None)
        try:
            require_broker(settings)
            result = read_topic(
                settings,
                topic,
                from_offset=from_offset,
                from_time=start_time,
                to_time=end_time,
                progress=lambda done, expected: bar.update(task, completed=done, total=expected),
            )
        except (BrokerUnavailableError, RecordError) as exc:
            fail(str(exc))
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
