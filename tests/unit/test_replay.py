"""Routing and pacing of `gridwatch replay`, without Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.partitioner import DefaultPartitioner as AioDefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner

from streams.broker.clients import CachedKeyPartitioner, aiokafka_partition
from streams.broker.replay import (
    MalformedLine,
    ReplaySummary,
    Routed,
    replay_log,
    replay_log_async,
    route,
)
from streams.core.topics import Topics
from streams.runtime.agents.common import partition_for
from tests.factories import (
    BASE_TIME,
    hotline_factory,
    inspection_factory,
    sensor_factory,
    to_bytes,
    without,
)


@pytest.fixture
def topics():
    return Topics("city7.")


def ack(**overrides):
    event = {
        "kind": "ack",
        "ack_id": "ack-1",
        "asset_id": "gm-000001",
        "acknowledged_by": "duty officer",
        "event_time": BASE_TIME.isoformat(),
    }
    event.update(overrides)
    return event


@pytest.mark.parametrize(
    ("event", "topic", "key"),
    [
        (sensor_factory(asset_id="wm-001"), "city7.sensor", b"wm-001"),
        (hotline_factory(service_request_id="SR-9", asset_id="wm-002"), "city7.hotline", b"SR-9"),
        (
            without(hotline_factory(service_request_id="SR-10"), "asset_id"),
            "city7.hotline",
            b"SR-10",
        ),
        (inspection_factory(asset_id="br-003"), "city7.inspection", b"br-003"),
        (ack(asset_id="gm-000001"), "city7.acks", b"gm-000001"),
    ],
)
def test_route_topic_key_value_timestamp(topics, event, topic, key):
    line = to_bytes(event)
    routed = route(line, topics)
    assert routed.topic == topic
    assert routed.key == key
    assert routed.value == line
    event_time = datetime.fromisoformat(event["event_time"])
    assert routed.event_time == event_time
    assert routed.timestamp_ms == int(event_time.timestamp() * 1000)


def test_route_keeps_the_line_byte_for_byte(topics):
    # Odd spacing, key order and an unknown field must survive: the worker validates.
    line = (
        b'{ "event_time" : "2026-11-27T16:00:00.123456+08:00",  "kind":"sensor",'
        b'"asset_id":"\\u0077m-1", "value": 1.50, "extra": [1,2] }'
    )
    routed = route(line, topics)
    assert routed.value == line
    assert routed.key == b"wm-1"
    # 16:00:00.123456+08:00 is 08:00:00.123 UTC; sub-milliseconds are dropped.
    assert (
        routed.timestamp_ms == int(datetime(2026, 11, 27, 8, tzinfo=UTC).timestamp()) * 1000 + 123
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json at all", "not JSON"),
        (b'{"kind": "sensor"', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'["sensor"]', "not a JSON object"),
        (b"42", "not a JSON object"),
        (to_bytes(sensor_factory(kind="weather")), "unknown kind"),
        (to_bytes(without(sensor_factory(), "kind")), "no kind"),
        (to_bytes(without(sensor_factory(), "asset_id")), "without asset_id"),
        (to_bytes(without(hotline_factory(), "service_request_id")), "without service_request_id"),
        (to_bytes(without(inspection_factory(), "asset_id")), "without asset_id"),
        (to_bytes(without(ack(), "asset_id")), "without asset_id"),
        (to_bytes(sensor_factory(asset_id="")), "asset_id is not a non-empty string"),
        (to_bytes(sensor_factory(asset_id=17)), "asset_id is not a non-empty string"),
        (to_bytes(without(sensor_factory(), "event_time")), "no event_time"),
        (to_bytes(sensor_factory(event_time="2026-11-27T08:00:00")), "has no UTC offset"),
        (to_bytes(sensor_factory(event_time="yesterday at noon")), "is not an RFC 3339 time"),
        (to_bytes(sensor_factory(event_time=1764230400)), "not an RFC 3339 string"),
        (to_bytes(sensor_factory(event_time="1969-12-31T23:59:59+00:00")), "before 1970"),
    ],
)
def test_route_rejects_malformed_lines_with_a_reason(topics, line, reason):
    with pytest.raises(MalformedLine) as caught:
        route(line, topics)
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_route_rejects_lines_too_large_for_a_record(topics):
    line = to_bytes(sensor_factory(asset_id="wm-1", padding="x" * 2000))
    assert route(line, topics, max_record_bytes=len(line) + 4).value == line
    with pytest.raises(MalformedLine, match="larger than"):
        route(line, topics, max_record_bytes=len(line) + 3)


class FakeTime:
    """A monotonic clock that only moves when slept on (or when a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def at(offset_s: float) -> bytes:
    return to_bytes(
        sensor_factory(event_time=(BASE_TIME + timedelta(seconds=offset_s)).isoformat())
    )


def numbered(lines):
    return list(enumerate(lines, start=1))


def test_replay_log_skips_malformed_lines_and_sends_the_rest(topics):
    lines = [
        to_bytes(sensor_factory()),
        b"garbage",
        to_bytes(hotline_factory()),
        to_bytes(sensor_factory(event_time="2026-11-27T08:00:00")),
        to_bytes(inspection_factory()),
        to_bytes(ack()),
    ]
    sent: list[Routed] = []
    malformed: list[tuple[int, str]] = []
    progress: list[int] = []
    clock = FakeTime()
    summary = replay_log(
        [(10 * n, line) for n, line in numbered(lines)],
        sent.append,
        topics=topics,
        speed=None,
        on_malformed=lambda number, reason: malformed.append((number, reason)),
        progress=progress.append,
        clock=clock.clock,
        sleep=clock.sleep,
    )
    assert [r.value for r in sent] == [lines[0], lines[2], lines[4], lines[5]]
    assert [number for number, _ in malformed] == [20, 40]
    assert "not JSON" in malformed[0][1]
    assert "no UTC offset" in malformed[1][1]
    assert progress == [1, 2, 3, 4, 5, 6]
    assert summary.lines == 6
    assert summary.malformed == 2
    assert summary.sent == 4
    assert summary.per_topic == {
        "city7.sensor": 1,
        "city7.hotline": 1,
        "city7.inspection": 1,
        "city7.acks": 1,
    }
    times = [r.event_time for r in sent]
    assert summary.first_event_time == min(times)
    assert summary.last_event_time == max(times)
    assert clock.sleeps == []


def test_pacing_at_speed_60_sleeps_the_event_time_gaps_divided_by_60(topics):
    # Event times (s after the first): 0, 60, 60, 180, 90 (late), 240, 30 (late), 300.
    offsets = [0, 60, 60, 180, 90, 240, 30, 300]
    clock = FakeTime()
    sent_at: list[float] = []
    summary = replay_log(
        numbered([at(s) for s in offsets]),
        lambda routed: sent_at.append(clock.now),
        topics=topics,
        speed=60.0,
        on_malformed=lambda number, reason: pytest.fail(f"line {number}: {reason}"),
        clock=clock.clock,
        sleep=clock.sleep,
    )
    assert clock.sleeps == pytest.approx([1.0, 2.0, 1.0, 1.0])
    assert sum(clock.sleeps) == pytest.approx(300 / 60)
    start = sent_at[0]
    # Each line goes when wall time since the first reaches its due time; late lines at once.
    assert [t - start for t in sent_at] == pytest.approx([0, 1, 1, 3, 3, 4, 4, 5])
    assert summary.event_span_s == 300
    assert summary.elapsed_s == pytest.approx(5.0)


def test_pacing_only_sleeps_when_ahead(topics):
    # Sending costs 2 wall seconds each: at speed 60 that is behind schedule for 60 s gaps
    # (due 1 s later), so the replay never sleeps; for a 600 s gap it sleeps the difference.
    clock = FakeTime()

    def slow_send(routed: Routed) -> None:
        clock.now += 2.0

    replay_log(
        numbered([at(0), at(60), at(120), at(720)]),
        slow_send,
        topics=topics,
        speed=60.0,
        on_malformed=lambda number, reason: None,
        clock=clock.clock,
        sleep=clock.sleep,
    )
    # Sent at 0 (done 2), 60 due 1 -> now 2 (done 4), 120 due 2 -> now 4 (done 6), 720 due 12.
    assert clock.sleeps == pytest.approx([6.0])


def test_max_speed_never_sleeps(topics):
    clock = FakeTime()
    sent: list[Routed] = []
    summary = replay_log(
        numbered([at(s) for s in (0, 3600, 7200, 10, 86400)]),
        sent.append,
        topics=topics,
        speed=None,
        on_malformed=lambda number, reason: None,
        clock=clock.clock,
        sleep=clock.sleep,
    )
    assert clock.sleeps == []
    assert len(sent) == 5
    assert summary.event_span_s == 86400


def test_speed_must_be_positive(topics):
    with pytest.raises(ValueError, match="positive"):
        replay_log([], lambda routed: None, topics=topics, speed=0.0, on_malformed=print)


def test_empty_log(topics):
    summary = replay_log(
        [], lambda routed: None, topics=topics, speed=2.0, on_malformed=lambda n, r: None
    )
    assert summary.lines == summary.sent == summary.malformed == 0
    assert summary.first_event_time is None
    assert summary.event_span_s == 0.0


def test_a_paced_replay_flushes_before_each_pause(topics):
    clock = FakeTime()
    events: list[str] = []

    def sleep(seconds: float) -> None:
        events.append("sleep")
        clock.sleep(seconds)

    replay_log(
        numbered([at(s) for s in (0, 0, 60, 120, 120)]),
        lambda routed: events.append("send"),
        topics=topics,
        speed=60.0,
        on_malformed=lambda number, reason: pytest.fail(f"line {number}: {reason}"),
        clock=clock.clock,
        sleep=sleep,
        barrier=lambda: events.append("flush"),
    )
    assert events == ["send", "send", "flush", "sleep", "send", "flush", "sleep", "send", "send"]


def test_a_full_speed_replay_flushes_at_least_every_barrier_interval(topics):
    clock = FakeTime()
    events: list[str] = []

    def send(routed: object) -> None:
        events.append("send")
        clock.sleep(0.04)  # each send takes 40 ms of wall time

    replay_log(
        numbered([at(s) for s in range(7)]),
        send,
        topics=topics,
        speed=None,
        on_malformed=lambda number, reason: pytest.fail(f"line {number}: {reason}"),
        clock=clock.clock,
        barrier=lambda: events.append("flush"),
        barrier_every_s=0.1,
    )
    # 0.12 s of sending between flushes at most: never more than three sends.
    assert events == ["send"] * 3 + ["flush"] + ["send"] * 3 + ["flush", "send"]


class _Cluster:
    """The metadata a kafka-python partitioner reads: one topic of ``count`` partitions."""

    def __init__(self, count: int) -> None:
        self._partitions = set(range(count))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions


@given(key=st.binary(min_size=0, max_size=64), count=st.integers(min_value=1, max_value=64))
def test_the_tools_partitioner_is_kafkas_default(key: bytes, count: int) -> None:
    cluster = _Cluster(count)
    expected = DefaultPartitioner().partition("t", key, key, b"v", b"v", cluster)
    cached = CachedKeyPartitioner()
    assert cached.partition("t", key, key, b"v", b"v", cluster) == expected
    assert cached.partition("t", key, key, b"v", b"v", cluster) == expected  # from the cache
    # aiokafka's, for the replay's producer: the same.
    assert aiokafka_partition(key, list(range(count)), []) == expected
    assert AioDefaultPartitioner()(key, list(range(count)), []) == expected
    # The worker's agents partition the same way (asset ids are text).
    if key.isascii():
        assert partition_for(key.decode(), count) == expected


def test_the_tools_partitioner_leaves_keyless_records_to_kafka_python() -> None:
    assert CachedKeyPartitioner().partition("t", None, None, b"v", b"v", _Cluster(3)) in {0, 1, 2}


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=600), min_size=0, max_size=20),
    speed=st.sampled_from([None, 30.0, 60.0, 600.0]),
    send_cost=st.sampled_from([0.0, 0.01, 0.04, 0.5]),
)
def test_the_async_driver_takes_the_same_steps_as_the_sync_one(offsets, speed, send_cost):
    topics = Topics("t.")

    def sync_run() -> tuple[list[str], ReplaySummary]:
        clock = FakeTime()
        steps: list[str] = []

        def send(routed: Routed) -> None:
            steps.append(f"send {routed.timestamp_ms} at {clock.now:.3f}")
            clock.now += send_cost

        def sleep(seconds: float) -> None:
            steps.append(f"sleep {seconds:.3f}")
            clock.sleep(seconds)

        summary = replay_log(
            numbered([at(s) for s in offsets]), send, topics=topics, speed=speed,
            on_malformed=lambda number, reason: None, clock=clock.clock, sleep=sleep,
            barrier=lambda: steps.append("flush"),
        )  # fmt: skip
        return steps, summary

    async def async_run() -> tuple[list[str], ReplaySummary]:
        clock = FakeTime()
        steps: list[str] = []

        async def send(routed: Routed) -> None:
            steps.append(f"send {routed.timestamp_ms} at {clock.now:.3f}")
            clock.now += send_cost

        async def sleep(seconds: float) -> None:
            steps.append(f"sleep {seconds:.3f}")
            clock.sleep(seconds)

        async def flush() -> None:
            steps.append("flush")

        summary = await replay_log_async(
            numbered([at(s) for s in offsets]), send, topics=topics, speed=speed,
            on_malformed=lambda number, reason: None, clock=clock.clock, sleep=sleep,
            barrier=flush,
        )  # fmt: skip
        return steps, summary

    sync_steps, sync_summary = sync_run()
    async_steps, async_summary = asyncio.run(async_run())
    assert async_steps == sync_steps
    assert async_summary == sync_summary
    assert async_summary.sent == len(offsets)
