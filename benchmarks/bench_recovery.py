"""Benchmark state recovery: how long a worker takes to be ready on a large city.

Run from the repository root against a running broker (``gridwatch kafka up``)::

    .venv/bin/python benchmarks/bench_recovery.py [--assets 10000 100000] [--json PATH]

For each size it creates a deployment of its own (a new topic prefix, so a new
application id), loads a synthetic registry of that many assets, sends three
sensor readings per asset and lets one worker apply them, so every asset has
state in the changelog. Then it times, from the moment the new process is
spawned to ``/health`` answering ``ready``:

- ``first_start_s``: the first worker, with the registry only (no state yet);
- ``restart_s``: a fresh worker (empty local store) after the first one
  stopped cleanly, recovering every asset's state from the changelog;
- ``failover_s``: from a SIGKILL of that worker to its replacement being ready,
  which adds the group's session timeout (``GRIDWATCH_SESSION_TIMEOUT_S``)
  before the dead member's partitions move.

Prints the numbers and writes them as JSON (``bench-*.json`` is git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from kafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.broker.assets import publish_assets
from streams.broker.clients import open_consumer, open_producer
from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.lab.citygen import generate_registry

GRIDWATCH = str(Path(sys.executable).with_name("gridwatch"))
READINGS_PER_ASSET = 3
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Worker:
    """A ``gridwatch worker`` process with an empty local store."""

    def __init__(self, env: dict[str, str], home: Path, name: str, port: int) -> None:
        self.web = f"http://127.0.0.1:{port}"
        self.log = home / f"{name}.log"
        data = home / name
        shutil.rmtree(data, ignore_errors=True)
        full = {**env, "GRIDWATCH_WEB_PORT": str(port), "GRIDWATCH_DATA_DIR": str(data)}
        with self.log.open("wb") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [GRIDWATCH, "worker"], env=full, stdout=out, stderr=subprocess.STDOUT
            )
        self.spawned = time.monotonic()

    def _get(self, path: str) -> tuple[int, bytes]:
        try:
            url = f"{self.web}{path}"  # always http://127.0.0.1
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, b""

    def ready_after(self, timeout: float = 900) -> float:
        """Seconds from spawning to ``/health`` answering 200."""

        def ready() -> bool:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{tail}")
            return self._get("/health")[0] == 200

        _wait(ready, timeout, f"{self.web}/health")
        return time.monotonic() - self.spawned

    def applied(self) -> float:
        """Events the worker's engine applied (0 while it does not answer)."""
        status, body = self._get("/metrics")
        if status != 200:
            return 0.0
        return sum(
            sample.value
            for family in text_string_to_metric_families(body.decode())
            if family.name == "gridwatch_engine_events"
            for sample in family.samples
            if sample.name == "gridwatch_engine_events_total"
        )

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Send ``sig`` and wait for the process to end."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=120)


def _readings(asset_ids: list[str]) -> Iterator[tuple[str, bytes]]:
    for round_ in range(READINGS_PER_ASSET):
        at = (START + timedelta(minutes=round_)).isoformat(timespec="milliseconds")
        for number, asset_id in enumerate(asset_ids):
            event = {
                "kind": "sensor",
                "event_id": f"rec-{round_}-{number}",
                "event_time": at,
                "source": "bench",
                "sensor_id": f"s-{asset_id}",
                "asset_id": asset_id,
                "metric": "vibration_mm_s",
                "value": 1.0 + round_ / 10,
                "quality": "good",
            }
            yield asset_id, orjson.dumps(event)


def _changelog_records(settings: Settings, topic: str) -> int:
    consumer = open_consumer(settings, client_id="bench-recovery")
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        consumer.close()


def measure(assets: int, bootstrap: str, home: Path, port: int) -> dict[str, Any]:
    """Populate a deployment of ``assets`` assets and time three starts."""
    prefix = f"recovery{assets}-{uuid.uuid4().hex[:6]}."
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env.update(
        GRIDWATCH_BOOTSTRAP=bootstrap,
        GRIDWATCH_TOPIC_PREFIX=prefix,
        GRIDWATCH_HOME=str(home),
        GRIDWATCH_LOG_LEVEL="warning",
    )
    settings = Settings(bootstrap=bootstrap, topic_prefix=prefix)
    subprocess.run([GRIDWATCH, "topics", "create"], env=env, check=True, capture_output=True)
    registry = list(generate_registry(assets, seed=1))
    publish_assets(settings, registry)

    first = Worker(env, home, "first", port)
    first_start_s = first.ready_after()
    started = time.monotonic()
    producer = open_producer(settings, client_id="bench-recovery")
    sensor = Topics(prefix).sensor
    for key, value in _readings([a.asset_id for a in registry]):
        producer.send(sensor, key=key.encode(), value=value)
    producer.flush(timeout=300)
    producer.close()
    events = assets * READINGS_PER_ASSET
    _wait(lambda: first.applied() >= events, 1800, f"{events} events applied")
    populate_s = time.monotonic() - started
    first.stop()
    changelog = _changelog_records(settings, f"{settings.app_id}-asset-state-changelog")

    second = Worker(env, home, "second", port + 1)
    restart_s = second.ready_after()
    killed = time.monotonic()
    second.stop(signal.SIGKILL)
    third = Worker(env, home, "third", port + 2)
    ready_s = third.ready_after()
    failover_s = ready_s - (killed - third.spawned)
    third.stop()
    return {
        "assets": assets,
        "events": events,
        "changelog_records": changelog,
        "populate_s": round(populate_s, 1),
        "first_start_s": round(first_start_s, 2),
        "restart_s": round(restart_s, 2),
        "failover_s": round(failover_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for each size and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--assets", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--bootstrap", default=os.environ.get("GRIDWATCH_BOOTSTRAP"))
    parser.add_argument("--port", type=int, default=6180, help="first of three web ports")
    parser.add_argument("--json", type=Path, default=Path("bench-recovery.json"))
    args = parser.parse_args(argv)
    bootstrap = args.bootstrap or Settings().bootstrap

    results = []
    with tempfile.TemporaryDirectory(prefix="gridwatch-recovery-") as tmp:
        for count in args.assets:
            result = measure(count, bootstrap, Path(tmp), args.port)
            print(json.dumps(result), flush=True)
            results.append(result)
    session_timeout_s = Settings().session_timeout_s
    report = {"bootstrap": bootstrap, "session_timeout_s": session_timeout_s, "runs": results}
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
