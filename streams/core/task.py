"""One partition's task: the event-time merge of its sources and what was applied.

A partition's assets get their events from three *direct* sources (partition
``p`` of the sensor, inspection and acks topics, keyed by ``asset_id``) and
from every hotline partition through the repartition topic. The task merges
them in event time (:class:`~streams.core.merge.EventTimeMerge`) and keeps, per
source, the first offset not yet applied: its *frontier*, stamped on every
asset state it persists, so a restart can tell a redelivered message from a
new one. Pure: the Faust agent feeds it offsets, high watermarks and items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Generic, TypeVar

from streams.core.ingest import Item, item_order
from streams.core.merge import EventTimeMerge, OrderKey

DIRECT_SOURCES: Final = ("sensor", "inspection", "acks")
"""The input roles read directly by a partition's task (keyed by asset_id)."""

T = TypeVar("T")


def hotline_source(partition: int) -> str:
    """The source name of a hotline partition."""
    return f"hotline/{partition}"


class Admission(Enum):
    """What became of an item pushed into a task."""

    BUFFERED = "buffered"
    """It waits in the merge."""
    NOW = "now"
    """The partition moved past it, but its asset did not: apply it now, still in order."""
    STRAGGLER = "straggler"
    """Its asset already applied a later event: apply it now, out of order."""


@dataclass(slots=True)
class Pending(Generic[T]):
    """An item waiting in the merge, with what the shell needs to finish it.

    Attributes:
        item: The validated event or acknowledgement.
        source: Its source (``sensor``, ``hotline/3`` …).
        offset: Its offset in that source (for a hotline case: in the hotline partition).
        ticket: The shell's handle (the Kafka message to acknowledge, its origin).
    """

    item: Item
    source: str
    offset: int
    ticket: T


class PartitionTask(Generic[T]):
    """The merge and the frontier of one partition.

    Args:
        partition: The partition number.
        hotline_partitions: How many partitions the hotline topic has.
        idle_wait_s: See :class:`~streams.core.merge.EventTimeMerge`.
        max_wait_s: See :class:`~streams.core.merge.EventTimeMerge`.
        now: Wall-clock time the task starts.
    """

    def __init__(
        self,
        partition: int,
        hotline_partitions: int,
        *,
        idle_wait_s: float,
        max_wait_s: float | None,
        now: float,
    ) -> None:
        self.partition = partition
        self.merge: EventTimeMerge[Pending[T]] = EventTimeMerge(
            idle_wait_s=idle_wait_s, max_wait_s=max_wait_s
        )
        for source in (*DIRECT_SOURCES, *(hotline_source(q) for q in range(hotline_partitions))):
            self.merge.add_source(source, now)
        # Per source: offsets buffered in the merge, and the next offset after the newest seen.
        self._buffered: dict[str, dict[int, Pending[T]]] = {}
        self._next: dict[str, int] = {}
        # The key of the newest item applied per asset: only an asset's own order matters.
        self._applied: dict[str, OrderKey] = {}

    def seen(self, source: str, offset: int) -> None:
        """Note that the message at ``offset`` of ``source`` arrived (whatever became of it)."""
        if offset + 1 > self._next.get(source, 0):
            self._next[source] = offset + 1

    def next_offset(self, source: str) -> int | None:
        """The offset after the newest message seen from ``source``."""
        return self._next.get(source)

    def is_buffered(self, source: str, offset: int) -> bool:
        """Whether that message already waits in the merge (a second delivery of it)."""
        return offset in self._buffered.get(source, {})

    def push(self, pending: Pending[T], now: float) -> Admission:
        """Put an item in the merge, or say it is to be applied at once."""
        self.seen(pending.source, pending.offset)
        key = item_order(pending.item)
        if self.merge.push(pending.source, key, pending, now):
            self._buffered.setdefault(pending.source, {})[pending.offset] = pending
            return Admission.BUFFERED
        asset = pending.item.asset_id or ""
        applied = self._applied.get(asset)
        if applied is not None and key < applied:
            return Admission.STRAGGLER
        self._applied[asset] = key
        return Admission.NOW

    def progress(
        self, source: str, event_time: float | None, caught_up_at: float | None, now: float
    ) -> None:
        """A source's progress marker: event time reached, and when it was caught up."""
        if event_time is not None:
            self.merge.progress(source, event_time, now)
        self.merge.caught_up(source, caught_up_at)

    def caught_up(self, source: str, at: float | None) -> None:
        """A direct source was seen with nothing left at wall time ``at`` (None: lagging)."""
        self.merge.caught_up(source, at)

    def release(self, now: float, *, answering_since: float | None = -math.inf) -> list[Pending[T]]:
        """The items every source has moved past, in canonical order."""
        released = self.merge.release(now, answering_since=answering_since)
        for pending in released:
            buffered = self._buffered.get(pending.source)
            if buffered is not None:
                buffered.pop(pending.offset, None)
            self._applied[pending.item.asset_id or ""] = item_order(pending.item)
        return released

    def frontier(self) -> dict[str, int]:
        """Per source, the first offset not applied yet (everything before it was)."""
        frontier: dict[str, int] = {}
        for source, following in self._next.items():
            waiting = self._buffered.get(source)
            frontier[source] = min(waiting) if waiting else following
        return frontier

    def waiting(self) -> int:
        """Items in the merge."""
        return len(self.merge)

    def describe(self) -> dict[str, Any]:
        """Counts for diagnostics."""
        return {
            "partition": self.partition,
            "waiting": len(self.merge),
            "passed_over": self.merge.passed_over,
        }


class BrokerContact:
    """Since when the broker has answered without a break, judged from fetch times.

    A consumer receives a fetch response every fraction of a second while the
    broker answers (empty ones included). No response for ``silence_s`` means
    it does not; a jump of that much between two observed fetch times means it
    did not for a while, even if nobody looked in between (a caller busy
    awaiting sends throughout the outage).

    Args:
        silence_s: How long without a fetch response counts as not answering.
    """

    def __init__(self, silence_s: float) -> None:
        self.silence_s = silence_s
        self._last_fetch: float | None = None
        self._since: float | None = None

    def answering_since(self, last_fetch: float | None, now: float) -> float | None:
        """Since when it answers (None while it does not), given the newest fetch time."""
        previous, self._last_fetch = self._last_fetch, last_fetch
        if last_fetch is None or now - last_fetch >= self.silence_s:
            self._since = None
        elif self._since is None or previous is None or last_fetch - previous >= self.silence_s:
            self._since = last_fetch
        return self._since
