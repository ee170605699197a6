"""``gridwatch worker``, ``gridwatch assets load`` and ``gridwatch demo``: the live system."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams.broker.admin import (
    BrokerAuthenticationError,
    BrokerUnavailableError,
    ReplicationError,
)
from streams.cli.common import bootstrap_option, err, fail, load_settings, out, web_port_option


@click.command()
@bootstrap_option
@web_port_option
def worker(bootstrap: str | None, web_port: int | None) -> None:
    """Run a gridwatch worker (several may run in one group)."""
    from streams.broker.preflight import PreflightError
    from streams.runtime.worker import run_worker  # faust is heavy; only this command needs it

    settings = load_settings(bootstrap=bootstrap, web_port=web_port)
    try:
        run_worker(settings)
    except BrokerAuthenticationError as exc:
        fail(str(exc))
    except BrokerUnavailableError as exc:
        fail(f"{exc}; start one with `gridwatch kafka up`")
    except PreflightError as exc:
        fail(f"refusing to start: {exc}", 2)
    except ReplicationError as exc:
        fail(f"refusing to create topics: {exc} (GRIDWATCH_REPLICATION_FACTOR)", 2)


@click.group()
def assets() -> None:
    """Manage the asset registry (the compacted assets topic)."""


@assets.command("load")
@click.argument("registry_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@bootstrap_option
def assets_load(registry_file: Path, bootstrap: str | None) -> None:
    """Publish a GeoJSON registry to the assets topic, keyed by asset_id."""
    from streams.broker.assets import publish_assets
    from streams.engine.registry_file import load_registry

    settings = load_settings(bootstrap=bootstrap)
    try:
        registry, problems = load_registry(registry_file)
    except ValueError as exc:
        fail(str(exc))
    for problem in problems:
        err.print(f"[yellow]skipped:[/] {problem}", highlight=False)
    try:
        topic, count = publish_assets(settings, registry)
    except BrokerUnavailableError as exc:
        fail(str(exc))
    out.print(f"published {count} assets to {topic} ({len(problems)} skipped)")


@click.command()
@click.option("--rate", type=float, default=300.0, show_default=True, help="Simulator events/s.")
@click.option("--incidents", type=int, default=24, show_default=True)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@bootstrap_option
@web_port_option
def demo(
    rate: float,
    incidents: int,
    duration: float | None,
    bootstrap: str | None,
    web_port: int | None,
) -> None:
    """The main job on an embedded default: broker, worker, simulator and a live view."""
    from streams.lab.demo import run_demo

    settings = load_settings(bootstrap=bootstrap, web_port=web_port)
    sys.exit(run_demo(settings, duration=duration, rate=rate, incidents=incidents, console=out))
