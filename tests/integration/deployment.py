"""A simulated city deployed on a real broker: workers as processes, replay, alerts out.

Shared by the fault tests: they kill workers, restart brokers and add workers,
then compare what reached the alert topic with ``gridwatch process`` for the
same log (same identifiers, byte-identical content, repeats identical).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from schemas import Alert, DeadLetter, RiskState, decode_model
from streams.core.topics import Topics
from tests.support import (
    GRIDWATCH,
    WorkerProcess,
    free_port,
    metric_sum,
    read_all,
    wait_until,
    worker_env,
)


def gridwatch(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """Run a gridwatch command and return its stderr; fail the test when it fails."""
    result = subprocess.run(
        [GRIDWATCH, *args], env=env, capture_output=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (args, result.stderr.decode()[-3000:])
    return result.stderr.decode()


def spoil(log: Path, every: int = 499) -> None:
    """Add bad and repeated lines to a log, as real producers send them.

    After every ``every``-th line comes, in turn, a copy with a numeric
    ``event_id`` (``wrong_type``), a copy with an over-long ``source``
    (``too_long``), or the same line again (a duplicate). Every spoilt line
    still routes, so replay publishes it and the worker has to judge it.
    """
    out: list[bytes] = []
    for number, line in enumerate(log.read_bytes().splitlines()):
        out.append(line)
        if number % every != every // 2:
            continue
        event = orjson.loads(line)
        variant = (number // every) % 3
        if variant == 0:
            out.append(orjson.dumps({**event, "event_id": number}))
        elif variant == 1:
            out.append(orjson.dumps({**event, "source": "x" * 300}))
        else:
            out.append(line)
    log.write_bytes(b"\n".join(out) + b"\n")


@dataclass(frozen=True)
class City:
    """A simulated city: its log, registry and what ``gridwatch process`` made of it.

    ``offline`` holds the alerts by identifier, ``risk`` the final risk state per
    asset, ``invalid`` how many lines it judged invalid, by reason.
    """

    log: Path
    registry: Path
    offline: dict[str, bytes]
    risk: dict[str, bytes]
    invalid: Counter[str]
    events: int


def simulate(tmp: Path, *, assets: int, duration: str, incidents: int, seed: int) -> City:
    """Generate a city and run ``gridwatch process`` over it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    log, registry = tmp / "city.jsonl", tmp / "city.geojson"
    out, risk = tmp / "offline.jsonl", tmp / "risk.jsonl"
    gridwatch(
        env, "simulate", "--assets", str(assets), "--duration", duration,
        "--incidents", str(incidents), "--seed", str(seed),
        "--out", str(log), "--registry", str(registry),
    )  # fmt: skip
    spoil(log)
    report = gridwatch(
        env, "process", str(log), "--assets", str(registry),
        "--out", str(out), "--risk-out", str(risk),
    )  # fmt: skip
    offline = {decode_model(line, Alert).identifier: line for line in out.read_bytes().splitlines()}
    assert offline, "the simulated incidents must alert"
    final = {decode_model(r, RiskState).asset_id: r for r in risk.read_bytes().splitlines()}
    invalid = Counter(m.group(1) for m in re.finditer(r"^line \d+: (\w+):", report, re.MULTILINE))
    assert set(invalid) == {"wrong_type", "too_long"}, report[-2000:]
    return City(log, registry, offline, final, invalid, log.read_bytes().count(b"\n"))


def by_identifier(alerts: list[bytes]) -> dict[str, bytes]:
    """Alerts by identifier; a repeated identifier must repeat byte for byte."""
    out: dict[str, bytes] = {}
    for raw in alerts:
        identifier = decode_model(raw, Alert).identifier
        assert out.setdefault(identifier, raw) == raw, f"{identifier} came twice, differently"
    return out


