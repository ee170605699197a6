"""Helpers for tests that talk to a real broker or run gridwatch processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")

GRIDWATCH = str(Path(sys.executable).parent / "gridwatch")


def gridwatch_processes(commands: Iterable[str], prefix: str) -> list[psutil.Process]:
    """Running `gridwatch <command>` processes whose topic prefix starts with ``prefix``."""
    wanted = set(commands)
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            ours = any(part.endswith("gridwatch") for part in cmdline) and wanted & set(cmdline)
            if ours and process.environ().get("GRIDWATCH_TOPIC_PREFIX", "").startswith(prefix):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_for_no_bench_leftovers(bootstrap: str) -> None:
    """A bench run leaves nothing: no worker, no topic or group named ``bench*``.

    Topic and group deletion is asynchronous, so those are awaited.
    """
    from streams.broker.admin import admin_client

    assert gridwatch_processes(("worker",), "bench") == []

    def nothing_left() -> bool:
        with admin_client(bootstrap) as client:
            topics = [name for name in client.list_topics() if name.startswith("bench")]
            groups = [
                g["group_id"] for g in client.list_groups() if g["group_id"].startswith("bench")
            ]
        return not topics and not groups

    wait_until(nothing_left, timeout=60, message="the bench's topics and consumer groups deleted")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair() -> int:
    """A port p such that p and p + 1 are both free (client and controller listeners)."""
    for _ in range(50):
        port = free_port()
        if port < 65000:
            with socket.socket() as a, socket.socket() as b:
                try:
                    a.bind(("127.0.0.1", port))
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of adjacent ports")


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.2,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s waiting for {text}")
        time.sleep(interval)


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send messages and wait until the broker acknowledged every one."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=2 << 20
    )
    count = 0
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush(timeout=60)
        for future in futures:
            future.get(timeout=30)
            count += 1
    finally:
        producer.close(timeout=10)
    return count


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def read_all(bootstrap: str, topic: str, *, timeout: float = 30.0) -> list[Record]:
    """Every record of ``topic`` from the beginning up to its current end offsets."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        max_partition_fetch_bytes=4 << 20,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within {timeout}s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(
                    Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                    for m in batch
                )
        return records
    finally:
        consumer.close()


def get_json(url: str) -> tuple[int, Any]:
    """(status, JSON body) of a GET; (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}


def scrape(url: str) -> dict[str, float]:
    """Prometheus samples of ``url`` as {'name{label="v",…}': value}."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def metric_sum(samples: Mapping[str, float], name: str) -> float:
    """Sum of every sample of ``name`` whatever its labels."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


@dataclass
class WorkerProcess:
    """A `gridwatch worker` subprocess with its own prefix, group and web port."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.env['GRIDWATCH_WEB_PORT']}"

    def start(self) -> WorkerProcess:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [GRIDWATCH, "worker"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.web}/health", timeout=2) as response:
                return dict(json.loads(response.read()))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def wait_ready(self, timeout: float = 90.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"worker exited early:\n{self.tail()}")
            health = self.health()
            return health is not None and health.get("status") == "ready"

        wait_until(ready, timeout=timeout, message=lambda: f"worker ready\n{self.tail()}")

    def metrics(self) -> dict[str, float]:
        return scrape(f"{self.web}/metrics")

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
        return self.process.returncode


def worker_env(bootstrap: str, prefix: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env.update(
        {
            "GRIDWATCH_BOOTSTRAP": bootstrap,
            "GRIDWATCH_TOPIC_PREFIX": prefix,
            "GRIDWATCH_WEB_PORT": str(free_port()),
            "GRIDWATCH_HOME": str(home),
            "GRIDWATCH_PARTITIONS": "4",
            "GRIDWATCH_LOG_LEVEL": "info",
        }
    )
    env.update(extra)
    return env
