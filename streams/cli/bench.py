"""``gridwatch bench …``: the benchmarks; each prints a table and JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.table import Table

from streams.cli.common import out

F = TypeVar("F", bound=Callable[..., Any])


def json_output(command: F) -> F:
    """The ``--json`` and ``--out FILE`` options every benchmark has."""
    command = click.option(
        "--out",
        "out_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Also write the JSON object to this file.",
    )(command)
    return click.option("--json", "as_json", is_flag=True, help="Print only the JSON object.")(
        command
    )


def emit_json(result: dict[str, Any], as_json: bool, out_file: Path | None) -> str | None:
    """Write the result to ``out_file``; print it and return None with ``--json``, else its text."""
    text = orjson.dumps(result).decode()
    if out_file is not None:
        out_file.write_text(text + "\n")
    if as_json:
        click.echo(text)
        return None
    return text


@click.group()
def bench() -> None:
    """Benchmarks: print numbers and write JSON."""


@bench.command("engine")
@click.option("--events", type=int, default=200_000, show_default=True)
@click.option("--assets", "asset_count", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--repeat", type=int, default=3, show_default=True, help="Best of N runs.")
@json_output
def bench_engine_command(
    events: int, asset_count: int, seed: int, repeat: int, as_json: bool, out_file: Path | None
) -> None:
    """Decode-validate-and-engine against decode-validate only, same log, one process."""
    from streams.lab.bench import bench_engine

    result = bench_engine(events, asset_count, seed, repeat)
    text = emit_json(result, as_json, out_file)
    if text is None:
        return
    table = Table(title=f"gridwatch bench engine ({events} events, {asset_count} assets)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("decode + validate", f"{result['decode_events_per_s']:,.0f} events/s")
    table.add_row("decode + validate + engine", f"{result['engine_events_per_s']:,.0f} events/s")
    table.add_row("ratio", f"{result['ratio']:.3f}")
    table.add_row("alerts", str(result["alerts"]))
    out.print(table)
    click.echo(text)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers") from None


def _counts(text: str, option: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers of at least 1 (``1.5`` is refused, not cut)."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of whole numbers", param_hint=option
        ) from None
    if not counts or min(counts) < 1:
        raise click.BadParameter("needs one or more counts of at least 1", param_hint=option)
    return counts


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


@bench.command("pipeline")
@click.option(
    "--events",
    type=click.IntRange(min=100),
    default=60_000,
    show_default=True,
    help="Events of the simulated city every throughput stage uses.",
)
@click.option(
    "--workers",
    "worker_counts",
    default="1,2",
    show_default=True,
    help="Worker runs, comma-separated: each a group of that many workers.",
)
@click.option(
    "--rates",
    default="1000,5000",
    show_default=True,
    help="Input rates (events/s) for the latency runs, comma-separated; '' for none.",
)
@click.option(
    "--latency-seconds",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="How long each latency run sends.",
)
@click.option(
    "--idle-wait-s",
    type=click.FloatRange(min=0, max=1, min_open=True),  # the setting is > 0
    default=None,
    help="GRIDWATCH_IDLE_WAIT_S of the latency runs' worker (default: the setting's default).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@json_output
def bench_pipeline_command(
    events: int,
    worker_counts: str,
    rates: str,
    latency_seconds: float,
    idle_wait_s: float | None,
    seed: int,
    as_json: bool,
    out_file: Path | None,
) -> None:
    """The live path against the raw Kafka client, on one broker in one run.

    A worker run's events/s counts from the moment every worker of the group
    is ready and holds partitions to the last event applied; "whole backlog"
    counts from the first message received, rebalances included.

    Times a plain aiokafka producer, `gridwatch replay --max-speed`, a raw
    aiokafka consume-decode-produce loop and gridwatch workers on the same
    simulated backlog, then event-to-alert latency at fixed input rates. Uses
    the broker at GRIDWATCH_BOOTSTRAP, or starts the local one (and stops it
    again); every topic and consumer group it creates is deleted at the end.
    """
    from streams.cli.common import err, fail, load_settings
    from streams.lab.pipeline import PipelineBenchError, PipelineOptions, run_pipeline_bench

    counts = _counts(worker_counts, "--workers")
    options = PipelineOptions(
        events=events,
        workers=counts,
        rates=_floats(rates),
        latency_s=latency_seconds,
        idle_wait_s=idle_wait_s,
        seed=seed,
    )
    try:
        result = run_pipeline_bench(load_settings(), options, err)
    except PipelineBenchError as exc:
        fail(str(exc))
    text = emit_json(result, as_json, out_file)
    if text is None:
        return
    table = Table(
        title=f"gridwatch bench pipeline ({result['events']:,} events, "
        f"{result['assets']:,} assets, {result['partitions']} partitions)"
    )
    table.add_column("stage")
    table.add_column("events/s", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("start-up", justify="right")
    table.add_column("whole backlog", justify="right")
    raw = result["raw_loop_events_per_s"]
    table.add_row("raw aiokafka producer", f"{result['raw_produce_events_per_s']:,.0f}", "1", "")
    table.add_row(
        "gridwatch replay --max-speed",
        f"{result['replay_events_per_s']:,.0f}",
        f"{result['replay_ratio']}",
        "",
    )
    table.add_row(
        "raw aiokafka consumer → orjson", f"{result['raw_consume_events_per_s']:,.0f}", "1", ""
    )
    table.add_row(
        "gridwatch record (sensor topic)",
        f"{result['record_events_per_s']:,.0f}",
        f"{result['record_ratio']}",
        "",
    )
    table.add_row("raw consume → orjson → send", f"{raw:,.0f}", "1", "")
    table.add_row(
        "raw consume → orjson → send_batch",
        f"{result['raw_batch_loop_events_per_s']:,.0f}",
        f"{result['raw_batch_loop_events_per_s'] / raw:.2f}" if raw else "-",
        "",
    )
    table.add_row(
        "bare Faust agent (no work)",
        f"{result['faust_bare_events_per_s']:,.0f}",
        f"{result['faust_bare_ratio']}",
        "",
    )
    for row in result["workers"]:
        formed = row.get("start_to_group_formed_s")
        table.add_row(
            f"gridwatch workers: {row['workers']}"
            + ("" if row["workers"] == 1 else f" ({row['speedup_over_one']}x one)"),
            f"{row['events_per_s']:,.0f}",
            f"{row['ratio_to_raw_loop']}",
            f"{row['start_to_first_applied_s']:.1f} s"
            if formed is None
            else f"group {formed:.1f} s",
            f"{row['backlog_events_per_s']:,.0f}/s",
        )
    out.print(table)
    if result["latency"]:
        latency = Table(title="event → alert latency, one worker")
        for column in ("input rate", "idle wait", "events", "alerts", "p50", "p99", "max"):
            latency.add_column(column, justify="right")
        for row in result["latency"]:
            latency.add_row(
                f"{row['rate_events_per_s']:,.0f}/s",
                f"{row['idle_wait_s']:g} s",
                f"{row['events']:,}",
                str(row["alerts"]),
                _ms(row["p50_ms"]),
                _ms(row["p99_ms"]),
                _ms(row["max_ms"]),
            )
        out.print(latency)
    click.echo(text)


def _nab_score(subset: dict[str, Any]) -> str:
    if subset["score"] is None:
        return f"no windows (raw {subset['raw']:.3f})"
    return f"{subset['score']:.2f}"


@bench.command("nab")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--subset",
    "subsets",
    multiple=True,
    help="A NAB subset folder under ROOT (repeatable). Default: every subset folder in ROOT.",
)
@click.option(
    "--results",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Score NAB's own result files (NAB's results/ folder) instead of gridwatch.",
)
@click.option("--detector", default=None, help="With --results: the detector's folder name.")
@click.option(
    "--threshold", type=float, default=None, help="With --results: its anomaly-score threshold."
)
@json_output
def bench_nab_command(
    root: Path,
    subsets: tuple[str, ...],
    results: Path | None,
    detector: str | None,
    threshold: float | None,
    as_json: bool,
    out_file: Path | None,
) -> None:
    """Score the learned detector on the Numenta Anomaly Benchmark (standard profile).

    ROOT holds NAB's windows.json (its combined_windows.json) and one folder of
    CSV files per subset, or is a checkout of NAB (labels/, data/). Each series
    runs through the engine of `gridwatch process` as one asset whose metric
    has no rule; every Alert counts as a detection.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from streams.cli.common import err, fail, load_settings
    from streams.engine.config import load_config
    from streams.lab import nab

    if results is not None and (detector is None or threshold is None):
        fail("--results needs --detector and --threshold")
    chosen = subsets or tuple(nab.subset_names(root))
    if not chosen:
        fail(f"{root}: no subset folders with CSV files (see --help)")
    try:
        series = nab.load_series(root, chosen)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    config = load_config(load_settings().engine_config)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("scoring", total=len(series))

        def advance(one: nab.NabSeries) -> None:
            bar.update(task, advance=1, description=f"{one.subset}/{one.name}")

        if results is not None and detector is not None and threshold is not None:
            scores = nab.score_detector_results(series, results, detector, threshold)
            bar.update(task, completed=len(series))
        else:
            scores = nab.score_series(series, lambda one: nab.detect(one, config), advance)
    result: dict[str, Any] = {"detector": detector or "gridwatch", "subsets": nab.report(scores)}
    text = emit_json(result, as_json, out_file)
    if text is None:
        return
    for name, subset in result["subsets"].items():
        table = Table(title=f"{name}: {_nab_score(subset)}")
        for column in ("file", "windows", "detected", "detections", "false pos.", "raw"):
            table.add_column(column, justify="left" if column == "file" else "right")
        for row in subset["files"]:
            table.add_row(
                row["file"],
                str(row["windows"]),
                str(row["detected"]),
                str(row["detections"]),
                str(row["false_positives"]),
                f"{row['raw']:.3f}",
            )
        out.print(table)
    summary = Table(title=f"NAB standard profile: {result['detector']}")
    summary.add_column("subset")
    summary.add_column("score", justify="right")
    summary.add_column("best published", justify="right")
    for name, subset in result["subsets"].items():
        best = subset["best_published"]
        summary.add_row(
            name, _nab_score(subset), "-" if best is None else f"{best[1]:.1f} ({best[0]})"
        )
    out.print(summary)
    click.echo(text)


