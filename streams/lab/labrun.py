"""Child processes, topics and a broker that a lab command started, and stops again.

``gridwatch demo`` and ``gridwatch bench pipeline`` start workers (and, when no
broker answers, the local broker) and create a topic prefix of their own;
:class:`LabRun` stops exactly what it started. :func:`get_json` and
:func:`metric_sum` read a worker's HTTP endpoints.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from streams.broker import local as kafka_local
from streams.broker.admin import admin_client, broker_answers
from streams.broker.local import LocalKafka
from streams.core.settings import Settings


@dataclass
class LabRun:
    """What a lab command (demo, bench pipeline) started, so that it stops exactly that."""

    settings: Settings
    prefix: str
    home: Path
    broker: LocalKafka | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a child process with its output in ``<home>/<name>.log``."""
        log = (self.home / f"{name}.log").open("ab")
        self.logs.append(log)
        child = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self.children.append(child)
        return child

    def stop(self, console: Console) -> None:
        """Stop the children, delete this run's topics and groups, stop the broker if ours."""
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)
        for log in self.logs:
            log.close()
        security = self.settings.kafka_security
        # Best effort: the run is over anyway, a topic or group left behind is harmless.
        with contextlib.suppress(Exception):
            if broker_answers(self.settings.bootstrap, security=security):
                with admin_client(self.settings.bootstrap, security=security) as client:
                    names = [n for n in client.list_topics() if n.startswith(self.prefix)]
                    if names:
                        client.delete_topics(names)
                    groups = [
                        group["group_id"]
                        for group in client.list_groups()
                        if str(group["group_id"]).startswith(self.prefix)
                    ]
                    if groups:
                        client.delete_groups(groups)
        if self.broker is not None:
            kafka_local.down(self.broker)
            console.print("stopped the local broker this run started")


def get_json(url: str) -> Any:
    """The JSON body of a GET on ``url`` (None when unreachable or not JSON)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


def scrape(url: str) -> list[Any] | None:
    """Every sample on a Prometheus endpoint; None when it does not answer 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def metric_sum(url: str, name: str) -> float:
    """Sum of every sample of one metric on a Prometheus endpoint (0 when unreachable)."""
    return float(sum(sample.value for sample in scrape(url) or () if sample.name == name))
