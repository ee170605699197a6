"""``gridwatch simulate`` and ``gridwatch evaluate``: the synthetic city and its scoring."""

from __future__ import annotations

import resource
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson
from rich.console import Console

from streams.broker.admin import BrokerUnavailableError
from streams.cli.common import bootstrap_option, err, fail, load_settings
from streams.core.timefmt import parse_rfc3339


@click.command()
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
@bootstrap_option
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
    from streams.broker.replay import EventPublisher, MalformedLine, ReplayError
    from streams.core.eventlog import open_log
    from streams.lab.simulate import SimulationSummary, default_start, parse_duration
    from streams.lab.simulate import run_simulation as simulate_city

    if (out is None) == (not to_kafka):
        fail("give exactly one of --out LOG and --to-kafka", 2)
    if rate is not None and not to_kafka:
        fail("--rate paces --to-kafka; a file is written at full speed", 2)
    try:
        span = parse_duration(duration)
    except ValueError:
        fail(f"cannot read duration {duration!r} (use e.g. 90s, 15m, 6h, 2d)", 2)
    if start is not None:
        try:
            begin = parse_rfc3339(start)
        except ValueError as exc:
            fail(f"--start: {exc}", 2)
    elif to_kafka:
        # Events must not lie in the future for the worker: the run ends now.
        begin = datetime.now(UTC).replace(microsecond=0) - span
    else:
        begin = default_start()

    def run(emit: Callable[[bytes], None]) -> SimulationSummary:
        return simulate_city(
            n_assets=n_assets,
            duration=span,
            incidents=incidents,
            seed=seed,
            start=begin,
            emit=emit,
            registry_out=registry_out,
            truth_out=truth_out,
        )

    if to_kafka:
        settings = load_settings(bootstrap=bootstrap)
        try:
            with EventPublisher(settings, rate=rate) as publisher:
                summary = run(publisher.emit)
        except (BrokerUnavailableError, ReplayError) as exc:
            fail(str(exc))
        except MalformedLine as exc:  # the simulator's own output: a bug if it happens
            fail(f"simulator produced an unroutable event: {exc}")
    else:
        assert out is not None
        with open_log(out) as stream:

            def write(line: bytes) -> None:
                stream.write(line + b"\n")

            summary = run(write)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.events.items()))
    err.print(
        f"{summary.total} events ({kinds}) for {summary.assets} assets, {summary.incidents} "
        f"incidents, {summary.decoys} decoys in {summary.elapsed_s:.1f}s "
        f"({summary.total / max(summary.elapsed_s, 1e-9):,.0f} events/s, "
        f"peak RSS {peak_mb:,.0f} MB)",
        highlight=False,
    )


@click.command("evaluate")
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
    from streams.lab.evaluate import evaluate, load_alerts, load_truth, print_report

    try:
        truth = load_truth(truth_file)
        alerts = load_alerts(alerts_file)
    except (OSError, ValueError) as exc:
        fail(str(exc), 2)
    result = evaluate(alerts, truth, grace_s=grace_s)
    if as_json:
        click.echo(orjson.dumps(result).decode())
        return
    print_report(result, Console())
