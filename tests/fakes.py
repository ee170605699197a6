"""In-process fakes that drive the Faust agents' methods without a broker or Faust.

:class:`Cluster` is the in-process runner: topics are lists per partition, the
agents' sends land in them, and a test decides which partition delivers next,
so any arrival order, crash or redelivery can be replayed deterministically.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from schemas import Alert, Asset, DeadLetter, InputLimits, decode_model, encode
from streams.core.ingest import Intake
from streams.core.topics import Topics
from streams.engine.config import load_config
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.runtime.agents.common import DeadLetters, partition_for
from streams.runtime.agents.engine import EngineAgent
from streams.runtime.agents.router import HotlineRouter
from streams.runtime.agents.state import RegistryFeed, TableStateStore
from streams.runtime.metrics import Metrics
from tests.constants import NOW


@dataclass
class FakeMessage:
    """A Kafka message as agents read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = 0.0
    headers: Any = None
    generation_id: int | None = None


@dataclass
class FakeEvent:
    """A Faust event: a message that can be acknowledged."""

    message: FakeMessage
    acked: bool = False

    def ack(self) -> bool:
        self.acked = True
        return True


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: float | None
    partition: int | None
    headers: list[tuple[str, bytes]] | None


class FakeChangelogTable:
    """A changelog-backed table: a write survives a crash only once the broker has it.

    Writes are in flight until the worker awaits :meth:`delivered` (as the real
    table's records wait in Faust's producer buffer); :meth:`crash` loses them.
    """

    def __init__(self) -> None:
        self.durable: dict[bytes, bytes] = {}
        self.in_flight: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.in_flight.get(key, self.durable.get(key))

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.in_flight[key] = value

    async def delivered(self) -> None:
        self.durable.update(self.in_flight)
        self.in_flight.clear()

    def crash(self) -> None:
        self.in_flight.clear()


def _delivered() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


