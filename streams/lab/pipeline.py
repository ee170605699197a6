"""``gridwatch bench pipeline``: the live path against the raw Kafka client, on one broker.

One run, one broker, one simulated city:

1. **raw producer**: a plain aiokafka producer (5 ms linger) sends the city's
   events, routed as ``replay`` routes them, into topics of their own; events/s.
2. **replay**: ``gridwatch replay --max-speed`` (the same code) sends them into
   the bench's input topics; events/s and the ratio to the raw producer.
   **record**: ``gridwatch record`` (the same code) reads the replayed sensor
   topic back, against a plain aiokafka consumer that decodes every value with
   orjson on the same topic; events/s and the ratio.
3. **raw loops**: an aiokafka consumer reads the raw producer's topics from
   the beginning, decodes every value with orjson and produces it again, once
   with a ``send`` per record (the plain loop, the reference for the workers'
   ratio) and once with a ``send_batch`` per fetched partition (the client's
   ceiling on this broker).
4. **bare Faust agent**: :mod:`streams.lab.faust_bare` reads the same
   backlog through Faust (the workers' runtime) with the workers' batching,
   and does nothing with it: the ceiling of Faust's per-message delivery.
5. **worker(s)**: ``gridwatch worker`` processes (one run per entry of
   ``--workers``, each a group of its own) start on the full backlog of the
   bench's inputs. Start-up is the time from spawning the processes to the
   first event the engine applied; throughput counts from the moment every
   worker is ready and holds partitions to the last event applied (the whole
   backlog from the first message received when that group applied less
   than half of it: :attr:`WorkerTiming.steady`).
6. **latency**: on fresh topics, one ready worker and a producer that sends a
   second city at a fixed rate; for every alert, the time from the moment its
   causing event (the alert's ``event_time``) was handed to the producer to
   the moment the alert was read back from ``gridwatch.alerts``.

"Applied" is read from the workers' ``/metrics``
(``gridwatch_engine_events_total``, ``gridwatch_messages_received_total``,
``gridwatch_merge_waiting_events``); the workers are done when they have received
every input message, nothing waits in the merge, and the applied count has
not moved for :data:`SETTLE_S`. Everything the run creates (topics and
consumer groups with its own prefix, worker processes, the local broker if
none answered) is removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
from rich.console import Console

from streams.broker.admin import ensure_topics
from streams.broker.assets import publish_assets
from streams.broker.record import read_topic
from streams.broker.replay import Routed, publish_log, route
from streams.core.settings import Settings
from streams.core.timefmt import parse_rfc3339
from streams.core.topics import Topics, TopicSpec
from streams.lab.citygen import generate_registry
from streams.lab.labrun import LabRun, get_json, metric_sum, scrape
from streams.lab.simulate import default_start, run_simulation

POLL_S: Final = 0.05
"""How often readiness is asked for, and the first input awaited."""
WORK_POLL_S: Final = 0.25
"""How often the workers' metrics are read while they work. The times of the first
and the last event applied come from the workers' own gauges, so a slower poll
loses no precision; at 20 a second the scrapes took an eighth of a worker's loop."""
FORMED_S: Final = 1.0
"""Every worker of a group stayed ready this long: the group has formed."""
WRITE_FLOOR_PER_S: Final = 5000.0
"""Events/s the backlog is written at, at the least (a stopped group's session lasts that)."""
SETTLE_S: Final = 1.0
"""The applied count has not moved for this long: the workers are done."""
READY_TIMEOUT_S: Final = 120.0
WORK_TIMEOUT_S: Final = 1800.0
LINGER_MS: Final = 5
INPUT_ROLES: Final = ("sensor", "hotline", "inspection", "acks")


class PipelineBenchError(RuntimeError):
    """The benchmark could not run (no broker, a worker that died, a timeout)."""


@dataclass(frozen=True, slots=True)
class City:
    """A simulated city: its size, seed and routed events (in event-time order)."""

    assets: int
    seed: int
    routed: list[Routed]

    @property
    def events(self) -> int:
        """Number of events."""
        return len(self.routed)


