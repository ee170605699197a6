"""Dropping repeated events per asset: the ids an asset applied recently, bounded.

The memory is part of the asset's state, so it survives restarts and
rebalances with it (the changelog-backed table), and live and offline runs
decide the same: an event is a duplicate when its asset applied an event with
the same id within ``horizon_s`` of event time before its newest event, among
its last ``max_ids`` events.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections import deque
from typing import Final

_ENTRY: Final = struct.Struct("<QI")  # 64-bit id hash, event time in whole epoch seconds


def id_hash(item_id: str) -> int:
    """A stable 64-bit hash of an id (the same in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8).digest(), "big")


class RecentIds:
    """The ids of an asset's recently applied events, oldest first."""

    __slots__ = ("_hashes", "_order")

    def __init__(self) -> None:
        self._hashes: set[int] = set()
        self._order: deque[tuple[int, int]] = deque()

    def __len__(self) -> int:
        return len(self._order)

    def seen(self, hashed: int) -> bool:
        """Whether an event with this id hash was applied and is still remembered."""
        return hashed in self._hashes

    def remember(
        self, hashed: int, event_time: float, newest: float, horizon_s: float, max_ids: int
    ) -> None:
        """Remember one applied id; forget ids beyond the horizon or the bound."""
        if hashed not in self._hashes:
            self._hashes.add(hashed)
            self._order.append((hashed, max(0, int(event_time))))
        cutoff = newest - horizon_s
        order = self._order
        while order and (len(order) > max_ids or order[0][1] < cutoff):
            old, _ = order.popleft()
            self._hashes.discard(old)

    def snapshot(self) -> str:
        """Compact plain data for persistence (base64 of packed entries)."""
        packed = b"".join(_ENTRY.pack(hashed, t) for hashed, t in self._order)
        return base64.b64encode(packed).decode("ascii")

    @classmethod
    def restore(cls, data: str) -> RecentIds:
        """Rebuild from :meth:`snapshot`."""
        recent = cls()
        for hashed, t in _ENTRY.iter_unpack(base64.b64decode(data)):
            recent._hashes.add(hashed)
            recent._order.append((hashed, t))
        return recent
