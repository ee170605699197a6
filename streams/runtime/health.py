"""No silent stall: is the worker really consuming what it holds?

The agents report every message they receive; a periodic check compares each
assigned input partition's position with the broker's end of it. A partition
with lag that has received nothing for ``stall_timeout_s`` (outside a
rebalance or a table recovery) is *stalled*: ``/health`` answers 503 with the
reason, ``gridwatch_stalled_partitions`` shows it, and the worker exits
non-zero so its supervisor restarts it.

Before that, a partition whose client has fetched up to the end while the
agents received nothing of the lag for ``reread_after_s`` is read again from
the offset due: its records were fetched and then dropped on the way (Faust
drops what it holds at a rebalance or a seek, and the fetcher can run ahead of
the seek to the committed offsets at start-up). A skip with later messages
behind it is caught by the agents' offset guard when the next one arrives; a
skip of a partition's last messages has no next one, and the client, at the
end, fetches nothing more by itself (seen: a worker started on a 200,000-event
backlog had one hotline case left behind, until the stall exit a minute later).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.runtime.agents.consumer import ConsumerView

log = logging.getLogger(__name__)

FETCH_FRESH_S = 10.0
"""A partition whose last fetch response is older than this is not judged."""


@dataclass(frozen=True, slots=True)
class Stall:
    """An assigned partition with lag and no progress."""

    topic: str
    partition: int
    lag: int
    for_s: float

    def describe(self) -> str:
        """One line for logs and ``/health``."""
        return (
            f"{self.topic}[{self.partition}]: {self.lag} messages behind, "
            f"nothing received for {self.for_s:.0f}s"
        )


class ProgressWatch:
    """Tracks, per assigned partition, when it last received a message.

    Args:
        stall_timeout_s: How long a partition with lag may go without a message.
        topics: The input topics to watch.
    """

    def __init__(
        self,
        stall_timeout_s: float,
        topics: tuple[str, ...],
        *,
        reread_after_s: float | None = None,
        rereads: Callable[[], object] = lambda: None,
    ) -> None:
        self.stall_timeout_s = stall_timeout_s
        self.topics = topics
        self.reread_after_s = reread_after_s
        self._rereads = rereads
        self._reread_at: dict[tuple[str, int], float] = {}
        self._next: dict[tuple[str, int], int] = {}
        self._since: dict[tuple[str, int], float] = {}
        self.stalls: list[Stall] = []
        self.broker_silent_s: float | None = None
        """Seconds since the broker last answered a fetch, when that is too long (else None)."""

    def observe(self, topic: str, partition: int, offset: int, now: float) -> None:
        """A message of ``topic[partition]`` at ``offset`` was received."""
        key = (topic, partition)
        if offset + 1 > self._next.get(key, -1):
            self._next[key] = offset + 1
        self._since[key] = now

    def pause(self, now: float) -> None:
        """A rebalance or recovery is running: nothing is judged, every clock restarts."""
        for key in self._since:
            self._since[key] = now
        self._reread_at.clear()
        self.stalls = []

    async def check(
        self, now: float, consumer: ConsumerView, assigned: Mapping[str, set[int]]
    ) -> list[Stall]:
        """The stalled partitions now (also kept in :attr:`stalls`)."""
        last_fetch = consumer.last_fetch_at()
        silent = None if last_fetch is None else now - last_fetch
        self.broker_silent_s = silent if silent is not None and silent >= FETCH_FRESH_S else None
        stalls: list[Stall] = []
        for topic in self.topics:
            for partition in sorted(assigned.get(topic, set())):
                key = (topic, partition)
                since = self._since.setdefault(key, now)
                fetched = consumer.highwater(topic, partition)
                if fetched is None or now - fetched[1] >= FETCH_FRESH_S:
                    # No fresh word from the broker on it: an unreachable broker is not
                    # a stall of this worker (it carries on by itself once it is back).
                    self._since[key] = now
                    continue
                highwater = fetched[0]
                following = self._next.get(key)
                if following is None:
                    following = consumer.start_offset(topic, partition)
                if following is None or following >= highwater:
                    self._since[key] = now  # caught up: nothing to wait for
                    continue
                if now - since >= self.stall_timeout_s:
                    stalls.append(Stall(topic, partition, highwater - following, now - since))
                elif self._dropped(key, now, since, consumer, highwater):
                    log.warning(
                        "%s[%d]: fetched to its end offset %d, nothing received from %d for "
                        "%.0fs: reading again from %d",
                        topic, partition, highwater, following, now - since, following,
                    )  # fmt: skip
                    self._reread_at[key] = now
                    self._rereads()
                    await consumer.seek(topic, partition, following)
        self.stalls = stalls
        return stalls

    def _dropped(
        self, key: tuple[str, int], now: float, since: float, consumer: ConsumerView, end: int
    ) -> bool:
        """Whether a lagging partition's records were fetched and never delivered."""
        wait = self.reread_after_s
        if wait is None or now - since < wait or now - self._reread_at.get(key, since) < wait:
            return False
        position = consumer.position(*key)
        return position is not None and position >= end


STALL_EXIT_CODE = 70
"""Exit status of a worker that found itself stalled (EX_SOFTWARE)."""

STALL_EXIT_AFTER_S = 5.0
"""How long a stalled worker answers 503 (for probes and scrapes to see) before it exits."""


class StallGuard:
    """Runs the stall check every second; a worker that stays stalled exits non-zero.

    Args:
        watch: The progress watch the agents report to.
        consumer: The consumer's view of the partitions.
        busy: True while a rebalance or a table recovery runs (nothing is judged then).
        gauge: Set to the number of stalled partitions.
        wall: Wall-clock seconds.
        exit: Ends the process (``os._exit``: Faust's own stop can hang on the very
            thing that stalled).
    """

    def __init__(
        self,
        watch: ProgressWatch,
        consumer: ConsumerView,
        *,
        busy: Callable[[], bool],
        gauge: Any,
        wall: Callable[[], float] = time.time,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self._watch = watch
        self._consumer = consumer
        self._busy = busy
        self._gauge = gauge
        self._wall = wall
        self._exit = exit
        self._since: float | None = None

    async def check(self) -> None:
        """One check: judge, report, and exit after a stall outlived the grace."""
        now = self._wall()
        if self._busy():
            self._watch.pause(now)
            self._gauge.set(0)
            self._since = None
            return
        assigned = {topic: self._consumer.assigned(topic) for topic in self._watch.topics}
        stalls = await self._watch.check(now, self._consumer, assigned)
        self._gauge.set(len(stalls))
        if not stalls:
            self._since = None
            return
        reasons = "; ".join(stall.describe() for stall in stalls)
        if self._since is None:
            self._since = now
            log.error("worker stalled: %s; /health answers 503", reasons)
        elif now - self._since >= STALL_EXIT_AFTER_S:
            log.critical("worker stalled (%s); exiting so that a supervisor restarts it", reasons)
            for handler in logging.getLogger().handlers:
                handler.flush()
            self._exit(STALL_EXIT_CODE)