def simulate_city(
    events: int,
    seed: int,
    incidents: int,
    *,
    assets: int | None = None,
    duration: timedelta = timedelta(hours=1),
) -> City:
    """A city of about ``events`` events (a reading per asset per minute).

    By default its assets are as many as an hour of readings takes; with
    ``assets``, ``duration`` should be long enough to give ``events``.
    """
    if assets is None:
        assets = max(20, round(events / 60))
    lines: list[bytes] = []
    run_simulation(
        n_assets=assets,
        duration=duration,
        incidents=incidents,
        seed=seed,
        start=default_start(),
        emit=lines.append,
    )
    topics = Topics("unrouted.")
    return City(assets, seed, [route(line, topics) for line in lines[:events]])


def retarget(routed: Sequence[Routed], topics: Topics) -> list[Routed]:
    """The same records, sent to ``topics`` (the routing prefix was a placeholder)."""
    names = {
        "unrouted.sensor": topics.sensor,
        "unrouted.hotline": topics.hotline,
        "unrouted.inspection": topics.inspection,
        "unrouted.acks": topics.acks,
    }
    return [
        Routed(names[one.topic], one.key, one.value, one.timestamp_ms, one.event_time)
        for one in routed
    ]


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    # ceil(share * n), forgiving the float error of 0.99 * 100 = 99.00000000000001
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# -- the raw client


async def raw_produce(bootstrap: str, routed: Sequence[Routed]) -> float:
    """Send every record with a plain aiokafka producer; seconds until all are acknowledged."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=LINGER_MS,
        acks="all",
        enable_idempotence=True,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(one.topic, one.value, key=one.key, timestamp_ms=one.timestamp_ms)
            for one in routed
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def _reader(bootstrap: str, *topics: str, **options: Any) -> Any:
    """A plain aiokafka consumer of ``topics`` without a group, from their start (not started)."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )


