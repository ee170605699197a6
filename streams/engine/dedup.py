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
from typing import Final

_ENTRY: Final = struct.Struct("<QI")  # 64-bit id hash, event time in whole epoch seconds
_SIZE: Final = _ENTRY.size


def id_hash(item_id: str) -> int:
    """A stable 64-bit hash of an id (the same in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8).digest(), "big")


class RecentIds:
    """The ids of an asset's recently applied events, oldest first.

    The entries are kept packed, as they are persisted: a state write (every
    touched asset's, several times a second under a backlog) then encodes them
    in one step instead of packing up to ``max_ids`` entries one by one.
    """

    __slots__ = ("_hashes", "_oldest", "_packed")

    def __init__(self) -> None:
        self._hashes: set[int] = set()
        self._packed = bytearray()  # _ENTRY after _ENTRY, in the order applied
        self._oldest = 0  # event time of the first entry, when there is one

    def __len__(self) -> int:
        return len(self._packed) // _SIZE

    def seen(self, hashed: int) -> bool:
        """Whether an event with this id hash was applied and is still remembered."""
        return hashed in self._hashes

    def remember(
        self, hashed: int, event_time: float, newest: float, horizon_s: float, max_ids: int
    ) -> None:
        """Remember one applied id; forget ids beyond the horizon or the bound."""
        packed = self._packed
        if hashed not in self._hashes:
            self._hashes.add(hashed)
            t = max(0, int(event_time))
            if not packed:
                self._oldest = t
            packed += _ENTRY.pack(hashed, t)
        cutoff = newest - horizon_s
        limit = max_ids * _SIZE
        while packed and (len(packed) > limit or self._oldest < cutoff):
            old, _ = _ENTRY.unpack_from(packed)
            del packed[:_SIZE]
            self._hashes.discard(old)
            if packed:
                self._oldest = _ENTRY.unpack_from(packed)[1]

    def snapshot(self) -> str:
        """Compact plain data for persistence (base64 of packed entries)."""
        return base64.b64encode(self._packed).decode("ascii")

    @classmethod
    def restore(cls, data: str) -> RecentIds:
        """Rebuild from :meth:`snapshot`."""
        recent = cls()
        packed = base64.b64decode(data)
        recent._packed = bytearray(packed)
        recent._hashes = {hashed for hashed, _ in _ENTRY.iter_unpack(packed)}
        if packed:
            recent._oldest = _ENTRY.unpack_from(packed)[1]
        return recent
