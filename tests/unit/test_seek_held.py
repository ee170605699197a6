"""The consumer's seek to the committed offsets holds the partitions it seeks until it is done."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.runtime import faust_compat


class _Consumer:
    """Faust's consumer as the seek sees it: an active set, pause and resume."""

    def __init__(self, active: set[str]) -> None:
        self.active = set(active)
        self.app = type("App", (), {"consumer_generation_id": 7})()
        self.during: list[set[str]] = []

    def _get_active_partitions(self) -> set[str]:
        return self.active

    def pause_partitions(self, tps: set[str]) -> None:
        self.active -= set(tps)

    def resume_partitions(self, tps: set[str]) -> None:
        self.active |= set(tps)


def test_nothing_is_fetched_from_the_old_position_while_the_seek_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer({"sensor-0", "sensor-1"})

    async def seek(self: Any) -> None:
        await asyncio.sleep(0)
        self.during.append(set(self.active))

    monkeypatch.setattr(faust_compat, "_original_perform_seek", seek)
    asyncio.run(faust_compat._perform_seek_paused(consumer))
    assert consumer.during == [set()]  # held while the seek ran
    assert consumer.active == {"sensor-0", "sensor-1"}  # and resumed after it


def test_a_rebalance_during_the_seek_decides_what_resumes(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = _Consumer({"sensor-0"})

    async def seek(self: Any) -> None:
        # A new generation: its recovery holds the stream partitions until the tables
        # are restored; the earlier seek must not resume them.
        self.app.consumer_generation_id = 8
        self.pause_partitions({"sensor-0"})

    monkeypatch.setattr(faust_compat, "_original_perform_seek", seek)
    asyncio.run(faust_compat._perform_seek_paused(consumer))
    assert consumer.active == set()


def test_a_failed_seek_resumes_the_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = _Consumer({"sensor-0"})

    async def seek(self: Any) -> None:
        raise RuntimeError("broker gone")

    monkeypatch.setattr(faust_compat, "_original_perform_seek", seek)
    with pytest.raises(RuntimeError):
        asyncio.run(faust_compat._perform_seek_paused(consumer))
    assert consumer.active == {"sensor-0"}
