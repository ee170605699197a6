"""Dropping repeated events by ``event_id`` within an event-time horizon."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class DuplicateFilter:
    """Remembers recent event ids and tells whether one was already seen.

    An id is remembered while its event time is within ``horizon`` of the
    newest event time seen, and at most ``max_ids`` ids are kept (oldest
    forgotten first), so memory stays bounded whatever the input.
    """

    def __init__(self, horizon: timedelta, max_ids: int) -> None:
        if max_ids < 1:
            raise ValueError("max_ids must be at least 1")
        self._horizon_s = horizon.total_seconds()
        self._max_ids = max_ids
        self._seen: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()
        self._newest = float("-inf")

    def __len__(self) -> int:
        return len(self._seen)

    def is_duplicate(self, event_id: str, event_time: datetime) -> bool:
        """Return True if ``event_id`` was seen within the horizon; else remember it.

        Args:
            event_id: The event's unique id.
            event_time: The event's time (timezone-aware).

        Returns:
            Whether the event is a duplicate and should be dropped.
        """
        if event_id in self._seen:
            return True
        stamp = event_time.timestamp()
        self._seen[event_id] = stamp
        self._order.append((stamp, event_id))
        self._newest = max(self._newest, stamp)
        self._forget_old()
        return False

    def _forget_old(self) -> None:
        cutoff = self._newest - self._horizon_s
        order = self._order
        while order and (len(order) > self._max_ids or order[0][0] < cutoff):
            _, event_id = order.popleft()
            del self._seen[event_id]
