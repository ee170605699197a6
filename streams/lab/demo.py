"""``gridwatch demo``: the main job on an embedded default, with a live terminal view.

Starts a local broker if none answers, creates this run's topics, loads the
sample registry, starts a worker and the simulator (both as child processes)
and shows events/s, the alerts as they come and the top-10 risk table. Ctrl-C
(or ``--duration``) stops everything it started, and nothing else: the broker
only if the demo started it; this run's topics and consumer groups are deleted.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from streams.broker.admin import ensure_topics
from streams.broker.clients import open_consumer
from streams.core.settings import Settings, project_root
from streams.core.topics import Topics
from streams.lab.labrun import LabRun, get_json, metric_sum

LEVEL_STYLE = {"watch": "yellow", "warning": "dark_orange", "critical": "bold red"}
SAMPLE_ASSETS = 400  # data/registry/shanghai-sample.geojson is citygen(400, seed 1)
SAMPLE_SEED = 1


def _view(
    settings: Settings,
    prefix: str,
    rate: float,
    alerts: deque[dict[str, Any]],
    risk: list[dict[str, Any]],
    status: str,
) -> Group:
    web = f"http://{settings.web_host}:{settings.web_port}"
    header = Text.assemble(
        ("gridwatch demo", "bold"),
        f"  topics {prefix}*  ",
        (f"{rate:,.0f} events/s", "bold green"),
        f"  {status}\n",
        f"API {web}/risk  {web}/alerts/active  metrics {web}/metrics   Ctrl-C stops",
    )
    feed = Table(title="alerts (newest first)", expand=True)
    for column in ("event time", "msgType", "level", "asset", "headline"):
        feed.add_column(column, overflow="ellipsis", no_wrap=True)
    for alert in alerts:
        level = alert.get("level", "")
        feed.add_row(
            alert.get("event_time", "")[11:19],
            alert.get("msgType", ""),
            Text(level, style=LEVEL_STYLE.get(level, "")),
            alert.get("asset_id", ""),
            (alert.get("info") or [{}])[0].get("headline", ""),
        )
    top = Table(title="top-10 risk", expand=True)
    for column in ("asset", "type", "score", "level", "certainty", "why"):
        top.add_column(column, overflow="ellipsis", no_wrap=True)
    for state in risk:
        level = state.get("level") or ""
        factors = state.get("factors") or [{}]
        top.add_row(
            state.get("asset_id", ""),
            state.get("asset_type") or "?",
            f"{state.get('risk_score', 0):.0f}",
            Text(level, style=LEVEL_STYLE.get(level, "")),
            state.get("certainty", ""),
            factors[0].get("detail", ""),
        )
    return Group(Panel(header), feed, top)


def run_demo(
    settings: Settings,
    *,
    duration: float | None,
    rate: float,
    incidents: int,
    console: Console,
) -> int:
    """Run the demo until Ctrl-C or ``duration`` seconds; return an exit code."""
    root = project_root()
    if root is None:
        console.print("[red]gridwatch demo runs from its source checkout[/]")
        return 2
    registry = root / "data" / "registry" / "shanghai-sample.geojson"
    prefix = f"demo{int(time.time())}."
    home = settings.home / "demo" / prefix.rstrip(".")
    home.mkdir(parents=True, exist_ok=True)
    run = LabRun(settings, prefix, home)
    executable = str(Path(sys.executable).parent / "gridwatch")
    env = run.child_env(
        topic_prefix=prefix,
        app_id=f"{prefix}gridwatch",
        home=home,
        web_port=settings.web_port,
        web_host=settings.web_host,
    )
    try:
        if not run.ensure_broker(console):
            return 1
        topics = Topics(prefix)
        ensure_topics(
            settings.bootstrap,
            topics.specs(settings.partitions),
            settings.partitions,
            1,
            security=settings.kafka_security,
        )
        loaded = subprocess.run(
            [executable, "assets", "load", str(registry)], env=env, capture_output=True, check=False
        )
        if loaded.returncode != 0:
            console.print(loaded.stderr.decode(errors="replace"))
            return 1
        worker = run.spawn("worker", [executable, "worker"], env)
        web = f"http://{settings.web_host}:{settings.web_port}"
        deadline = time.monotonic() + 90
        while (get_json(f"{web}/health") or {}).get("status") != "ready":
            if worker.poll() is not None or time.monotonic() > deadline:
                console.print(f"[red]the worker did not start; see {home / 'worker.log'}[/]")
                return 1
            time.sleep(0.5)
        run.spawn(
            "simulator",
            [
                executable, "simulate", "--assets", str(SAMPLE_ASSETS), "--seed",
                str(SAMPLE_SEED), "--duration", "2h", "--incidents", str(incidents),
                "--to-kafka", "--rate", str(rate),
            ],
            env,
        )  # fmt: skip
        consumer = open_consumer(
            settings, topics.alerts, client_id="gridwatch-demo", auto_offset_reset="earliest"
        )
        alerts: deque[dict[str, Any]] = deque(maxlen=15)
        seen = 0
        started = time.monotonic()
        last_events, last_time = 0.0, started
        events_rate = 0.0
        interactive = console.is_terminal
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while duration is None or time.monotonic() - started < duration:
                for batch in consumer.poll(timeout_ms=500).values():
                    for record in batch:
                        with contextlib.suppress(ValueError):
                            alert = json.loads(record.value)
                            alerts.appendleft(alert)
                            seen += 1
                            if not interactive:
                                console.print(
                                    f"ALERT {alert.get('msgType')} {alert.get('level')} "
                                    f"{alert.get('asset_id')}: "
                                    f"{(alert.get('info') or [{}])[0].get('headline', '')}",
                                    highlight=False,
                                )
                now = time.monotonic()
                if now - last_time >= 1.0:
                    events = metric_sum(f"{web}/metrics", "gridwatch_engine_events_total")
                    events_rate = (events - last_events) / (now - last_time)
                    last_events, last_time = events, now
                    top = (get_json(f"{web}/risk?limit=10") or {}).get("assets", [])
                    status = f"{seen} alert messages"
                    if worker.poll() is not None:
                        console.print(f"[red]the worker stopped; see {home / 'worker.log'}[/]")
                        return 1
                    if interactive:
                        live.update(
                            _view(settings, prefix, events_rate, alerts, top, status),
                            refresh=True,
                        )
        consumer.close()
        console.print(f"demo finished: {seen} alert messages")
        return 0
    except KeyboardInterrupt:
        console.print("stopping …")
        return 0
    finally:
        run.stop(console)
