"""Driving a live worker with scenarios, segment by segment (shared by integration tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from schemas import Alert, decode_model, encode
from streams.core.topics import Topics
from tests.engine_support import Run
from tests.scenarios import Scenario
from tests.support import Record, WorkerProcess, metric_sum, produce, read_all, wait_until


@dataclass
class LiveCity:
    bootstrap: str
    topics: Topics
    worker: WorkerProcess
    sent_to_engine: int = 0

    def engine_events(self) -> float:
        return metric_sum(self.worker.metrics(), "gridwatch_engine_events_total")

    def send(self, scenario: Scenario, offline: Run) -> None:
        """Send segment by segment, waiting for the engine to apply each."""
        for topic, messages, reaching_engine in segments(self.topics, scenario, offline):
            assert produce(self.bootstrap, topic, messages) == len(messages)
            self.sent_to_engine += reaching_engine
            self._wait_for_engine(self.sent_to_engine)

    def _wait_for_engine(self, target: int) -> None:
        wait_until(
            lambda: self.engine_events() >= target,
            timeout=60,
            message=lambda: f"the engine to apply {target} events\n{self.worker.tail()}",
        )

    def wait_for_alerts(self, scenario: Scenario, count: int) -> list[Alert]:
        """The scenario's alerts once at least ``count`` are on the alerts topic."""
        if count == 0:
            return self.alerts_for(scenario)

        def enough() -> list[Alert] | None:
            alerts = self.alerts_for(scenario)
            return alerts if len(alerts) >= count else None

        return wait_until(enough, timeout=30, message=f"{count} alerts for {scenario.name}")

    def alerts_for(self, scenario: Scenario) -> list[Alert]:
        ids = {f["properties"]["asset_id"] for f in scenario.assets}
        return [
            decode_model(r.value, Alert)
            for r in sorted_records(read_all(self.bootstrap, self.topics.alerts))
            if r.key is not None and r.key.decode() in ids
        ]


def sorted_records(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (r.partition, r.offset))


def segments(
    topics: Topics, scenario: Scenario, offline: Run
) -> Iterator[tuple[str, list[tuple[bytes | None, bytes]], int]]:
    """(topic, messages, how many reach the engine) runs that keep per-asset order."""
    by_kind = {"sensor": topics.sensor, "hotline": topics.hotline, "inspection": topics.inspection}
    unmatched = set(offline.unmatched)
    run_topic: str | None = None
    batch: list[tuple[bytes | None, bytes]] = []
    engine = 0
    for event in scenario.events:
        topic = by_kind[event["kind"]]
        key = (event.get("asset_id") or event.get("service_request_id") or "").encode()
        single = event["kind"] == "hotline"
        if batch and (topic != run_topic or single):
            yield run_topic or topic, batch, engine
            batch, engine = [], 0
        run_topic = topic
        batch.append((key, orjson.dumps(event)))
        engine += 0 if event["event_id"] in unmatched else 1
        if single:
            yield topic, batch, engine
            batch, engine = [], 0
    if batch:
        yield run_topic or "", batch, engine


def assert_same_alerts(live: list[Alert], offline: list[Alert], name: str) -> None:
    """Byte equality, with a readable account of the first difference."""
    for index, (a, b) in enumerate(zip(live, offline, strict=False)):
        if encode(a) != encode(b):
            mine, theirs = orjson.loads(encode(a)), orjson.loads(encode(b))
            differing = {
                k: (mine.get(k), theirs.get(k))
                for k in sorted(set(mine) | set(theirs))
                if mine.get(k) != theirs.get(k)
            }
            raise AssertionError(f"{name}: alert {index} differs live/offline: {differing}")
    assert len(live) == len(offline), (
        name,
        [a.identifier for a in live],
        [a.identifier for a in offline],
    )
