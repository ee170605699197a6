"""Every offset of an input partition reaches the agent, or is shown to be absent.

faust-streaming can skip messages without a trace: its stream drops messages
that arrive while flow control is paused or with another generation id, and
its consumer then treats the jump in offsets as a *gap* (as if the offsets held
transaction markers) and commits past it. Seen in CI: a worker that took over
a partition received offsets 799 onwards where the committed offset was 710,
and the 89 readings in between were never applied anywhere.

:class:`OffsetGuard` knows the next offset each partition must deliver (the
committed offset for a partition just assigned). A message past it is not
handled: the guard asks for a seek back to the missing offset and holds back
everything later until it arrives. If, after that seek, the consumer delivers
a message it already held back, the broker has nothing at the missing offsets
(transaction markers, deleted records): the gap is real, and accepted.

A message that arrives before the partition's start is known is held back too,
and the partition is read again from its start once that is known. Faust's
fetcher can deliver records before the seek to the committed offsets that ends
its recovery; judging the first of them against nothing let a worker that took
a partition over begin at offset 801 where 692 was committed (CI, scale-out
test): the readings in between were then taken for redeliveries and never
applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.runtime.agents.consumer import ConsumerView

log = logging.getLogger(__name__)

Partition = tuple[str, int]
"""(topic, partition)."""

MAX_HELD_BACK = 100_000
"""Offsets remembered per partition while waiting for a seek (then the gap is accepted)."""


@dataclass
class _Wait:
    """A partition waiting for the consumer to deliver ``missing`` again."""

    missing: int
    held_back: set[int] = field(default_factory=set)
    sought: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one delivered message.

    Attributes:
        handle: Handle it (otherwise drop it without acknowledging).
        seek_to: Seek the partition back to this offset first (None: no seek).
        gap: Offsets ``[start, end)`` shown absent from the log (None: no gap).
    """

    handle: bool
    seek_to: int | None = None
    gap: tuple[int, int] | None = None


class OffsetGuard:
    """Per partition: the next offset expected, and the wait for a skipped one."""

    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}
        self._waits: dict[Partition, _Wait] = {}
        # Partitions that delivered before their start offset was known.
        self._unstarted: set[Partition] = set()

    def admit(self, tp: Partition, offset: int, start: int | None) -> Verdict:
        """Judge a delivered message.

        Args:
            tp: Its partition.
            offset: Its offset.
            start: Where consumption of the partition started (its committed
                offset), used before anything was delivered; None if unknown:
                then the message is held back, and :meth:`unstarted` lists the
                partition until something is handled (read it again from its start).
        """
        expected = self._next.get(tp, start)
        if expected is None:
            self._unstarted.add(tp)
            return Verdict(False)
        if offset <= expected:
            return self._delivered(tp, offset)
        wait = self._waits.get(tp)
        if wait is None or wait.missing != expected:
            wait = self._waits[tp] = _Wait(expected)
        if offset in wait.held_back or len(wait.held_back) >= MAX_HELD_BACK:
            # Delivered again after the seek: nothing lies between.
            self._delivered(tp, offset)
            return Verdict(True, gap=(expected, offset))
        wait.held_back.add(offset)
        if wait.sought:
            return Verdict(False)
        wait.sought = True
        self._unstarted.discard(tp)
        return Verdict(False, seek_to=expected)

    def _delivered(self, tp: Partition, offset: int) -> Verdict:
        self._unstarted.discard(tp)
        if offset + 1 > self._next.get(tp, -1):
            self._next[tp] = offset + 1
        wait = self._waits.get(tp)
        if wait is not None and offset >= wait.missing:
            del self._waits[tp]
        return Verdict(True)

    def knows(self, tp: Partition) -> bool:
        """Whether the partition delivered anything yet (then its start offset is not needed)."""
        return tp in self._next

    def waiting(self) -> int:
        """Partitions waiting for skipped messages."""
        return len(self._waits)

    def forget_unstarted(self, tp: Partition) -> None:
        """The partition is being read again from its start."""
        self._unstarted.discard(tp)

    def unstarted(self) -> list[Partition]:
        """Partitions whose messages were held back because their start was not known."""
        return list(self._unstarted)

    def forget(self) -> None:
        """After a rebalance consumption restarts from the committed offsets."""
        self._next.clear()
        self._waits.clear()
        self._unstarted.clear()


class GuardedIntake:
    """An agent's use of :class:`OffsetGuard`: judge messages, then seek as asked.

    Args:
        consumer: Where start offsets come from and seeks go.
        rereads: Counts seeks back (a Prometheus counter's ``inc``).
        gaps: Counts offsets shown absent.
    """

    def __init__(
        self, consumer: ConsumerView, rereads: Callable[[], object], gaps: Callable[[float], object]
    ) -> None:
        self._consumer = consumer
        self._guard = OffsetGuard()
        self._rereads = rereads
        self._gaps = gaps
        self._seeks: list[tuple[str, int, int]] = []

    def admit(self, topic: str, partition: int, offset: int) -> bool:
        """Whether to handle this message now (False: dropped unacknowledged, read again)."""
        tp = (topic, partition)
        # The start offset matters only for a partition's first message (not per event).
        start = None if self._guard.knows(tp) else self._consumer.start_offset(topic, partition)
        verdict = self._guard.admit(tp, offset, start)
        if verdict.gap is not None:
            first, end = verdict.gap
            log.warning(
                "%s[%d]: offsets %d..%d are not in the log; going on from %d",
                topic, partition, first, end - 1, end,
            )  # fmt: skip
            self._consumer.skip_gap(topic, partition, first, end)
            self._gaps(end - first)
        if verdict.seek_to is not None:
            log.warning(
                "%s[%d]: offset %d arrived where %d was due: reading again from %d",
                topic, partition, offset, verdict.seek_to, verdict.seek_to,
            )  # fmt: skip
            self._seeks.append((topic, partition, verdict.seek_to))
        return verdict.handle

    async def seek(self) -> None:
        """Carry out the seeks asked for since the last call.

        A partition whose messages were held back for want of a start offset is
        read again from that start as soon as it is known (called after every
        batch and on the agents' timers, so it happens even if nothing follows).
        """
        for topic, partition in self._guard.unstarted():
            start = self._consumer.start_offset(topic, partition)
            if start is not None:
                self._guard.forget_unstarted((topic, partition))
                log.info(
                    "%s[%d]: delivered before its start offset was known: reading again from %d",
                    topic, partition, start,
                )  # fmt: skip
                self._seeks.append((topic, partition, start))
        seeks, self._seeks = self._seeks, []
        for topic, partition, offset in seeks:
            self._rereads()
            await self._consumer.seek(topic, partition, offset)

    def forget(self) -> None:
        """After a rebalance (consumption restarts from the committed offsets)."""
        self._guard.forget()
        self._seeks.clear()
