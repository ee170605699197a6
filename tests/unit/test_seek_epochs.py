"""Records a seek overtook are not handed on: the seek fetches them again."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from streams.runtime.faust_compat import (
    SEEK_EPOCHS_ATTR,
    ReadOffsets,
    SeekEpochs,
    _seek_holding_read_offset,
)


class TP(NamedTuple):
    topic: str
    partition: int


SENSOR0, SENSOR1 = TP("t.sensor", 0), TP("t.sensor", 1)


def handed_on(epochs: SeekEpochs, fetch: list[TP], seek_after: int, sought: list[TP]) -> list[int]:
    """The drain loop over one fetch, with a seek of ``sought`` asked for midway."""
    snapshot = epochs.snapshot()  # the fetch's records are in hand
    passed = []
    for index, tp in enumerate(fetch):
        if index == seek_after:
            epochs.bump(sought)
        if not epochs.overtaken(snapshot, tp):
            passed.append(index)
    return passed


def test_a_seek_drops_the_rest_of_its_partitions_fetch_and_no_other():
    epochs = SeekEpochs()
    fetch = [SENSOR0, SENSOR1, SENSOR0, SENSOR1, SENSOR0]
    assert handed_on(epochs, fetch, seek_after=2, sought=[SENSOR0]) == [0, 1, 3]
    # The next fetch (after the seek was asked for) is handed on whole.
    assert handed_on(epochs, fetch, seek_after=99, sought=[]) == [0, 1, 2, 3, 4]


def test_partitions_are_told_apart_by_topic_and_number_whatever_their_type():
    epochs = SeekEpochs()
    snapshot = epochs.snapshot()
    epochs.bump([TP("t.sensor", 0)])
    assert epochs.overtaken(snapshot, SENSOR0)

    class AiokafkaTP(NamedTuple):
        topic: str
        partition: int

    assert epochs.overtaken(snapshot, AiokafkaTP("t.sensor", 0))
    assert not epochs.overtaken(snapshot, AiokafkaTP("t.sensor", 1))


def test_a_consumer_seek_is_counted_before_it_is_asked_for():
    events: list[str] = []

    class Consumer:
        def __init__(self) -> None:
            self._read_offset = ReadOffsets(lambda tp: True)
            setattr(self, SEEK_EPOCHS_ATTR, SeekEpochs())

        async def _seek(self, partition: Any, offset: int) -> None:
            epochs: SeekEpochs = getattr(self, SEEK_EPOCHS_ATTR)
            events.append(f"seek counted={epochs.overtaken({}, partition)}")

    consumer = Consumer()
    asyncio.run(_seek_holding_read_offset(consumer, SENSOR0, 5))
    assert events == ["seek counted=True"]
    assert consumer._read_offset[SENSOR0] == 5


def test_the_seek_runs_on_the_consumer_thread():
    calls: list[str] = []

    class Thread:
        async def call_thread(self, method: Any, *args: Any) -> Any:
            calls.append("on the consumer thread")
            return method(*args)

        def seek(self, partition: Any, offset: int) -> None:
            calls.append(f"seek {partition.partition} {offset}")

    class Consumer:
        def __init__(self) -> None:
            self._thread = Thread()
            self._read_offset = ReadOffsets(lambda tp: True)
            setattr(self, SEEK_EPOCHS_ATTR, SeekEpochs())

        async def _seek(self, partition: Any, offset: int) -> None:
            calls.append("seek from the event loop's thread")

    asyncio.run(_seek_holding_read_offset(Consumer(), SENSOR1, 9))
    assert calls == ["on the consumer thread", "seek 1 9"]


def test_a_seek_to_the_committed_offsets_is_done_again_when_the_assignment_changes_under_it():
    import asyncio

    from aiokafka.errors import IllegalStateError

    from streams.runtime.faust_compat import SEEK_EPOCHS_ATTR, SeekEpochs
    from streams.runtime.faust_compat import _seek_to_committed_or_beginning as seek_committed

    attempts: list[int] = []

    class AioConsumer:
        def seek_to_committed(self) -> dict[Any, int]:
            attempts.append(1)
            if len(attempts) == 1:  # a rebalance took a partition away mid-call
                raise IllegalStateError("No current assignment for partition")
            return {TP("sensor", 0): 5}

        def seek_to_beginning(self, *partitions: Any) -> None:
            raise AssertionError("every partition has a committed offset")

    class FaustConsumer:
        def assignment(self) -> set[Any]:
            return {TP("sensor", 0)}

    class Thread:
        consumer = FaustConsumer()

        def _ensure_consumer(self) -> AioConsumer:
            return AioConsumer()

        async def call_thread(self, method: Any, *args: Any) -> Any:
            return method(*args)

    thread = Thread()
    setattr(thread.consumer, SEEK_EPOCHS_ATTR, SeekEpochs())
    committed = asyncio.run(seek_committed(thread))
    assert committed == {TP("sensor", 0): 5}
    assert len(attempts) == 2
    # Every try counts as a seek of the partitions (records fetched before it are dropped).
    assert getattr(thread.consumer, SEEK_EPOCHS_ATTR).seeks == 2
