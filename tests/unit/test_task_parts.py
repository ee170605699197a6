"""A partition task's frontier, the repartition wire format, ordered acks, the stall watch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from schemas import EVENT_ADAPTER
from streams.core.repartition import (
    Forwarded,
    Origin,
    Progress,
    RepartitionFormatError,
    forward_headers,
    progress_message,
    read,
)
from streams.core.task import Admission, PartitionTask, Pending, hotline_source
from streams.runtime.agents.acks import OrderedAcks
from streams.runtime.health import STALL_EXIT_CODE, ProgressWatch, StallGuard
from tests.factories import sensor_factory

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)


def reading(seconds: float) -> Pending[str]:
    event = EVENT_ADAPTER.validate_python(
        sensor_factory(event_time=(T0 + timedelta(seconds=seconds)).isoformat())
    )
    return Pending(event, "sensor", 0, "ticket")


def test_frontier_is_the_first_offset_not_applied():
    task: PartitionTask[str] = PartitionTask(0, 2, idle_wait_s=0.1, max_wait_s=None, now=0.0)
    for offset, seconds in enumerate((1, 2, 3)):
        pending = reading(seconds)
        pending.offset = offset
        assert task.push(pending, 1.0) is Admission.BUFFERED
    task.seen("inspection", 7)  # dead-lettered, say: seen and finished
    assert task.frontier() == {"sensor": 0, "inspection": 8}
    task.progress(hotline_source(0), 2.5 + T0.timestamp(), None, 1.0)
    task.progress(hotline_source(1), 9.0 + T0.timestamp(), None, 1.0)
    task.caught_up("inspection", 1.0)
    task.caught_up("acks", 1.0)
    released = task.release(1.0)
    assert [p.offset for p in released] == []  # sensor itself has not moved past 1..3 yet
    later = reading(4)
    later.offset = 3
    task.push(later, 2.0)
    task.caught_up("inspection", 2.0)  # now long enough after readings 1..3 arrived
    task.caught_up("acks", 2.0)
    released = task.release(2.0)
    assert [p.offset for p in released] == [0, 1]  # hotline/0 holds the rest back at 2.5
    assert task.frontier()["sensor"] == 2
    assert task.is_buffered("sensor", 2)
    assert not task.is_buffered("sensor", 0)


def test_forwarded_and_progress_messages_round_trip():
    origin = Origin("city.hotline", 3, 1234, 1_764_230_400_000, b"SR-1")
    headers = forward_headers("case", "wm-000001", origin)
    assert read(headers, b"{}") == Forwarded("case", "wm-000001", origin, b"{}")
    no_key = Origin("city.sensor", 0, 5, None, None)
    assert read(forward_headers("reroute", "a|b", no_key), None) == Forwarded(
        "reroute", "a|b", no_key, None
    )
    marks = (Progress(2, 1.5e9, 1.7e9), Progress(0, None, None))
    headers, value = progress_message(marks)
    assert read(headers, value) == marks
    assert headers == [("gw-kind", b"marks")]  # one marker for every hotline partition held


def test_a_marker_of_the_previous_version_still_reads_as_one_partitions_progress():
    value = b'{"q": 3, "t": 1.5e9, "at": null}'
    assert read([("gw-kind", b"mark")], value) == (Progress(3, 1.5e9, None),)


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        (None, b"{}"),
        ([("gw-kind", b"mark")], b"not json"),
        ([("gw-kind", b"marks")], b"not json"),
        ([("gw-kind", b"marks")], b'{"m": 3}'),
        ([("gw-kind", b"marks")], b'{"m": [[1, 2.0]]}'),
        ([("gw-kind", b"marks")], b'{"m": [["1", 2.0, null]]}'),
        ([("gw-kind", b"marks")], b'{"m": [[1, "2.0", null]]}'),
        ([("gw-kind", b"marks")], b'{"m": [[true, 2.0, null]]}'),
        ([("gw-kind", b"marks")], b"[]"),
        ([("gw-kind", b"case")], b"{}"),
        ([("gw-kind", b"case"), ("gw-asset", b"x"), ("gw-origin", b"t|x|1|")], b"{}"),
        ([("gw-kind", b"other")], b"{}"),
    ],
)
def test_foreign_repartition_messages_are_refused(headers, value):
    with pytest.raises(RepartitionFormatError):
        read(headers, value)


def test_acks_go_out_in_offset_order_and_second_deliveries_join_the_first():
    acked: list[str] = []
    acks = OrderedAcks(acked.append)
    for offset in range(4):
        acks.track("p0", offset, f"m{offset}")
    acks.track("p0", 2, "m2-again")
    acks.finish("p0", 2)
    acks.finish("p0", 1)
    assert acked == []
    assert acks.finish("p0", 0) == 4
    assert acked == ["m0", "m1", "m2", "m2-again"]
    acks.track("p0", 1, "late-copy")  # already acknowledged: at once
    assert acked[-1] == "late-copy"
    acks.finish("p0", 3)
    assert acked[-1] == "m3"
    acks.track("p1", 10, "x")
    acks.clear()
    assert acks.finish("p1", 10) == 0


class FakeConsumer:
    def __init__(self) -> None:
        self.ends: dict[tuple[str, int], int] = {}
        self.starts: dict[tuple[str, int], int] = {}
        self.positions: dict[tuple[str, int], int] = {}
        self.sought: list[tuple[str, int, int]] = []
        self.fetched_at = 0.0

    def assigned(self, topic: str) -> set[int]:
        return {p for t, p in self.ends if t == topic}

    def highwater(self, topic: str, partition: int) -> tuple[int, float] | None:
        end = self.ends.get((topic, partition))
        return None if end is None else (end, self.fetched_at)

    def start_offset(self, topic: str, partition: int) -> int | None:
        return self.starts.get((topic, partition))

    def position(self, topic: str, partition: int) -> int | None:
        return self.positions.get((topic, partition))

    def last_fetch_at(self) -> float | None:
        return self.fetched_at

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        self.sought.append((topic, partition, offset))

    def skip_gap(self, topic: str, partition: int, start: int, end: int) -> None:
        raise AssertionError("the stall guard never skips offsets")


def test_a_partition_with_lag_and_no_progress_is_a_stall():
    consumer = FakeConsumer()
    consumer.ends = {("in", 0): 10, ("in", 1): 5}
    consumer.starts = {("in", 0): 0, ("in", 1): 5}
    watch = ProgressWatch(60.0, ("in",))

    def check(now: float) -> list[str]:
        consumer.fetched_at = now  # the broker answers
        stalls = asyncio.run(watch.check(now, consumer, {"in": {0, 1}}))
        return [stall.describe() for stall in stalls]

    assert check(0.0) == []
    watch.observe("in", 0, 3, 30.0)
    assert check(61.0) == []  # it moved 31 s ago
    assert check(91.0) == ["in[0]: 6 messages behind, nothing received for 61s"]
    watch.pause(92.0)  # a rebalance: every clock restarts
    assert watch.stalls == []
    assert check(100.0) == []
    watch.observe("in", 0, 9, 101.0)
    assert check(500.0) == []  # caught up: nothing to wait for
    consumer.ends[("in", 1)] = 8  # lag again, but the broker went silent at 500 s
    assert asyncio.run(watch.check(900.0, consumer, {"in": {0, 1}})) == []


def test_a_partition_fetched_to_its_end_that_delivers_nothing_is_read_again():
    consumer = FakeConsumer()
    consumer.ends = {("in", 0): 1, ("in", 1): 10}
    consumer.starts = {("in", 0): 0, ("in", 1): 0}
    # in[0]: its one record was fetched (position at the end) and never delivered;
    # in[1]: the client has not fetched its records yet (it will by itself).
    consumer.positions = {("in", 0): 1, ("in", 1): 4}
    rereads: list[None] = []
    watch = ProgressWatch(60.0, ("in",), reread_after_s=5.0, rereads=lambda: rereads.append(None))

    def check(now: float) -> list[str]:
        consumer.fetched_at = now
        stalls = asyncio.run(watch.check(now, consumer, {"in": {0, 1}}))
        return [stall.describe() for stall in stalls]

    check(0.0)
    check(4.0)
    assert consumer.sought == []
    check(5.0)
    assert consumer.sought == [("in", 0, 0)]  # from the offset due, once
    check(7.0)
    assert consumer.sought == [("in", 0, 0)]
    check(10.0)
    assert consumer.sought == [("in", 0, 0), ("in", 0, 0)]  # still nothing: again
    assert len(rereads) == 2
    # Read again, it arrives: the watch knows the next offset due from then on.
    watch.observe("in", 0, 0, 11.0)
    consumer.ends[("in", 0)] = 3
    consumer.positions[("in", 0)] = 3
    check(20.0)
    assert consumer.sought[-1] == ("in", 0, 1)
    # A partition that never delivers still becomes a stall, as before.
    assert check(61.0) == ["in[1]: 10 messages behind, nothing received for 61s"]
    watch.pause(62.0)  # a rebalance: every clock restarts, no read again before the wait
    count = len(consumer.sought)
    check(66.0)
    assert len(consumer.sought) == count


def test_a_worker_that_stays_stalled_answers_503_then_exits_non_zero():
    consumer = FakeConsumer()
    consumer.ends = {("in", 0): 10}
    consumer.starts = {("in", 0): 0}
    watch = ProgressWatch(60.0, ("in",))
    wall = [0.0]
    exits: list[int] = []

    class Gauge:
        value = -1.0

        def set(self, value: float) -> None:
            self.value = value

    gauge = Gauge()
    busy = [False]
    guard = StallGuard(
        watch, consumer, busy=lambda: busy[0], gauge=gauge, wall=lambda: wall[0],
        exit=exits.append,
    )  # fmt: skip

    def tick(at: float) -> None:
        wall[0] = consumer.fetched_at = at
        asyncio.run(guard.check())

    tick(0.0)
    tick(59.0)
    assert (watch.stalls, gauge.value, exits) == ([], 0, [])
    tick(61.0)
    assert len(watch.stalls) == 1  # /health now answers 503 with the reason
    assert (gauge.value, exits) == (1, [])
    busy[0] = True  # a rebalance starts: no verdict, every clock restarts
    tick(62.0)
    assert (watch.stalls, exits) == ([], [])
    busy[0] = False
    tick(130.0)
    tick(133.0)
    assert exits == []
    tick(136.0)
    assert exits == [STALL_EXIT_CODE]
