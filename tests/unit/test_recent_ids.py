"""An asset's recent event ids: bounded by count and event time, persisted compactly."""

from __future__ import annotations

import base64
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.engine.dedup import RecentIds

ENTRY = struct.Struct("<QI")


class Reference:
    """The rule, written plainly: entries in the order applied, oldest dropped first."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, int]] = []

    def seen(self, hashed: int) -> bool:
        return any(h == hashed for h, _ in self.entries)

    def remember(self, hashed: int, t: float, newest: float, horizon: float, most: int) -> None:
        if not self.seen(hashed):
            self.entries.append((hashed, max(0, int(t))))
        while self.entries and (len(self.entries) > most or self.entries[0][1] < newest - horizon):
            self.entries.pop(0)


steps = st.lists(st.tuples(st.integers(0, 40), st.floats(0, 5000, allow_nan=False)), max_size=300)


@settings(max_examples=200, deadline=None)
@given(steps=steps, horizon=st.sampled_from([30.0, 600.0, 1e9]), most=st.integers(1, 50))
def test_recent_ids_follow_the_rule_and_survive_a_restore(steps, horizon, most):
    recent, reference = RecentIds(), Reference()
    newest = 0.0
    for number, (hashed, t) in enumerate(steps):
        newest = max(newest, t)
        assert recent.seen(hashed) == reference.seen(hashed)
        recent.remember(hashed, t, newest, horizon, most)
        reference.remember(hashed, t, newest, horizon, most)
        assert len(recent) == len(reference.entries)
        if number % 7 == 0:
            recent = RecentIds.restore(recent.snapshot())
    # Persisted as the entries packed one after another, oldest first.
    packed = base64.b64decode(recent.snapshot())
    assert list(ENTRY.iter_unpack(packed)) == reference.entries
