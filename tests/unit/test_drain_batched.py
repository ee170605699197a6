"""The batched drain loop hands a fetch's messages over in order, a bounded list at a time."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, NamedTuple

import pytest

from streams.runtime import faust_compat
from streams.runtime.faust_compat import (
    BATCHED_TOPICS_ATTR,
    DELIVER_EVERY,
    SEEK_EPOCHS_ATTR,
    SeekEpochs,
)


class TP(NamedTuple):
    topic: str
    partition: int


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int


class _Flags:
    def set_flag(self, flag: Any) -> None: ...

    def unset_flag(self, flag: Any) -> None: ...


class _Topics:
    def acks_enabled_for(self, topic: str) -> bool:
        return True


class _App:
    def __init__(self) -> None:
        self.topics = _Topics()
        setattr(self, BATCHED_TOPICS_ATTR, frozenset({"sensor"}))


class _Consumer:
    """What the drain loop reads of Faust's consumer; one fetch, then it stops."""

    consumer_stopped_errors = (RuntimeError,)

    def __init__(self, fetch: list[Message]) -> None:
        self.fetch = fetch
        self.app = _App()
        self.transport = type("T", (), {"app": type("A", (), {"should_stop": True})()})()
        self._stopped = asyncio.Event()
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self.diag = _Flags()
        self._commit_every = None
        self._n_acked = 0
        self.should_stop = False
        self.suspend_flow = asyncio.Event()
        self.per_message: list[Message] = []
        setattr(self, SEEK_EPOCHS_ATTR, SeekEpochs())

    async def callback(self, message: Message) -> None:
        self.per_message.append(message)

    async def getmany(self, timeout: float) -> Any:
        for message in self.fetch:
            yield TP(message.topic, message.partition), message
        self._stopped.set()

    def _get_active_partitions(self) -> set[TP]:
        return {TP("sensor", 0)}

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)

    async def wait_first(self, *coroutines: Any) -> None:
        await coroutines[0]
        for other in coroutines[1:]:
            other.close()


class _Fetcher:
    def __init__(self) -> None:
        self._stopped = asyncio.Event()


def test_a_large_fetch_is_handed_over_in_order_a_bounded_list_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[list[Message]] = []

    async def deliver(consumer: Any, fetched: list[Message]) -> None:
        handed.append(list(fetched))

    monkeypatch.setattr(faust_compat, "_deliver_fetched", deliver)
    sensor = [Message("sensor", 0, offset) for offset in range(2 * DELIVER_EVERY + 7)]
    hotline = [Message("hotline", 0, offset) for offset in range(3)]
    fetch = sensor[:5] + hotline + sensor[5:]
    consumer = _Consumer(fetch)
    asyncio.run(faust_compat._drain_messages_batched(consumer, _Fetcher()))
    # The batched topic's messages come in lists of at most DELIVER_EVERY, in
    # offset order, none lost or repeated; the others went one by one.
    assert [len(one) for one in handed] == [DELIVER_EVERY, DELIVER_EVERY, 7]
    assert [m for one in handed for m in one] == sensor
    assert consumer.per_message == hotline
    assert consumer._read_offset[TP("sensor", 0)] == sensor[-1].offset
