"""What agents ask of the Kafka consumer: assignment, high watermarks, positions."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from aiokafka import TopicPartition

from streams.runtime.faust_compat import FETCH_SENT_ATTR, START_OFFSETS_ATTR


class ConsumerView(Protocol):
    """The consumer's view of the partitions this worker holds."""

    def assigned(self, topic: str) -> set[int]:
        """Partitions of ``topic`` assigned to this worker."""
        ...

    def highwater(self, topic: str, partition: int) -> tuple[int, float] | None:
        """The partition's end offset as of the last fetch, and the wall time that fetch was sent.

        None while no fetch response for the partition arrived yet. The time
        matters: a partition whose records wait in the client is not fetched
        again until they are taken, so its end offset can be seconds old. It is
        the request's time, not the response's: the broker read the end offset
        in between, and a response can wait long in a busy client.
        """
        ...

    def position(self, topic: str, partition: int) -> int | None:
        """The offset the client fetches next for the partition (None: not known yet)."""
        ...

    def last_fetch_at(self) -> float | None:
        """Wall time of the newest fetch response for any assigned partition (None: none yet).

        While the broker is unreachable it falls behind: then nothing is judged
        stalled or dead, since nothing can move.
        """
        ...

    def start_offset(self, topic: str, partition: int) -> int | None:
        """Where consumption of the partition started: its committed offset (None: unknown).

        Unlike the fetch position, which runs ahead of what the agents have
        received, this tells whether anything at all is to come: nothing is when
        it is at the high watermark. Never blocks: an answer that needs the
        broker is looked up in the background and None until then.
        """
        ...

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        """Consume the partition again from ``offset`` (messages were skipped)."""
        ...

    def skip_gap(self, topic: str, partition: int, start: int, end: int) -> None:
        """Offsets ``[start, end)`` are not in the log: commits may pass them."""
        ...


class FaustConsumerView:
    """:class:`ConsumerView` over a Faust app's consumer."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._starts: dict[tuple[str, int], int] = {}
        self._asking: dict[tuple[str, int], asyncio.Future[None]] = {}

    def _consumer(self) -> Any | None:
        # The consumer exists once the app started; before that nothing is assigned.
        return getattr(self._app, "_consumer", None)

    def assigned(self, topic: str) -> set[int]:
        """Partitions of ``topic`` assigned to this worker."""
        consumer = self._consumer()
        if consumer is None:
            return set()
        return {tp.partition for tp in consumer.assignment() if tp.topic == topic}

    def highwater(self, topic: str, partition: int) -> tuple[int, float] | None:
        """The partition's end offset as of the last fetch, and that fetch's wall time."""
        from faust.types import TP

        consumer = self._consumer()
        if consumer is None:
            return None
        tp = TP(topic, partition)
        with contextlib.suppress(Exception):  # unknown partition, consumer restarting
            client = consumer._thread._ensure_consumer()  # the aiokafka consumer
            value = client.highwater(tp)
            state = client._subscription.subscription.assignment.state_value(tp)
            # When the fetch was sent, not when its response was processed (faust_compat).
            fetched_ms = getattr(state, FETCH_SENT_ATTR, None)
            if value is None or fetched_ms is None:
                return None
            return int(value), fetched_ms / 1000.0
        return None

    def position(self, topic: str, partition: int) -> int | None:
        """The offset aiokafka's fetcher asks for next (None: no valid position yet)."""
        from faust.types import TP

        consumer = self._consumer()
        if consumer is None:
            return None
        with contextlib.suppress(Exception):  # unknown partition, consumer restarting
            client = consumer._thread._ensure_consumer()  # the aiokafka consumer
            state = client._subscription.subscription.assignment.state_value(TP(topic, partition))
            if state is not None and state.has_valid_position:
                return int(state.position)
        return None

    def last_fetch_at(self) -> float | None:
        """Wall time of the newest fetch response for any assigned partition."""
        consumer = self._consumer()
        if consumer is None:
            return None
        newest: float | None = None
        with contextlib.suppress(Exception):  # consumer restarting
            client = consumer._thread._ensure_consumer()
            for tp in consumer.assignment():
                fetched_ms = client.last_poll_timestamp(tp)
                if fetched_ms is not None and (newest is None or fetched_ms / 1000 > newest):
                    newest = fetched_ms / 1000.0
        return newest

    def start_offset(self, topic: str, partition: int) -> int | None:
        """The partition's committed offset, or its first offset when nothing is committed.

        Faust records the committed offsets when it seeks to them, at the end of
        the recovery that follows an assignment; its fetcher can deliver records
        before that. Until then the committed offset is asked of the broker (in
        the background: None until the answer is in).
        """
        from faust.types import TP

        consumer = self._consumer()
        if consumer is None:
            return None
        key = (topic, partition)
        # Where Faust's seek to the committed offsets sent it (faust_compat).
        start = getattr(consumer, START_OFFSETS_ATTR, {}).get(key)
        if start is not None:
            return int(start)
        tp = TP(topic, partition)
        # None stands for "none, or 0" here; then the broker is asked.
        committed = consumer._committed_offset.get(tp)  # no public accessor
        if committed is not None:
            return int(committed)
        known = self._starts.get(key)
        if known is None and key not in self._asking:
            self._asking[key] = asyncio.ensure_future(self._ask_start(consumer, tp, key))
        return known

    async def _ask_start(self, consumer: Any, tp: Any, key: tuple[str, int]) -> None:
        try:
            with contextlib.suppress(Exception):  # unknown partition, consumer restarting
                thread = consumer._thread
                client = thread._ensure_consumer()  # the aiokafka consumer
                value = await thread.call_thread(client.committed, TopicPartition(*key))
                if value is None or value <= 0:
                    # Nothing committed: consumption starts at the log's beginning.
                    value = (await consumer.earliest_offsets(tp)).get(tp)
                if value is not None:
                    self._starts[key] = int(value)
        finally:
            self._asking.pop(key, None)

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        """Consume the partition again from ``offset`` (Faust's seek resets its read offset)."""
        from faust.types import TP

        consumer = self._consumer()
        if consumer is not None:
            await consumer.seek(TP(topic, partition), offset)

    def skip_gap(self, topic: str, partition: int, start: int, end: int) -> None:
        """Offsets ``[start, end)`` are not in the log: Faust's commits may pass them."""
        from faust.types import TP

        consumer = self._consumer()
        if consumer is not None and end > start:
            consumer._gap[TP(topic, partition)].addi(start, end)  # no public accessor

    def forget(self) -> None:
        """Drop what was learnt of partitions (after a rebalance)."""
        self._starts.clear()
        consumer = self._consumer()
        if consumer is not None:
            # The next seek to the committed offsets records them anew.
            setattr(consumer, START_OFFSETS_ATTR, {})