@dataclass
class FakeOutbox:
    """Records every send, in order; a :class:`Cluster` also appends it to the topic."""

    sent: list[Sent] = field(default_factory=list)
    cluster: Cluster | None = None

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        timestamp: float | None = None,
        partition: int | None = None,
        headers: Any = None,
    ) -> Any:
        record = Sent(topic, key, value, timestamp, partition, list(headers) if headers else None)
        self.sent.append(record)
        if self.cluster is not None:
            self.cluster.append(record)
        return _delivered()

    def to(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class FixedClock:
    moment: datetime = NOW

    def now(self) -> datetime:
        return self.moment


@dataclass
class FakeWall:
    """Wall-clock seconds that only move when the test says so."""

    t: float = 1_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def messages(
    topic: str, values: list[tuple[bytes | None, bytes | None]], partition: int = 0, start: int = 0
) -> list[FakeMessage]:
    """Consecutive messages of one partition from (key, value) pairs."""
    return [
        FakeMessage(topic, partition, start + n, key, value)
        for n, (key, value) in enumerate(values)
    ]


class Cluster:
    """Topics as lists and one worker's agents over them (the in-process runner).

    Args:
        assets: GeoJSON features of the registry.
        partitions: Partitions of every topic.
        idle_wait_s: The engine's idle wait.
    """

    def __init__(
        self, assets: list[dict[str, Any]], partitions: int = 4, *, idle_wait_s: float = 0.25
    ) -> None:
        self.topics = Topics("t.")
        self.partitions = partitions
        self.idle_wait_s = idle_wait_s
        self.wall = FakeWall()
        self.logs: dict[tuple[str, int], list[FakeMessage]] = {}
        self.delivered: dict[tuple[str, int], int] = {}
        self.committed: dict[tuple[str, int], int] = {}
        self.events: dict[tuple[str, int], list[FakeEvent]] = {}
        self.table = FakeChangelogTable()
        self.assets = {
            f["properties"]["asset_id"].encode(): encode(Asset.from_feature(f)) for f in assets
        }
        self.outbox = FakeOutbox(cluster=self)
        self.sought: list[tuple[str, int, int]] = []
        self.gaps: list[tuple[str, int, int, int]] = []
        self.start_worker()

    # -- the worker

    def start_worker(self) -> None:
        """A fresh worker: new agents over the same topics, table and committed offsets."""
        self.metrics = Metrics(CollectorRegistry())
        clock = FixedClock()
        dead_letters = DeadLetters(self.outbox, self.topics.dlq, self.metrics)
        intake = Intake(InputLimits(max_future_skew=timedelta(days=3650)))
        self.pipeline = RiskPipeline(AssetRegistry([]), load_config())
        registry = self.registry = RegistryFeed(self.pipeline, self.metrics)
        registry.read_from(self.assets)
        self.store = TableStateStore(self.table, self.topics.prefix)
        self.pipeline.engine.store = self.store
        self.router = HotlineRouter(
            self.topics, self.partitions, intake, self.pipeline, registry, self.metrics, clock,
            self.outbox, dead_letters, self, heartbeat_s=self.idle_wait_s / 2, wall=self.wall,
        )  # fmt: skip
        self.engine = EngineAgent(
            self.topics, self.partitions, intake, self.pipeline, self.store, registry,
            self.metrics, clock, self.outbox, dead_letters, self,
            idle_wait_s=self.idle_wait_s, max_wait_s=None, wall=self.wall,
        )  # fmt: skip
        # Consumption resumes at the committed offsets (the acknowledged prefix).
        self.delivered = dict(self.committed)
        self.events = {}

    def crash(self) -> None:
        """SIGKILL: what is in flight is lost; a new worker resumes from the commits."""
        self.table.crash()
        self.start_worker()

    # -- ConsumerView

    def assigned(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def highwater(self, topic: str, partition: int) -> tuple[int, float] | None:
        return len(self.logs.get((topic, partition), [])), self.wall()

    def start_offset(self, topic: str, partition: int) -> int | None:
        return self.committed.get((topic, partition), 0)

    def position(self, topic: str, partition: int) -> int | None:
        return self.delivered.get((topic, partition), 0)

    def last_fetch_at(self) -> float | None:
        return self.wall()

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        self.sought.append((topic, partition, offset))
        self.rewind(topic, partition, offset)

    def skip_gap(self, topic: str, partition: int, start: int, end: int) -> None:
        self.gaps.append((topic, partition, start, end))

    # -- topics

    def append(self, record: Sent) -> None:
        partition = record.partition
        if partition is None:
            partition = partition_for(record.key.decode(), self.partitions) if record.key else 0
        log = self.logs.setdefault((record.topic, partition), [])
        log.append(
            FakeMessage(
                record.topic, partition, len(log), record.key, record.value,
                record.timestamp or 0.0, record.headers,
            )
        )  # fmt: skip

    def publish(self, event: dict[str, Any]) -> None:
        """Produce an input event as ``gridwatch replay`` does (keyed, murmur2-partitioned)."""
        kind = event["kind"]
        topic = self.topics.acks if kind == "ack" else getattr(self.topics, kind)
        key = str(event["asset_id"] if kind != "hotline" else event["service_request_id"])
        self.append(Sent(topic, key.encode(), orjson.dumps(event), None, None, None))

    def pending(self) -> list[tuple[str, int]]:
        """Input partitions with messages not delivered yet."""
        return sorted(
            tp
            for tp, log in self.logs.items()
            if self.delivered.get(tp, 0) < len(log)
            if tp[0] in self._consumed()
        )

    def _consumed(self) -> set[str]:
        t = self.topics
        return {t.sensor, t.hotline, t.inspection, t.acks, t.events_by_asset}

    def deliver(self, topic: str, partition: int, count: int = 1) -> None:
        """Hand the next ``count`` messages of one partition to the agent that reads it."""
        tp = (topic, partition)
        start = self.delivered.get(tp, 0)
        batch = [FakeEvent(m) for m in self.logs[tp][start : start + count]]
        self.delivered[tp] = start + len(batch)
        self.events.setdefault(tp, []).extend(batch)
        if topic == self.topics.hotline:
            asyncio.run(self.router.handle_batch(batch))
        else:
            asyncio.run(self.engine.handle_batch(batch))
        self._commit(tp)

    def rewind(self, topic: str, partition: int, offset: int = 0) -> None:
        """The same worker's consumer seeks back (as Faust does to a committed offset)."""
        tp = (topic, partition)
        self.delivered[tp] = min(offset, self.delivered.get(tp, 0))

    def _commit(self, tp: tuple[str, int]) -> None:
        offset = self.committed.get(tp, 0)
        for event in self.events.get(tp, []):
            if event.message.offset == offset and event.acked:
                offset += 1
        self.committed[tp] = offset

    def tick(self) -> None:
        """The engine's timer fires; acknowledged inputs are committed."""
        asyncio.run(self.engine.tick())
        for tp in list(self.events):
            self._commit(tp)

    def settle(self) -> None:
        """Let time pass until the engine released everything it holds."""
        for _ in range(20):
            self.wall.advance(self.idle_wait_s * 2)
            asyncio.run(self.router.heartbeat())
            while self.pending():
                topic, partition = self.pending()[0]
                self.deliver(topic, partition, 1000)
            self.tick()
            waiting = any(task.waiting() for task in self.engine.tasks.values())
            if not waiting and not self.pending():
                return

    # -- outputs

    def alerts(self) -> list[Alert]:
        return [decode_model(s.value or b"", Alert) for s in self.outbox.to(self.topics.alerts)]

    def dead_letters(self) -> list[DeadLetter]:
        return [decode_model(s.value or b"", DeadLetter) for s in self.outbox.to(self.topics.dlq)]

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


def unique(alerts: Iterable[Alert]) -> dict[str, bytes]:
    """Alerts by identifier; a repeat must be byte-identical."""
    out: dict[str, bytes] = {}
    for alert in alerts:
        raw = encode(alert)
        assert out.setdefault(alert.identifier, raw) == raw, f"{alert.identifier} changed"
    return out
