"""The engine's inputs reach it a fetch at a time: tracked, in order, with backpressure."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from streams.runtime.faust_compat import (
    MAX_BATCH_MESSAGES,
    MAX_QUEUED_FETCHES,
    URGENT_TOPICS_ATTR,
    Fetched,
    _deliver_fetched,
)


@dataclass(eq=False)
class _Message:
    topic: str
    offset: int
    tracked: bool = False
    refcount: int = 0
    acked_by: list[Any] = field(default_factory=list)

    def incref(self, n: int = 1) -> None:
        self.refcount += n

    def ack(self, consumer: Any) -> bool:
        self.acked_by.append(consumer)
        return True


class _Gate:
    """Faust's flow control and producer buffer: both open."""

    def __init__(self) -> None:
        self.passed = 0

    async def acquire(self) -> None:
        self.passed += 1

    async def wait_until_ebb(self) -> None:
        self.passed += 1


@dataclass(eq=False)
class _Channel:
    queue: asyncio.Queue[list[Fetched]]


class _Consumer:
    def __init__(
        self, index: dict[str, set[_Channel]], urgent: frozenset[str] = frozenset()
    ) -> None:
        gate = _Gate()
        self.gate = gate
        self.app = type(
            "App",
            (),
            {
                "flow_control": gate,
                "producer": type("Producer", (), {"buffer": gate})(),
                "topics": type("Conductor", (), {"_topic_name_index": index})(),
                URGENT_TOPICS_ATTR: urgent,
            },
        )()
        self._unacked_messages: set[_Message] = set()


def test_one_fetch_is_one_list_per_channel_in_fetch_order():
    async def main() -> None:
        engine = _Channel(asyncio.Queue())
        consumer = _Consumer({"sensor": {engine}, "acks": {engine}})
        fetch = [_Message("sensor", 5), _Message("acks", 2), _Message("sensor", 6)]
        await _deliver_fetched(consumer, fetch)
        assert consumer.gate.passed == 2  # flow control and the producer's buffer, once
        (batch,) = [engine.queue.get_nowait()]
        assert engine.queue.empty()
        assert [handle.message for handle in batch] == fetch
        # Tracked as Faust's stream tracks a message: unacknowledged until the agent says so.
        assert consumer._unacked_messages == set(fetch)
        assert all(message.tracked for message in fetch)
        assert batch[1].ack()
        assert fetch[1].acked_by == [consumer]
        assert fetch[0].acked_by == []

    asyncio.run(main())


def test_fetches_that_arrive_while_the_agent_is_busy_join_the_waiting_list():
    async def main() -> None:
        engine = _Channel(asyncio.Queue())
        consumer = _Consumer({"sensor": {engine}})
        await _deliver_fetched(consumer, [_Message("sensor", 0), _Message("sensor", 1)])
        await _deliver_fetched(consumer, [_Message("sensor", 2)])  # the agent took nothing yet
        assert engine.queue.qsize() == 1
        batch = engine.queue.get_nowait()
        assert [handle.message.offset for handle in batch] == [0, 1, 2]
        # Taken: the next fetch starts a list of its own.
        await _deliver_fetched(consumer, [_Message("sensor", 3)])
        assert [handle.message.offset for handle in batch] == [0, 1, 2]
        assert [handle.message.offset for handle in engine.queue.get_nowait()] == [3]

    asyncio.run(main())


def test_a_full_channel_holds_the_consumer_back():
    async def main() -> None:
        engine = _Channel(asyncio.Queue())
        consumer = _Consumer({"sensor": {engine}})
        offsets = iter(range(10**9))

        def fetch(count: int) -> list[_Message]:
            return [_Message("sensor", next(offsets)) for _ in range(count)]

        for _ in range(MAX_QUEUED_FETCHES):
            await _deliver_fetched(consumer, fetch(MAX_BATCH_MESSAGES))  # each list is full
        assert engine.queue.qsize() == MAX_QUEUED_FETCHES
        blocked = asyncio.ensure_future(_deliver_fetched(consumer, fetch(1)))
        await asyncio.sleep(0.05)
        assert not blocked.done()  # the agent has taken nothing: no more is queued
        first = engine.queue.get_nowait()
        assert first[0].message.offset == 0
        await asyncio.wait_for(blocked, timeout=5)
        lists = [engine.queue.get_nowait() for _ in range(MAX_QUEUED_FETCHES)]
        taken = [handle.message.offset for batch in [first, *lists] for handle in batch]
        assert taken == list(range(MAX_QUEUED_FETCHES * MAX_BATCH_MESSAGES + 1))

    asyncio.run(main())


def test_each_message_carries_the_time_its_fetch_was_handed_over():
    async def main() -> None:
        engine = _Channel(asyncio.Queue())
        consumer = _Consumer({"sensor": {engine}})
        before = time.time()
        await _deliver_fetched(consumer, [_Message("sensor", 0)])
        between = time.time()
        await _deliver_fetched(consumer, [_Message("sensor", 1)])  # joins the waiting list
        after = time.time()
        first, second = engine.queue.get_nowait()
        assert before <= first.fetched_at <= between <= second.fetched_at <= after

    asyncio.run(main())


def test_urgent_messages_go_into_the_next_list_past_the_backpressure():
    async def main() -> None:
        engine = _Channel(asyncio.Queue())
        consumer = _Consumer({"sensor": {engine}, "internal": {engine}}, frozenset({"internal"}))
        offsets = iter(range(10**9))

        def fetch(count: int) -> list[_Message]:
            return [_Message("sensor", next(offsets)) for _ in range(count)]

        # Nothing waits: urgent messages travel with the fetch's list, in fetch order.
        await _deliver_fetched(consumer, [_Message("internal", 0), *fetch(2)])
        assert [(h.message.topic, h.message.offset) for h in engine.queue.get_nowait()] == [
            ("sensor", 0), ("sensor", 1), ("internal", 0)
        ]  # fmt: skip
        for _ in range(MAX_QUEUED_FETCHES):
            await _deliver_fetched(consumer, fetch(MAX_BATCH_MESSAGES))
        # The channel is full: a sensor fetch would wait, urgent messages do not.
        await asyncio.wait_for(
            _deliver_fetched(consumer, [_Message("internal", 1), _Message("internal", 2)]), 5
        )
        lists = [engine.queue.get_nowait() for _ in range(MAX_QUEUED_FETCHES)]
        internal = [
            (index, h.message.offset)
            for index, batch in enumerate(lists)
            for h in batch
            if h.message.topic == "internal"
        ]
        assert internal == [(0, 1), (0, 2)]  # at the end of the first list, in order
        assert len(lists[0]) == MAX_BATCH_MESSAGES + 2

    asyncio.run(main())
