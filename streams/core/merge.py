"""Event-time order whatever the arrival order: a watermark merge over input sources.

A *source* is one ordered stream of items: an input partition read directly,
or a partition of the hotline topic seen through the repartition topic. Each
source delivers its items in event-time order, as a log in event-time order
does. The merge buffers items and releases them in the canonical order
``(event time, kind rank, id)`` once every source has moved past them, so what
is released, and in which order, does not depend on how the sources interleave
on arrival.

How far a source has moved (its *bound*, exclusive):

- the newest event time it delivered, or announced in a progress marker;
- while it is **lagging** (the broker holds data for it that has not arrived
  yet) nothing more: the merge waits, however long the data takes;
- while it is **caught up** it also covers everything that arrived from any
  source at least ``idle_wait_s`` before the moment it was last seen caught
  up. A producer sends its records in order; ``idle_wait_s`` bounds how much
  later a record of one partition may arrive than a later record of another
  (batching, an extra hop). This is Kafka Streams' ``max.task.idle.ms``
  (KIP-695): no event waits longer than that for a quiet input;
- a source that shows no progress at all for ``max_wait_s`` while items wait
  is passed over (and counted), so a dead input cannot stall the rest forever.
  Time the broker did not answer does not count: every source is stuck then,
  and none is dead.

An item older than the watermark already released (a *straggler*, out of order
in its own source) cannot be put in order any more: :meth:`EventTimeMerge.push`
returns False and the caller applies it at once. The same holds offline, where
the whole log is one source.

Times are floats: event times in epoch seconds, wall-clock times from a
monotonic clock the caller passes in.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Final, Generic, NamedTuple, TypeVar

T = TypeVar("T")

KIND_RANK: Final = {"sensor": 0, "hotline": 1, "inspection": 2, "ack": 3}
"""Order of kinds at the same event time: readings, then complaints, findings, acks."""

OrderKey = tuple[float, int, str]
"""(event time, kind rank, id): the canonical order of items."""

_NEG_INF: Final = -math.inf
_POS_INF: Final = math.inf


def order_key(event_time: float, kind: str, item_id: str) -> OrderKey:
    """The canonical order key of an item."""
    return (event_time, KIND_RANK.get(kind, len(KIND_RANK)), item_id)


@dataclass(slots=True)
class _Source:
    progress: float = _NEG_INF  # newest event time delivered or announced (exclusive bound)
    caught_up_at: float | None = None  # wall time it was last seen with nothing left to deliver
    last_progress_at: float = 0.0  # wall time its progress last advanced (or it was added)
    passed_over: bool = False


class _Pending(NamedTuple, Generic[T]):
    # A tuple, so that the heap compares entries in C: a dataclass's generated
    # ``__lt__`` ran in Python, some 14 times a push into a backlog of 16,000
    # (4% of a worker's time). ``seq`` is unique, so source and item are never compared.
    key: OrderKey
    seq: int
    source: Hashable
    item: T


class EventTimeMerge(Generic[T]):
    """Buffers items from several sources and releases them in event-time order.

    Args:
        idle_wait_s: How long after an item's arrival a caught-up source that
            shows nothing before it is taken to have nothing before it.
        max_wait_s: After this long without progress while items wait, a source
            is passed over (None: never).
    """

    def __init__(self, *, idle_wait_s: float, max_wait_s: float | None) -> None:
        self.idle_wait_s = idle_wait_s
        self.max_wait_s = max_wait_s
        self._sources: dict[Hashable, _Source] = {}
        self._heap: list[_Pending[T]] = []
        self._seq = 0
        # Arrival wall times (non-decreasing) and the newest event time seen up
        # to each; entries before _first are no longer needed.
        self._walls: list[float] = []
        self._newest_by: list[float] = []
        self._first = 0
        self._newest = _NEG_INF
        self._released: OrderKey | None = None
        self.passed_over = 0
        """How many times a source was passed over after ``max_wait_s``."""
        self.last_passed_over: Hashable | None = None
        """The source passed over most recently."""

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def released(self) -> OrderKey | None:
        """The greatest key released so far: an item ordered before it is a straggler."""
        return self._released

    @property
    def sources(self) -> list[Hashable]:
        """The sources the merge waits for."""
        return list(self._sources)

    def add_source(self, source: Hashable, now: float) -> None:
        """Start waiting for ``source`` (idempotent)."""
        if source not in self._sources:
            self._sources[source] = _Source(last_progress_at=now)

    def remove_source(self, source: Hashable) -> list[T]:
        """Stop waiting for ``source``; return (and drop) its buffered items."""
        self._sources.pop(source, None)
        dropped = [p.item for p in self._heap if p.source == source]
        if dropped:
            self._heap = [p for p in self._heap if p.source != source]
            heapq.heapify(self._heap)
        return dropped

    def clear(self) -> list[T]:
        """Forget every source and buffered item (after a rebalance); return the items."""
        dropped = [p.item for p in self._heap]
        self._sources.clear()
        self._heap.clear()
        self._walls.clear()
        self._newest_by.clear()
        self._first = 0
        self._newest = _NEG_INF
        self._released = None
        return dropped

    def push(self, source: Hashable, key: OrderKey, item: T, now: float) -> bool:
        """Buffer one item of ``source``; False when it is a straggler (apply it at once).

        ``now`` is when the item arrived: any moment after the broker had it (the
        time of the fetch that brought it is the earliest); arrivals never go back
        in time, an earlier one counts as the latest so far.
        """
        walls = self._walls
        if walls and now < walls[-1]:
            now = walls[-1]
        state = self._sources.get(source)
        if state is None:
            self.add_source(source, now)
            state = self._sources[source]
        t = key[0]
        self._advance(state, t, now)
        if t > self._newest:
            self._newest = t
        self._walls.append(now)
        self._newest_by.append(self._newest)
        if self._released is not None and key < self._released:
            return False
        heapq.heappush(self._heap, _Pending(key, self._seq, source, item))
        self._seq += 1
        return True

    def progress(self, source: Hashable, event_time: float, now: float) -> None:
        """``source`` announces it has delivered everything before ``event_time``."""
        state = self._sources.get(source)
        if state is None:
            self.add_source(source, now)
            state = self._sources[source]
        self._advance(state, event_time, now)

    def caught_up(self, source: Hashable, at: float | None) -> None:
        """``source`` was seen with nothing left to deliver at wall time ``at`` (None: lagging)."""
        state = self._sources.get(source)
        if state is None:
            return
        if at is None:
            state.caught_up_at = None
        elif state.caught_up_at is None or at > state.caught_up_at:
            state.caught_up_at = at

    def watermark(self, now: float, *, answering_since: float | None = _NEG_INF) -> float:
        """Items older than this can be released: no source can still deliver one.

        Args:
            now: Wall-clock time.
            answering_since: Wall time since which the broker has answered without
                a break, or None while it does not answer. A source is passed over
                only after ``max_wait_s`` without progress *and* with the broker
                answering: an outage stops every source, and kills none.
        """
        if not self._sources:
            return _POS_INF
        horizon = self._newest_arrived_by(now)
        waiting = answering_since is not None and bool(self._heap)
        bound = _POS_INF
        for source, state in self._sources.items():
            source_bound = state.progress
            if state.caught_up_at is not None:
                covered = self._newest_arrived_by(state.caught_up_at - self.idle_wait_s)
                if covered > _NEG_INF:
                    source_bound = max(source_bound, math.nextafter(covered, _POS_INF))
            if (
                waiting
                and self.max_wait_s is not None
                and answering_since is not None
                and now - max(state.last_progress_at, answering_since) >= self.max_wait_s
                and source_bound < horizon
            ):
                if not state.passed_over:
                    state.passed_over = True
                    self.passed_over += 1
                    self.last_passed_over = source
                source_bound = _POS_INF
            bound = min(bound, source_bound)
        return bound

    def release(self, now: float, *, answering_since: float | None = _NEG_INF) -> list[T]:
        """Pop every item below the watermark, in canonical order (see :meth:`watermark`)."""
        watermark = self.watermark(now, answering_since=answering_since)
        out: list[T] = []
        heap = self._heap
        last: OrderKey | None = None
        while heap and heap[0].key[0] < watermark:
            pending = heapq.heappop(heap)
            last = pending.key
            out.append(pending.item)
        if last is not None:
            self._released = last
        self._trim_arrivals(now)
        return out

    def flush(self) -> list[T]:
        """Release everything, in canonical order (the end of a log)."""
        out: list[T] = []
        while self._heap:
            pending = heapq.heappop(self._heap)
            self._released = pending.key
            out.append(pending.item)
        return out

    def buffered_from(self, source: Hashable) -> Iterable[T]:
        """The items of ``source`` still waiting (any order)."""
        return (p.item for p in self._heap if p.source == source)

    # -- internals

    def _advance(self, state: _Source, t: float, now: float) -> None:
        if t > state.progress:
            state.progress = t
            state.last_progress_at = now
            state.passed_over = False

    def _newest_arrived_by(self, wall: float) -> float:
        index = bisect_right(self._walls, wall, lo=self._first) - 1
        return self._newest_by[index] if index >= self._first else _NEG_INF

    def _trim_arrivals(self, now: float) -> None:
        # Keep the last entry at or before the oldest moment still asked about
        # (idle_wait_s before now, or before the oldest caught-up observation).
        oldest_needed = now - self.idle_wait_s
        for state in self._sources.values():
            if state.caught_up_at is not None:
                oldest_needed = min(oldest_needed, state.caught_up_at - self.idle_wait_s)
        keep = bisect_right(self._walls, oldest_needed, lo=self._first) - 1
        if keep > self._first:
            self._first = keep
        if self._first > 4096 and self._first * 2 > len(self._walls):
            del self._walls[: self._first]
            del self._newest_by[: self._first]
            self._first = 0