@dataclass
class Deployment:
    """One deployment (topic prefix and application id) of a city on a broker."""

    bootstrap: str
    prefix: str
    home: Path
    city: City
    workers: list[WorkerProcess] = field(default_factory=list)
    replays: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)

    @property
    def env(self) -> dict[str, str]:
        return worker_env(self.bootstrap, self.prefix, self.home)

    def setup(self) -> Deployment:
        self.home.mkdir(parents=True, exist_ok=True)
        gridwatch(self.env, "topics", "create")
        gridwatch(self.env, "assets", "load", str(self.city.registry))
        return self

    def start_worker(self, *, wait: bool = True, **extra: str) -> WorkerProcess:
        index = len(self.workers)
        env = worker_env(
            self.bootstrap, self.prefix, self.home / f"w{index}",
            GRIDWATCH_WEB_PORT=str(free_port()), **extra,
        )  # fmt: skip
        worker = WorkerProcess(env, self.home / f"worker-{index}.log").start()
        self.workers.append(worker)
        if wait:
            worker.wait_ready(timeout=120)
        return worker

    def replay(self, *speed: str) -> subprocess.Popen[bytes]:
        """Start ``gridwatch replay`` (``--max-speed`` or ``--speed X``) in the background.

        Its output goes to ``replay-N.log`` in the deployment's home.
        """
        log = self.home / f"replay-{len(self.replays)}.log"
        with log.open("wb") as out:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [GRIDWATCH, "replay", str(self.city.log), *(speed or ("--max-speed",))],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.replays.append(process)
        return process

    def alerts(self) -> list[bytes]:
        return [r.value for r in read_all(self.bootstrap, self.topics.alerts) if r.value]

    def final_risk(self) -> dict[str, bytes]:
        """The newest value per asset on the risk topic (what compaction keeps)."""
        return {
            r.key.decode(): r.value
            for r in read_all(self.bootstrap, self.topics.risk)
            if r.key is not None and r.value
        }

    def dead_letters(self) -> list[DeadLetter]:
        """One dead letter per bad message; a repeat must repeat byte for byte."""
        seen: dict[tuple[str, int, int], bytes] = {}
        for record in read_all(self.bootstrap, self.topics.dlq):
            assert record.value
            letter = decode_model(record.value, DeadLetter)
            where = (letter.topic, letter.partition, letter.offset)
            assert seen.setdefault(where, record.value) == record.value, f"{where} differs"
        return [decode_model(value, DeadLetter) for value in seen.values()]

    def wait_for_offline_alerts(self, timeout: float = 240) -> dict[str, bytes]:
        """Every offline alert on the topic (or the timeout): the live alerts by identifier."""

        def complete() -> dict[str, bytes] | None:
            live = by_identifier(self.alerts())
            return live if set(self.city.offline) <= set(live) else None

        def missing() -> str:
            live = by_identifier(self.alerts())
            gone = sorted(set(self.city.offline) - set(live))
            tails = "\n".join(w.tail(30) for w in self.workers if w.process is not None)
            return f"{len(gone)} of {len(self.city.offline)} alerts, e.g. {gone[:3]}\n{tails}"

        return wait_until(complete, timeout=timeout, interval=2.0, message=missing)

    def assert_same_as_offline(self, timeout: float = 240) -> None:
        """Same alerts (identifiers, content) and final risk as offline; nothing late."""
        live = self.wait_for_offline_alerts(timeout)
        differing = [i for i in self.city.offline if live[i] != self.city.offline[i]]
        assert differing == [], describe(live, self.city.offline, differing)
        assert set(live) == set(self.city.offline), sorted(set(live) - set(self.city.offline))

        def reasons() -> Counter[str]:
            return Counter(d.reason.value for d in self.dead_letters())

        # Same bad lines as offline, nothing late.
        wait_until(
            lambda: reasons() == self.city.invalid, timeout=60, interval=2.0,
            message=lambda: f"dead letters {reasons()} to be {self.city.invalid}",
        )  # fmt: skip

        def risk_differs() -> str:
            risk = self.final_risk()
            wrong = sorted(a for a in self.city.risk if risk.get(a) != self.city.risk[a])
            extra = sorted(set(risk) - set(self.city.risk))
            return f"final risk of {len(wrong)} assets, e.g. {wrong[:3]}; extra {extra[:3]}"

        # The final risk state is published with the last alert or soon after it.
        wait_until(
            lambda: self.final_risk() == self.city.risk, timeout=60, interval=2.0,
            message=risk_differs,
        )  # fmt: skip

    def applied(self, worker: WorkerProcess) -> float:
        return metric_sum(worker.metrics(), "gridwatch_engine_events_total")

    def stop(self) -> None:
        for replay in self.replays:
            if replay.poll() is None:
                replay.kill()
                replay.wait(timeout=30)
        for worker in self.workers:
            worker.stop()


def describe(live: dict[str, bytes], offline: dict[str, bytes], differing: list[str]) -> str:
    if not differing:
        return ""
    first = differing[0]
    mine, theirs = orjson.loads(live[first]), orjson.loads(offline[first])
    keys = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    return f"{len(differing)} differ, first {first}: " + "; ".join(
        f"{k}: live {mine.get(k)!r} offline {theirs.get(k)!r}"[:400] for k in keys
    )
