"""The Faust agents' logic, driven in-process by tests/fakes.Cluster: arrival order, crashes."""

from __future__ import annotations

import asyncio
import base64
import itertools
import random
import time

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import encode
from streams.runtime.agents.common import partition_for
from streams.runtime.agents.engine import KINDS
from tests.engine_support import run
from tests.factories import sensor_factory
from tests.fakes import Cluster, FakeEvent, FakeMessage, Sent, unique
from tests.scenarios import Scenario, gas_leak, minutes, water_main_burst


def city() -> Scenario:
    """Two incidents on two assets, with complaints (some without asset_id) and findings."""
    scenario = water_main_burst()
    leak = gas_leak()
    events = sorted(scenario.events + leak.events, key=lambda e: e["event_time"])
    return Scenario("city", events=events, assets=scenario.assets)


def expected(scenario: Scenario) -> dict[str, bytes]:
    return {a.identifier: encode(a) for a in run(scenario).alerts}


def test_paced_delivery_gives_the_offline_alerts():
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events:
        cluster.publish(event)
        cluster.settle()
    assert unique(cluster.alerts()) == expected(scenario)
    assert cluster.dead_letters() == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 50))
def test_any_interleaving_of_a_backlog_gives_the_offline_alerts(
    rng: random.Random, batch: int
) -> None:
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events:
        cluster.publish(event)
    while cluster.pending():
        topic, partition = rng.choice(cluster.pending())
        cluster.deliver(topic, partition, rng.randint(1, batch))
    cluster.settle()
    assert unique(cluster.alerts()) == expected(scenario)
    assert cluster.sample("gridwatch_stragglers_total") == 0
    assert cluster.sample("gridwatch_late_events_total") == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_crashes_lose_nothing_and_repeat_byte_identical(rng: random.Random) -> None:
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events:
        cluster.publish(event)
    crashes = 0
    while cluster.pending():
        topic, partition = rng.choice(cluster.pending())
        cluster.deliver(topic, partition, rng.randint(1, 20))
        if rng.random() < 0.08 and crashes < 5:
            cluster.crash()
            crashes += 1
    cluster.settle()
    assert unique(cluster.alerts()) == expected(scenario)


def test_a_crash_after_every_batch_loses_nothing():
    # An input is acknowledged (and its offset committed) only once the states
    # it changed are in the changelog: what a crash loses is never committed.
    scenario = city()
    cluster = Cluster(scenario.assets)
    for start in range(0, len(scenario.events), 15):
        for event in scenario.events[start : start + 15]:
            cluster.publish(event)
        cluster.settle()
        assert cluster.table.in_flight == {}
        cluster.crash()
    sensed = {e["asset_id"].encode() for e in scenario.events if e["kind"] == "sensor"}
    assert set(cluster.table.durable) == sensed
    assert unique(cluster.alerts()) == expected(scenario)


def test_messages_the_consumer_skipped_are_read_again_not_committed_past():
    # Faust can drop messages around a rebalance and deliver later ones: the
    # agents seek back to the first missing offset instead of going on.
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events:
        cluster.publish(event)
    sensor = (cluster.topics.sensor, partition_for("wm-1", cluster.partitions))
    cluster.deliver(*sensor, 20)
    cluster.delivered[sensor] += 7  # seven messages lost on the way
    cluster.deliver(*sensor, 20)
    assert cluster.sought == [(*sensor, 20)]
    assert cluster.committed.get(sensor, 0) <= 20
    cluster.settle()
    assert unique(cluster.alerts()) == expected(scenario)
    assert cluster.sample("gridwatch_offset_rereads_total") == 1


def test_a_worker_that_seeks_back_skips_what_it_handled_without_calling_it_a_straggler():
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events:
        cluster.publish(event)
    cluster.settle()
    before = cluster.sample("gridwatch_engine_redelivered_total")
    topics = cluster.topics
    inputs = (topics.sensor, topics.inspection, topics.acks, topics.hotline)
    rewound = [tp for tp in cluster.logs if tp[0] in inputs]
    for topic, partition in rewound:
        cluster.rewind(topic, partition)
    cluster.settle()
    assert unique(cluster.alerts()) == expected(scenario)
    assert cluster.sample("gridwatch_stragglers_total") == 0
    redelivered = cluster.sample("gridwatch_engine_redelivered_total") - before
    assert redelivered == sum(len(cluster.logs[tp]) for tp in rewound)


