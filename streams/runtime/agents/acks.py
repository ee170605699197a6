"""Acknowledging input messages in offset order, whatever order they finish in.

Faust commits, per partition, up to the first message not acknowledged. The
engine finishes messages out of offset order (the event-time merge holds some
back), and Faust's own handling of gaps at the head of a partition can commit
past an unfinished message; so the agent acknowledges a message only once
every earlier message of its partition is finished.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from typing import Any


class OrderedAcks:
    """Per partition: acknowledge finished messages in offset order.

    Args:
        ack: Acknowledges one message handle (Faust: ``event.ack()``).
    """

    def __init__(self, ack: Callable[[Any], object]) -> None:
        self._ack = ack
        self._pending: dict[Hashable, list[int]] = {}
        self._handles: dict[tuple[Hashable, int], list[Any]] = {}
        self._finished: set[tuple[Hashable, int]] = set()
        self._acked_to: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._handles)

    def track(self, partition: Hashable, offset: int, handle: Any) -> None:
        """Start tracking a received message (a second delivery joins the first)."""
        if offset < self._acked_to.get(partition, -1):
            self._ack(handle)  # already finished and acknowledged: a late second delivery
            return
        key = (partition, offset)
        handles = self._handles.get(key)
        if handles is None:
            self._handles[key] = [handle]
            heapq.heappush(self._pending.setdefault(partition, []), offset)
        else:
            handles.append(handle)

    def finish(self, partition: Hashable, offset: int) -> int:
        """Mark a message finished; acknowledge every finished one with no gap before it.

        Returns:
            How many handles were acknowledged.
        """
        self._finished.add((partition, offset))
        pending = self._pending.get(partition)
        acked = 0
        while pending and (partition, pending[0]) in self._finished:
            head = heapq.heappop(pending)
            key = (partition, head)
            self._finished.discard(key)
            for handle in self._handles.pop(key, ()):
                self._ack(handle)
                acked += 1
            self._acked_to[partition] = head + 1
        return acked

    def clear(self) -> None:
        """Forget everything without acknowledging (after a rebalance Faust re-delivers)."""
        self._pending.clear()
        self._handles.clear()
        self._finished.clear()
        self._acked_to.clear()
