"""``gridwatch bench scaling``: how a worker grows with the city, the partitions and the group.

For every (assets, partitions) pair of the grid, on one broker:

1. fresh topics with that many partitions, the registry of that many assets
   and a backlog of ``events`` simulated events spread over them (a reading
   per asset per minute, for as many minutes as it takes);
2. for every worker count, a consumer group of its own drains the backlog:
   throughput is measured as in ``bench pipeline`` (:func:`~streams.lab.pipeline.drain`),
   and each worker's peak resident memory is read from ``/proc`` before it stops.
   The backlog must be large against the start-up: a worker loads the
   registry before the hotline router's first progress marker lets the
   engine apply anything, which takes seconds for 100k assets;
3. the group is stopped and one new worker of the same group is started:
   *recovery* is the time from its spawn until it answers ``/health`` as ready,
   which it does once it has read the registry and restored the whole group's
   asset states from the changelog.

Everything the run creates (topics and groups with its own prefix, the
workers, the local broker if none answered) is removed at the end.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.lab.labrun import LabRun
from streams.lab.pipeline import (
    City,
    bench_run,
    drain,
    prepare_topics,
    raw_produce,
    retarget,
    simulate_city,
    start_workers,
    wait_ready,
)


@dataclass(frozen=True)
class ScalingOptions:
    """What ``gridwatch bench scaling`` was asked for."""

    assets: tuple[int, ...] = (1_000, 10_000, 100_000)
    partitions: tuple[int, ...] = (4, 16)
    workers: tuple[int, ...] = (1, 2)
    events: int = 200_000
    seed: int = 1


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (``VmHWM``) in MiB; None where ``/proc`` cannot tell."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def run_scaling_bench(
    settings: Settings, options: ScalingOptions, console: Console
) -> dict[str, Any]:
    """Run the grid on one broker; the result as a JSON-ready dict."""
    with bench_run(settings, "scaling", console) as run:
        rows = []
        for assets in options.assets:
            minutes = max(1, math.ceil(options.events / assets))
            console.print(f"simulating {assets:,} assets for {minutes} min …")
            city = simulate_city(
                options.events, options.seed, 0, assets=assets, duration=timedelta(minutes=minutes)
            )
            for partitions in options.partitions:
                rows.extend(_cell(run, settings, options, console, run.prefix, city, partitions))
        return {"events": options.events, "seed": options.seed, "rows": rows}


def _cell(
    run: LabRun,
    settings: Settings,
    options: ScalingOptions,
    console: Console,
    base: str,
    city: City,
    partitions: int,
) -> list[dict[str, Any]]:
    """Every worker count on one (assets, partitions) backlog."""
    cell_settings = settings.model_copy(update={"partitions": partitions})
    topics = Topics(f"{base}.a{city.assets}p{partitions}.")
    prepare_topics(cell_settings, topics, city.assets, city.seed)
    asyncio.run(raw_produce(settings.bootstrap, retarget(city.routed, topics)))
    rows = []
    for count in options.workers:
        console.print(
            f"{city.assets:,} assets, {partitions} partitions, {count} worker(s): draining …"
        )
        group = f"{base}-a{city.assets}p{partitions}w{count}"
        since = len(run.children)
        pool = start_workers(run, cell_settings, topics.prefix, group, count)
        timing = drain(run, pool, since, city.events)
        rss = [peak_rss_mb(child.pid) for child in run.children[since:]]
        run.stop_children(since)
        console.print("  recovery of the group's state by one new worker …")
        since = len(run.children)
        started = time.monotonic()
        recovering = start_workers(run, cell_settings, topics.prefix, group, 1)
        wait_ready(run, recovering, since)
        recovery_s = time.monotonic() - started
        run.stop_children(since)
        known = [value for value in rss if value is not None]
        rows.append(
            {
                "assets": city.assets,
                "partitions": partitions,
                "workers": count,
                "events": city.events,
                "events_per_s": timing.events_per_s,
                "measured_from": "settled" if timing.steady else "first_received",
                "backlog_events_per_s": timing.backlog_events_per_s,
                "start_to_first_applied_s": round(timing.first_applied_s, 2),
                "start_to_done_s": round(timing.done_s, 2),
                "peak_rss_mb": max(known) if known else None,
                "recovery_s": round(recovery_s, 2),
            }
        )
    return rows
