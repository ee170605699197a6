"""``gridwatch bench …``: the benchmarks; each prints a table and JSON."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from rich.table import Table

from streams.cli.common import out


@click.group()
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
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the JSON object to this file.",
)
def bench_engine_command(
    events: int, asset_count: int, seed: int, repeat: int, as_json: bool, out_file: Path | None
) -> None:
    """Decode-validate-and-engine against decode-validate only, same log, one process."""
    from streams.lab.bench import bench_engine

    result = bench_engine(events, asset_count, seed, repeat)
    text = orjson.dumps(result).decode()
    if out_file is not None:
        out_file.write_text(text + "\n")
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
    out.print(table)
    click.echo(text)