async def raw_consume(bootstrap: str, topic: str, count: int) -> float:
    """Read ``count`` records of ``topic`` from the start, decoding each with orjson; seconds."""
    consumer = _reader(bootstrap, topic, max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        deadline = time.monotonic() + WORK_TIMEOUT_S
        while seen < count:
            if time.monotonic() > deadline:
                raise PipelineBenchError(f"raw consumer: {seen} of {count} records in time")
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def _raw_loop(
    bootstrap: str, inputs: Sequence[str], out_topic: str, count: int, *, batched: bool
) -> float:
    """Consume ``count`` records, decode each with orjson and produce it again; seconds.

    ``getmany`` in; out, either one ``send`` per record (the plain loop) or, with
    ``batched``, one ``send_batch`` per fetched partition (the client's fastest
    path), to the same partition number of ``out_topic``.
    """
    from aiokafka import AIOKafkaProducer

    consumer = _reader(bootstrap, *inputs)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=LINGER_MS, acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    try:
        seen = 0
        started: float | None = None
        futures: list[Any] = []
        deadline = time.monotonic() + WORK_TIMEOUT_S
        while seen < count:
            if time.monotonic() > deadline:
                raise PipelineBenchError(f"raw loop: {seen} of {count} records in time")
            fetched = await consumer.getmany(timeout_ms=200, max_records=5000)
            if fetched and started is None:
                started = time.perf_counter()
            for tp, records in fetched.items():
                if not batched:
                    for record in records:
                        orjson.loads(record.value)
                        futures.append(await producer.send(out_topic, record.value, key=record.key))
                    seen += len(records)
                    continue
                batch = producer.create_batch()
                for record in records:
                    orjson.loads(record.value)
                    if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                        futures.append(
                            await producer.send_batch(batch, out_topic, partition=tp.partition)
                        )
                        batch = producer.create_batch()
                        batch.append(key=record.key, value=record.value, timestamp=None)
                    seen += 1
                futures.append(await producer.send_batch(batch, out_topic, partition=tp.partition))
        await asyncio.gather(*futures)
        return time.perf_counter() - (started or time.perf_counter())
    finally:
        await consumer.stop()
        await producer.stop()


# -- workers


@dataclass(frozen=True, slots=True)
class Progress:
    """One reading of the workers' metrics, all workers together.

    Attributes:
        received: Input messages received (sensor, hotline, inspection, acks).
        applied: Events the engines applied.
        waiting: Events held in the event-time merges.
        settled: Every worker is ready and has received input (the group is formed).
        first_applied_at: Unix time of the first event any worker applied (0: none yet).
        last_applied_at: Unix time of the last event any worker applied (0: none yet).
    """

    received: float
    applied: float
    waiting: float
    settled: bool
    first_applied_at: float = 0.0
    last_applied_at: float = 0.0


@dataclass
class WorkerPool:
    """``gridwatch worker`` processes of one group, and their metrics."""

    webs: list[str]
    origin_at: float
    """Monotonic time the pool's times count from: the spawn, or :meth:`restart_clock`."""
    origin_wall: float
    """The same moment on the wall clock (the workers' gauges are wall times)."""

    def restart_clock(self) -> None:
        """Count the pool's times from now on (a group formed before its backlog came)."""
        self.origin_at, self.origin_wall = time.monotonic(), time.time()

    def progress(self) -> Progress | None:
        """The workers' metrics now; None when one of them did not answer."""
        received = applied = waiting = last_applied_at = 0.0
        first_applied_at = math.inf
        settled = True
        for web in self.webs:
            samples = scrape(f"{web}/metrics")
            if samples is None:
                return None
            mine = 0.0
            for sample in samples:
                if sample.name == "gridwatch_engine_events_total":
                    applied += sample.value
                elif sample.name == "gridwatch_merge_waiting_events":
                    waiting += sample.value
                elif sample.name == "gridwatch_engine_first_applied_timestamp_seconds":
                    if sample.value > 0:
                        first_applied_at = min(first_applied_at, sample.value)
                elif sample.name == "gridwatch_engine_last_applied_timestamp_seconds":
                    last_applied_at = max(last_applied_at, sample.value)
                elif (
                    sample.name == "gridwatch_messages_received_total"
                    and sample.labels.get("input") in INPUT_ROLES
                ):
                    mine += sample.value
            received += mine
            health = get_json(f"{web}/health") or {}
            settled = settled and health.get("status") == "ready" and mine > 0
        return Progress(
            received,
            applied,
            waiting,
            settled,
            0.0 if math.isinf(first_applied_at) else first_applied_at,
            last_applied_at,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_workers(
    run: LabRun,
    settings: Settings,
    prefix: str,
    app_id: str,
    count: int,
    **extra_env: str,
) -> WorkerPool:
    """Spawn ``count`` workers of one group on ``prefix``'s topics (``extra_env`` on top)."""
    executable = str(Path(sys.executable).parent / "gridwatch")
    webs = []
    origin_at, origin_wall = time.monotonic(), time.time()
    for index in range(count):
        port = _free_port()
        home = run.home / f"{app_id}-{index}"
        home.mkdir(parents=True, exist_ok=True)
        env = run.child_env(
            topic_prefix=prefix,
            app_id=app_id,
            home=home,
            web_port=port,
            web_host="127.0.0.1",
            GRIDWATCH_PARTITIONS=str(settings.partitions),
            GRIDWATCH_LOG_LEVEL="warning",
            # The bench reads /metrics and /health 4 times a second per worker.
            GRIDWATCH_API_RATE_PER_S="1000",
            GRIDWATCH_API_BURST="1000",
            **extra_env,
        )
        run.spawn(f"{app_id}-{index}", [executable, "worker"], env)
        webs.append(f"http://127.0.0.1:{port}")
    return WorkerPool(webs, origin_at, origin_wall)


def _check_alive(run: LabRun, since: int) -> None:
    for child in run.children[since:]:
        if child.poll() is not None:
            raise PipelineBenchError(
                f"a worker exited with status {child.returncode}; see the logs in {run.home}"
            )


def wait_ready(run: LabRun, pool: WorkerPool, since: int, steady_s: float = 0.0) -> float:
    """Wait until every worker answers ``/health`` as ready; seconds since the spawn.

    With ``steady_s``, every worker must have stayed ready that long: a worker is
    ready only while it holds partitions outside a rebalance, so a group whose
    workers all stayed ready has formed.
    """
    deadline = time.monotonic() + READY_TIMEOUT_S
    ready_since: float | None = None
    while True:
        _check_alive(run, since)
        states = [(get_json(f"{web}/health") or {}).get("status") for web in pool.webs]
        now = time.monotonic()
        if all(state == "ready" for state in states):
            ready_since = now if ready_since is None else ready_since
            if now - ready_since >= steady_s:
                return now - pool.origin_at
        else:
            ready_since = None
        if now > deadline:
            raise PipelineBenchError(f"workers not ready in {READY_TIMEOUT_S:.0f}s: {states}")
        time.sleep(POLL_S)


@dataclass(frozen=True, slots=True)
class WorkerTiming:
    """How a pool of workers went through a backlog (times in seconds since the spawn).

    Attributes:
        first_received_s: The first input message received.
        first_applied_s: The first event applied (start-up).
        done_s: The last event applied.
        applied: Events applied in all.
        settled_s: Every worker ready and holding partitions (no rebalance after).
        applied_when_settled: Events applied by then.
    """

    first_received_s: float
    first_applied_s: float
    done_s: float
    applied: int
    settled_s: float
    applied_when_settled: int

    @property
    def backlog_events_per_s(self) -> float:
        """Events applied per second, from the first message received to the last applied."""
        return _rate(self.applied, self.done_s - self.first_received_s)

    @property
    def steady_events(self) -> int:
        """Events applied after the group settled."""
        return max(0, self.applied - self.applied_when_settled)

    @property
    def steady(self) -> bool:
        """Whether at least half the backlog was applied by the settled group.

        A small backlog can be gone before a late worker has its partitions;
        its rate is then the whole backlog's.
        """
        return self.steady_events * 2 >= self.applied and self.done_s > self.settled_s

    @property
    def events_per_s(self) -> float:
        """The settled group's rate when :attr:`steady`, else the whole backlog's."""
        if self.steady:
            return _rate(self.steady_events, self.done_s - self.settled_s)
        return self.backlog_events_per_s


def drain(run: LabRun, pool: WorkerPool, since: int, inputs: int) -> WorkerTiming:
    """Poll the workers until they applied the backlog of ``inputs`` input messages.

    The first and the last event applied are the workers' own gauges (their wall
    clock, the same machine's); receiving and settling are seen by the poll.
    """
    first_received = None
    last_applied, last_change = 0.0, time.monotonic()
    deadline = time.monotonic() + WORK_TIMEOUT_S
    seen = Progress(0.0, 0.0, 0.0, False)
    settled_at: tuple[float, float] | None = None
    while True:
        _check_alive(run, since)
        if time.monotonic() > deadline:
            raise PipelineBenchError(
                f"workers did not finish in {WORK_TIMEOUT_S:.0f}s "
                f"({seen.received:.0f} of {inputs} received, {seen.applied:.0f} applied)"
            )
        progress = pool.progress()
        now = time.monotonic()  # what the workers said holds by now (not before the asking)
        if progress is None:  # a worker busy or restarting its web server: ask again
            time.sleep(POLL_S)
            continue
        seen = progress
        if first_received is None and seen.received > 0:
            first_received = now - pool.origin_at
        if settled_at is None and seen.settled:
            settled_at = (now - pool.origin_at, seen.applied)
        if seen.applied != last_applied:
            last_applied, last_change = seen.applied, now
        settled = now - last_change >= SETTLE_S
        if seen.received >= inputs and seen.applied > 0 and settled and seen.waiting == 0:
            assert first_received is not None
            settled_s, settled_applied = settled_at or (first_received, 0.0)
            first_applied_s = seen.first_applied_at - pool.origin_wall
            return WorkerTiming(
                # A worker's gauge can be a poll ahead of its first input seen.
                min(first_received, first_applied_s),
                first_applied_s,
                seen.last_applied_at - pool.origin_wall,
                int(seen.applied),
                settled_s,
                int(settled_applied),
            )
        time.sleep(WORK_POLL_S)


# -- latency at a fixed input rate


async def _paced_send(
    bootstrap: str, routed: Sequence[Routed], rate: float
) -> dict[datetime, float]:
    """Send ``routed`` at ``rate`` events/s; the wall time each event time was first sent."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=LINGER_MS, acks="all", enable_idempotence=True
    )
    await producer.start()
    sent_at: dict[datetime, float] = {}
    try:
        started = time.monotonic()
        futures = []
        for number, one in enumerate(routed):
            due = started + number / rate
            ahead = due - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
            futures.append(
                await producer.send(
                    one.topic, one.value, key=one.key, timestamp_ms=one.timestamp_ms
                )
            )
            sent_at.setdefault(one.event_time, time.time())
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent_at


async def _read_alerts(
    bootstrap: str, topic: str, arrived: list[tuple[str, float]], stop: asyncio.Event
) -> None:
    """Read ``topic`` from the start until ``stop``; (event_time, wall time read) per alert."""
    consumer = _reader(bootstrap, topic, fetch_max_wait_ms=5)
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=20)
            read_at = time.time()
            for records in batches.values():
                for record in records:
                    alert = orjson.loads(record.value)
                    arrived.append((str(alert["event_time"]), read_at))
    finally:
        await consumer.stop()


async def _latency_run(
    bootstrap: str,
    topics: Topics,
    routed: Sequence[Routed],
    rate: float,
    settle: Callable[[], object],
) -> tuple[dict[datetime, float], list[tuple[str, float]]]:
    arrived: list[tuple[str, float]] = []
    stop = asyncio.Event()
    reader = asyncio.create_task(_read_alerts(bootstrap, topics.alerts, arrived, stop))
    try:
        sent_at = await _paced_send(bootstrap, routed, rate)
        await asyncio.to_thread(settle)
        await asyncio.sleep(0.5)  # the reader's last fetch
    finally:
        stop.set()
        await reader
    return sent_at, arrived


def latencies(sent_at: dict[datetime, float], arrived: Sequence[tuple[str, float]]) -> list[float]:
    """Seconds from sending each alert's causing event to reading the alert."""
    out = []
    for event_time, read_at in arrived:
        wall = sent_at.get(parse_rfc3339(event_time))
        if wall is not None:
            out.append(max(0.0, read_at - wall))
    return out


# -- the whole run


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """What ``gridwatch bench pipeline`` was asked for."""

    events: int = 60_000
    workers: tuple[int, ...] = (1, 2)
    rates: tuple[float, ...] = (1000.0, 5000.0)
    latency_s: float = 30.0
    idle_wait_s: float | None = None
    seed: int = 1
    incidents: int = 12


def prepare_topics(
    settings: Settings, topics: Topics, assets: int, seed: int, extra: Sequence[TopicSpec] = ()
) -> None:
    """Create a prefix's topics (and ``extra``) and publish the city's registry to it."""
    security = settings.kafka_security
    ensure_topics(
        settings.bootstrap,
        [*topics.specs(settings.partitions), *extra],
        settings.partitions,
        1,
        security=security,
    )
    prefixed = settings.model_copy(update={"topic_prefix": topics.prefix})
    publish_assets(prefixed, generate_registry(assets, seed))


@contextlib.contextmanager
def bench_run(settings: Settings, name: str, console: Console) -> Iterator[LabRun]:
    """A benchmark's run on one broker: its prefix (``run.prefix``), home and children.

    Starts the local broker when none answers. On leaving, even by SIGTERM
    (which unwinds like Ctrl-C), the workers, topics and groups of the run go.

    Raises:
        PipelineBenchError: The broker is not PLAINTEXT, or none can be had.
    """
    if settings.kafka_security.protocol != "PLAINTEXT":
        raise PipelineBenchError(f"bench {name} runs on a PLAINTEXT broker only")
    base = f"bench{uuid.uuid4().hex[:8]}"
    home = settings.home / "bench" / base
    home.mkdir(parents=True, exist_ok=True)
    run = LabRun(settings, base, home)
    previous = signal.signal(signal.SIGTERM, exit_on_signal)
    try:
        if not run.ensure_broker(console):
            raise PipelineBenchError(f"no broker at {settings.bootstrap}")
        yield run
    finally:
        run.stop(console)
        signal.signal(signal.SIGTERM, previous)


def run_pipeline_bench(
    settings: Settings, options: PipelineOptions, console: Console
) -> dict[str, Any]:
    """Run every stage on one broker; the result as a JSON-ready dict."""
    with bench_run(settings, "pipeline", console) as run:
        return _stages(run, settings, options, console, run.prefix)


def exit_on_signal(signum: int, frame: object) -> None:
    """SIGTERM handler: unwind like Ctrl-C, so that a run's workers and topics go too."""
    raise SystemExit(128 + signum)


def _stages(
    run: LabRun, settings: Settings, options: PipelineOptions, console: Console, base: str
) -> dict[str, Any]:
    bootstrap = settings.bootstrap
    console.print(f"simulating a city of about {options.events:,} events …")
    city = simulate_city(options.events, options.seed, options.incidents)
    result: dict[str, Any] = {
        "events": city.events,
        "assets": city.assets,
        "seed": city.seed,
        "partitions": settings.partitions,
        "cpus": os.cpu_count(),
    }

    console.print("raw aiokafka producer …")
    raw = Topics(f"{base}.raw.")
    prepare_topics(
        settings,
        raw,
        city.assets,
        city.seed,
        extra=[TopicSpec(f"{base}.raw.out"), TopicSpec(f"{base}.raw.batched")],
    )
    produce_s = asyncio.run(raw_produce(bootstrap, retarget(city.routed, raw)))
    result["raw_produce_events_per_s"] = _rate(city.events, produce_s)

    console.print("gridwatch replay --max-speed …")
    replayed = Topics(f"{base}.replay.")
    prepare_topics(settings, replayed, city.assets, city.seed)
    lines = [(number, one.value) for number, one in enumerate(city.routed, start=1)]
    started = time.perf_counter()
    publish_log(
        settings.model_copy(update={"topic_prefix": replayed.prefix}),
        lines,
        speed=None,
        on_malformed=lambda number, reason: None,
    )
    result["replay_events_per_s"] = _rate(city.events, time.perf_counter() - started)
    result["replay_ratio"] = _ratio(
        result["replay_events_per_s"], result["raw_produce_events_per_s"]
    )

    console.print("gridwatch record against a raw aiokafka consumer …")
    sensors = sum(1 for one in city.routed if one.topic == "unrouted.sensor")
    consume_s = asyncio.run(raw_consume(bootstrap, replayed.sensor, sensors))
    result["raw_consume_events_per_s"] = _rate(sensors, consume_s)
    started = time.perf_counter()
    recorded = read_topic(settings, replayed.sensor)
    result["record_events_per_s"] = _rate(
        len(recorded.buffer.entries), time.perf_counter() - started
    )
    result["record_ratio"] = _ratio(
        result["record_events_per_s"], result["raw_consume_events_per_s"]
    )

    console.print("raw aiokafka consume → orjson → produce loops …")
    raw_inputs = [raw.sensor, raw.hotline, raw.inspection]
    loop_s = asyncio.run(
        _raw_loop(bootstrap, raw_inputs, f"{base}.raw.out", city.events, batched=False)
    )
    raw_rate = _rate(city.events, loop_s)
    result["raw_loop_events_per_s"] = raw_rate
    batched_s = asyncio.run(
        _raw_loop(bootstrap, raw_inputs, f"{base}.raw.batched", city.events, batched=True)
    )
    result["raw_batch_loop_events_per_s"] = _rate(city.events, batched_s)

    console.print("a bare Faust agent on the same backlog …")
    result["faust_bare_events_per_s"] = _faust_bare(run, bootstrap, raw.prefix, city.events)
    result["faust_bare_ratio"] = _ratio(result["faust_bare_events_per_s"], raw_rate)

    result["workers"] = []
    for count in options.workers:
        result["workers"].append(_worker_run(run, settings, city, base, count, raw_rate, console))
    one = next((row for row in result["workers"] if row["workers"] == 1), None)
    for row in result["workers"]:
        row["speedup_over_one"] = (
            None if one is None else _ratio(row["events_per_s"], one["events_per_s"])
        )

    result["latency"] = [
        _latency(run, settings, options, console, base, rate) for rate in options.rates
    ]
    return result


def _worker_run(
    run: LabRun,
    settings: Settings,
    city: City,
    base: str,
    count: int,
    raw_rate: float,
    console: Console,
) -> dict[str, Any]:
    """One group of ``count`` workers through the city's backlog (see the module)."""
    # Fresh topics holding the same backlog for every run: nothing left by the previous.
    topics = Topics(f"{base}.w{count}.")
    prepare_topics(settings, topics, city.assets, city.seed)
    routed = retarget(city.routed, topics)
    since = len(run.children)
    row: dict[str, Any] = {"workers": count}
    if count == 1:
        console.print("1 gridwatch worker on the backlog …")
        asyncio.run(raw_produce(settings.bootstrap, routed))
        pool = start_workers(run, settings, topics.prefix, f"{base}-w{count}", count)
        row["backlog"] = "before_start"
    else:
        # Workers started together join their group at different moments: the
        # first one alone takes every partition and starts, and a rebalance
        # follows on a backlog of a few seconds (Kafka's default
        # group.initial.rebalance.delay.ms, 3 s, exists for that; the local broker
        # sets 0). So the group forms first on empty inputs; its workers are
        # stopped (SIGSTOP) while the backlog is written, so that the producer
        # takes none of their time, and continue (SIGCONT) on the whole backlog.
        # Their session outlasts the write.
        console.print(f"{count} gridwatch workers: the group forms, then the backlog comes …")
        session_s = max(settings.session_timeout_s, city.events / WRITE_FLOOR_PER_S)
        pool = start_workers(
            run,
            settings,
            topics.prefix,
            f"{base}-w{count}",
            count,
            GRIDWATCH_SESSION_TIMEOUT_S=f"{session_s:g}",
        )
        row["start_to_group_formed_s"] = round(wait_ready(run, pool, since, FORMED_S), 2)
        workers = run.children[since:]
        for child in workers:
            child.send_signal(signal.SIGSTOP)
        try:
            asyncio.run(raw_produce(settings.bootstrap, routed))
        finally:
            pool.restart_clock()
            for child in workers:
                child.send_signal(signal.SIGCONT)
        row["backlog"] = "after_group_formed"
    timing = drain(run, pool, since, city.events)
    run.stop_children(since)
    if count == 1:
        rate = timing.events_per_s
        row["measured_from"] = "settled" if timing.steady else "first_received"
    else:
        # From the moment the workers continued on the whole backlog.
        rate = _rate(timing.applied, timing.done_s)
        row["measured_from"] = "continued"
    row.update(
        {
            "events_per_s": rate,
            "ratio_to_raw_loop": _ratio(rate, raw_rate),
            "backlog_events_per_s": timing.backlog_events_per_s,
            "steady_events": timing.steady_events,
            "start_to_first_received_s": round(timing.first_received_s, 2),
            "start_to_first_applied_s": round(timing.first_applied_s, 2),
            "applied": timing.applied,
        }
    )
    return row


def _faust_bare(run: LabRun, bootstrap: str, prefix: str, count: int) -> float:
    """Events/s of :mod:`streams.lab.faust_bare` on ``prefix``'s backlog (a child process)."""
    log = run.home / "faust-bare.log"
    with log.open("wb") as errors:
        completed = subprocess.run(
            [sys.executable, "-m", "streams.lab.faust_bare", bootstrap, prefix, str(count)],
            stdout=subprocess.PIPE,
            stderr=errors,
            # Faust keeps its (empty) table directory in the working directory.
            cwd=run.home,
            timeout=WORK_TIMEOUT_S,
            check=False,
        )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise PipelineBenchError(
            f"the bare Faust agent failed (status {completed.returncode}); see {log}"
        )
    measured = orjson.loads(lines[-1])
    return _rate(int(measured["events"]), float(measured["seconds"]))


def _ratio(value: float, reference: float) -> float | None:
    return round(value / reference, 3) if reference else None


def _latency(
    run: LabRun,
    settings: Settings,
    options: PipelineOptions,
    console: Console,
    base: str,
    rate: float,
) -> dict[str, Any]:
    events = max(1, round(rate * options.latency_s))
    console.print(f"latency at {rate:,.0f} events/s ({events:,} events) …")
    city = simulate_city(events, options.seed + 1, options.incidents)
    tag = f"{rate:.0f}"
    topics = Topics(f"{base}.lat{tag}.")
    prepare_topics(settings, topics, city.assets, city.seed)
    since = len(run.children)
    idle_wait_s = options.idle_wait_s
    if idle_wait_s is None:
        default: float = Settings.model_fields["idle_wait_s"].default
        idle_wait_s, extra = default, {}
    else:
        extra = {"GRIDWATCH_IDLE_WAIT_S": str(idle_wait_s)}
    pool = start_workers(run, settings, topics.prefix, f"{base}-lat{tag}", 1, **extra)
    wait_ready(run, pool, since)
    # The registry arrives through a table: wait until the worker has it.
    deadline = time.monotonic() + READY_TIMEOUT_S
    while metric_sum(f"{pool.webs[0]}/metrics", "gridwatch_registry_assets") < city.assets:
        _check_alive(run, since)
        if time.monotonic() > deadline:
            raise PipelineBenchError("the worker did not load the registry in time")
        time.sleep(POLL_S)
    routed = retarget(city.routed, topics)
    began = time.monotonic()
    sent_at, arrived = asyncio.run(
        _latency_run(
            settings.bootstrap,
            topics,
            routed,
            rate,
            lambda: drain(run, pool, since, city.events),
        )
    )
    sending_s = time.monotonic() - began
    seconds = latencies(sent_at, arrived)
    run.stop_children(since)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "rate_events_per_s": rate,
        "idle_wait_s": idle_wait_s,
        "events": city.events,
        "alerts": len(seconds),
        "p50_ms": ms(percentile(seconds, 0.50)),
        "p99_ms": ms(percentile(seconds, 0.99)),
        "max_ms": ms(max(seconds) if seconds else None),
        "wall_s": round(sending_s, 2),
    }