def test_invalid_messages_are_dead_lettered_once_with_their_bytes():
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events[:5]:
        cluster.publish(event)
    topics = cluster.topics
    cluster.append(Sent(topics.sensor, b"wm-1", b"{not json", None, None, None))
    cluster.append(Sent(topics.hotline, b"SR-x", b'{"kind": "hotline"}', None, None, None))
    cluster.settle()
    letters = cluster.dead_letters()
    assert sorted((d.reason.value, d.topic) for d in letters) == [
        ("missing_field", topics.hotline),
        ("not_json", topics.sensor),
    ]
    raw = next(d for d in letters if d.topic == topics.sensor)
    assert base64.b64decode(raw.value_b64 or "") == b"{not json"


def test_an_event_on_the_wrong_partition_is_rerouted_and_applied():
    scenario = city()
    cluster = Cluster(scenario.assets)
    reading = sensor_factory(asset_id="wm-1", sensor_id="ps-9", metric="water_pressure_kpa")
    wrong = (partition_for("wm-1", cluster.partitions) + 1) % cluster.partitions
    # Keyed by something else than its asset: it lands on another partition.
    cluster.append(
        Sent(cluster.topics.sensor, b"not-the-asset", orjson.dumps(reading), None, wrong, None)
    )
    cluster.settle()
    assert cluster.sample("gridwatch_rerouted_events_total") == 1
    assert cluster.sample("gridwatch_engine_events_total", kind="sensor") == 1


def test_a_repeated_event_id_is_dropped_even_after_a_restart():
    s = Scenario("dups")
    first = s.sensor(minutes(1), "wm-1", "ps-1", "water_pressure_kpa", 400)
    cluster = Cluster(s.assets)
    cluster.publish(first)
    cluster.settle()
    cluster.crash()
    cluster.publish(dict(first))  # the producer sent it again
    cluster.settle()
    assert cluster.sample("gridwatch_duplicates_dropped_total", kind="sensor") == 1
    assert cluster.sample("gridwatch_engine_events_total", kind="sensor") == 0


def test_the_agent_loop_takes_a_fetch_as_one_batch_and_an_event_as_a_batch_of_one():
    scenario = city()
    cluster = Cluster(scenario.assets, partitions=1)
    for event in scenario.events:
        cluster.publish(event)
    sensor = cluster.logs[(cluster.topics.sensor, 0)]
    handles = [FakeEvent(message) for message in sensor]
    batches: list[int] = []
    handle_batch = cluster.engine.handle_batch

    async def counting(events):
        batches.append(len(events))
        await handle_batch(events)

    cluster.engine.handle_batch = counting  # type: ignore[method-assign]

    class Stream:
        """What Faust's stream yields to the agent: a fetch's list, or one event."""

        def noack(self):
            return self

        async def __aiter__(self):
            yield handles[:-1]
            yield handles[-1]

    asyncio.run(cluster.engine.run(Stream()))
    assert batches == [len(handles) - 1, 1]
    received = cluster.sample("gridwatch_messages_received_total", input="sensor")
    assert received == len(handles)


def test_a_long_round_gives_the_loop_turns_and_shows_its_progress(monkeypatch):
    import streams.runtime.agents.engine as engine_module

    monkeypatch.setattr(engine_module, "YIELD_EVERY", 2)
    scenario = city()
    cluster = Cluster(scenario.assets)
    rounds = 0
    applied_at_each_count: list[float] = []
    finish_round, count = cluster.engine._finish_round, cluster.engine._count

    async def counting_rounds(batch, now):
        nonlocal rounds
        rounds += 1
        await finish_round(batch, now)

    def counting(batch):
        count(batch)
        applied_at_each_count.append(
            sum(cluster.sample("gridwatch_engine_events_total", kind=k) for k in KINDS)
        )

    cluster.engine._finish_round = counting_rounds  # type: ignore[method-assign]
    cluster.engine._count = counting  # type: ignore[method-assign]
    for event in scenario.events:
        cluster.publish(event)
    cluster.settle()
    assert unique(cluster.alerts()) == expected(scenario)
    assert cluster.dead_letters() == []
    # Counted every two applied events, not only once a round.
    assert len(applied_at_each_count) > rounds
    steps = [b - a for a, b in itertools.pairwise(applied_at_each_count)]
    assert max(steps) <= 2


def _step_until_written_later(cluster: Cluster) -> None:
    """Deliver and let time pass, as ``settle`` does, until a round applied events
    whose states it left for a later round (something still waited)."""
    for step in range(1000):  # the router's heartbeats keep its topic pending: bounded
        pending = cluster.pending()
        if not pending:
            break
        topic, partition = pending[step % len(pending)]  # every partition in turn
        cluster.deliver(topic, partition, 5)
        if cluster.pipeline.engine.dirty:
            return
        # Earlier arrivals become old enough to pass while later ones wait.
        cluster.wall.advance(cluster.idle_wait_s)
        asyncio.run(cluster.router.heartbeat())
        cluster.tick()
        if cluster.pipeline.engine.dirty:
            return
    raise AssertionError("no round left its states for later")