@bench.command("scaling")
@click.option(
    "--assets",
    "asset_counts",
    default="1000,10000,100000",
    show_default=True,
    help="City sizes, comma-separated.",
)
@click.option(
    "--partitions",
    "partition_counts",
    default="4,16",
    show_default=True,
    help="Partitions of every topic, comma-separated.",
)
@click.option(
    "--workers",
    "worker_counts",
    default="1,2",
    show_default=True,
    help="Workers in a group, comma-separated.",
)
@click.option(
    "--events",
    type=click.IntRange(min=100),
    default=200_000,
    show_default=True,
    help="Backlog of every cell, spread over its assets.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@json_output
def bench_scaling_command(
    asset_counts: str,
    partition_counts: str,
    worker_counts: str,
    events: int,
    seed: int,
    as_json: bool,
    out_file: Path | None,
) -> None:
    """Throughput, peak RSS and recovery time over assets x partitions x workers.

    For every city size and partition count: fresh topics, the registry and a
    backlog of --events events; for every worker count a group of its own
    drains it (events/s as in `bench pipeline`), then one new worker of the
    group restores its state (recovery: spawn to ready). Uses the broker at
    GRIDWATCH_BOOTSTRAP, or starts the local one; every topic and consumer
    group it creates is deleted at the end.
    """
    from streams.cli.common import err, fail, load_settings
    from streams.lab.pipeline import PipelineBenchError
    from streams.lab.scaling import ScalingOptions, run_scaling_bench

    options = ScalingOptions(
        assets=_counts(asset_counts, "--assets"),
        partitions=_counts(partition_counts, "--partitions"),
        workers=_counts(worker_counts, "--workers"),
        events=events,
        seed=seed,
    )
    try:
        result = run_scaling_bench(load_settings(), options, err)
    except PipelineBenchError as exc:
        fail(str(exc))
    if emit_json(result, as_json, out_file) is None:
        return
    table = Table(title=f"gridwatch bench scaling ({result['events']:,} events a cell)")
    for column in (
        "assets",
        "partitions",
        "workers",
        "events/s",
        "first applied",
        "peak RSS",
        "recovery",
    ):
        table.add_column(column, justify="right")
    for row in result["rows"]:
        rss = row["peak_rss_mb"]
        table.add_row(
            f"{row['assets']:,}",
            str(row["partitions"]),
            str(row["workers"]),
            f"{row['events_per_s']:,.0f}",
            f"{row['start_to_first_applied_s']:.1f} s",
            "-" if rss is None else f"{rss:,.0f} MiB",
            f"{row['recovery_s']:.1f} s",
        )
    out.print(table)
