"""Child processes, topics and a broker that a lab command started, and stops again.

``gridwatch demo`` and ``gridwatch bench pipeline`` start workers (and, when no
broker answers, the local broker) and create a topic prefix of their own;
:class:`LabRun` stops exactly what it started. :func:`get_json` and
:func:`metric_sum` read a worker's HTTP endpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
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

    def child_env(
        self,
        *,
        topic_prefix: str,
        app_id: str,
        home: Path,
        web_port: int,
        web_host: str,
        **extra: str,
    ) -> dict[str, str]:
        """The environment of a gridwatch child on ``topic_prefix``'s topics (``extra`` on top).

        The caller's ``GRIDWATCH_*`` variables are dropped; the child reaches the
        broker as this process does (TLS, SASL).
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
        env |= {
            "GRIDWATCH_BOOTSTRAP": self.settings.bootstrap,
            "GRIDWATCH_TOPIC_PREFIX": topic_prefix,
            "GRIDWATCH_APP_ID": app_id,
            "GRIDWATCH_HOME": str(home),
            "GRIDWATCH_WEB_PORT": str(web_port),
            "GRIDWATCH_WEB_HOST": web_host,
            **self.settings.kafka_security.environment(with_password=True),
            **extra,
        }
        return env

    def ensure_broker(self, console: Console) -> bool:
        """Start the local broker when none answers (PLAINTEXT only); False if impossible."""
        security = self.settings.kafka_security
        if broker_answers(self.settings.bootstrap, security=security):
            return True
        if security.protocol != "PLAINTEXT":
            console.print(
                f"[red]no broker answers at {self.settings.bootstrap} with "
                f"{security.describe()}; a lab run starts a local broker only for PLAINTEXT[/]"
            )
            return False
        local = LocalKafka(self.settings)
        console.print(f"no broker at {self.settings.bootstrap}: starting a local one …")
        kafka_local.up(local)
        self.broker = local
        return True

    def stop_children(self, since: int = 0) -> None:
        """SIGTERM the children started from index ``since`` on, and wait for them."""
        started = self.children[since:]
        for child in reversed(started):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(started):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)

    def stop(self, console: Console) -> None:
        """Stop the children, delete this run's topics and groups, stop the broker if ours."""
        self.stop_children()
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