def test_under_a_backlog_states_are_written_together_and_acknowledged_after(monkeypatch):
    import streams.runtime.agents.engine as engine_module

    monkeypatch.setattr(engine_module, "PERSIST_EVERY_S", 1e9)  # never due by time alone
    scenario = city()
    cluster = Cluster(scenario.assets)
    writes: list[tuple[bool, int]] = []  # (something still waits, states written) per round
    finish_round = cluster.engine._finish_round

    async def recording_rounds(batch, now):
        before = cluster.sample("gridwatch_state_writes_total")
        await finish_round(batch, now)
        waiting = any(task.waiting() for task in cluster.engine.tasks.values())
        writes.append((waiting, int(cluster.sample("gridwatch_state_writes_total") - before)))

    cluster.engine._finish_round = recording_rounds  # type: ignore[method-assign]
    for event in scenario.events:
        cluster.publish(event)
    _step_until_written_later(cluster)
    unwritten = set(cluster.pipeline.engine.dirty)
    assert not any(asset.encode() in cluster.table.durable for asset in unwritten)
    # The messages of those rounds are not acknowledged, so not committed.
    delivered = sum(len(events) for events in cluster.events.values())
    assert sum(cluster.committed.values()) < delivered
    cluster.settle()
    # While something waited, only the very first round wrote (none had before it).
    assert [n for waiting, n in writes[1:] if waiting] == [0] * sum(w for w, _ in writes[1:])
    assert any(n > 0 for waiting, n in writes if not waiting)  # written once nothing waited
    assert not cluster.pipeline.engine.dirty
    assert all(asset.encode() in cluster.table.durable for asset in unwritten)
    assert unique(cluster.alerts()) == expected(scenario)


def test_a_crash_before_the_states_are_written_loses_nothing(monkeypatch):
    import streams.runtime.agents.engine as engine_module

    monkeypatch.setattr(engine_module, "PERSIST_EVERY_S", 1e9)
    scenario = city()
    cluster = Cluster(scenario.assets)
    for event in scenario.events:
        cluster.publish(event)
    _step_until_written_later(cluster)
    cluster.crash()  # the applied, unwritten states are gone with the worker
    cluster.settle()
    assert unique(cluster.alerts()) == expected(scenario)
    assert cluster.dead_letters() == []


def test_the_first_and_last_applied_times_follow_the_applied_count():
    scenario = city()
    cluster = Cluster(scenario.assets)
    first = "gridwatch_engine_first_applied_timestamp_seconds"
    last = "gridwatch_engine_last_applied_timestamp_seconds"
    assert cluster.sample(first) == cluster.sample(last) == 0
    before = time.time()
    for event in scenario.events[:5]:
        cluster.publish(event)
    cluster.settle()
    started, latest = cluster.sample(first), cluster.sample(last)
    assert before <= started <= latest <= time.time()
    for event in scenario.events[5:]:
        cluster.publish(event)
    cluster.settle()
    # The first stays; the last moves with every count added.
    assert cluster.sample(first) == started
    assert cluster.sample(last) >= latest
    applied = sum(cluster.sample("gridwatch_engine_events_total", kind=k) for k in KINDS)
    assert applied > 5


class _FetchedEvent(FakeEvent):
    """A message handed over a fetch at a time, stamped with that fetch's time."""

    def __init__(self, message: FakeMessage, fetched_at: float) -> None:
        super().__init__(message)
        self.fetched_at = fetched_at


def test_an_event_counts_as_arrived_when_its_fetch_came_not_when_the_agent_took_it():
    def applied_after_waiting_in_the_queue(waited: float | None) -> float:
        scenario = water_main_burst()
        cluster = Cluster(scenario.assets)
        cluster.publish(scenario.events[0])
        # Every hotline partition announced caught up now, and the engine has the markers.
        asyncio.run(cluster.router.heartbeat())
        for topic, partition in cluster.pending():
            if topic == cluster.topics.events_by_asset:
                cluster.deliver(topic, partition, 100)
        ((topic, partition),) = cluster.pending()
        message = cluster.logs[(topic, partition)][0]
        event = (
            FakeEvent(message)
            if waited is None
            else _FetchedEvent(message, cluster.wall() - waited)
        )
        asyncio.run(cluster.engine.handle_batch([event]))
        return cluster.sample("gridwatch_engine_events_total", kind="sensor")

    # Fetched a second ago: every input seen caught up now covers it, at once.
    assert applied_after_waiting_in_the_queue(1.0) == 1
    # Taken as it arrives: the quiet inputs must be seen caught up idle_wait_s later.
    assert applied_after_waiting_in_the_queue(None) == 0
    assert applied_after_waiting_in_the_queue(0.0) == 0
