"""A revocation commits what was acknowledged before Faust forgets it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.runtime import faust_compat


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.warnings.append(message % args)


class _Consumer:
    def __init__(self, calls: list[str], fail: bool = False) -> None:
        self.calls = calls
        self.fail = fail
        self.log = _Log()

    async def commit(self) -> bool:
        self.calls.append("commit")
        if self.fail:
            raise RuntimeError("coordinator gone")
        return True


@pytest.fixture
def revocations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    async def faust_revocation(self: Any, revoked: Any) -> None:
        calls.append(f"revoke {sorted(revoked)}")

    monkeypatch.setattr(faust_compat, "_original_on_partitions_revoked", faust_revocation)
    return calls


def test_the_acknowledged_offsets_are_committed_before_faust_drops_them(revocations):
    consumer = _Consumer(revocations)
    asyncio.run(faust_compat._commit_then_revoke(consumer, {("sensor", 0), ("sensor", 1)}))
    assert revocations == ["commit", "revoke [('sensor', 0), ('sensor', 1)]"]
    assert consumer.log.warnings == []


def test_a_failed_commit_is_logged_and_the_revocation_goes_on(revocations):
    consumer = _Consumer(revocations, fail=True)
    asyncio.run(faust_compat._commit_then_revoke(consumer, {("sensor", 0)}))
    assert revocations == ["commit", "revoke [('sensor', 0)]"]
    assert len(consumer.log.warnings) == 1
    assert "coordinator gone" in consumer.log.warnings[0]


def test_the_patch_is_installed():
    from faust.transport.consumer import Consumer

    faust_compat.patch_faust()
    assert Consumer.on_partitions_revoked is faust_compat._commit_then_revoke


def test_the_end_offset_gauge_is_set_only_when_the_end_offset_moves(monkeypatch):
    from faust.sensors.prometheus import PrometheusMonitor

    calls: list[tuple[str, int]] = []

    def record(self: Any, tp: str, offset: int) -> None:
        calls.append((tp, offset))
        self.tp_end_offsets[tp] = offset

    monkeypatch.setattr(faust_compat, "_original_track_tp_end_offset", record)
    monitor: Any = object.__new__(PrometheusMonitor)
    monitor.tp_end_offsets = {}
    for tp, offset in [("a", 5), ("a", 5), ("b", 5), ("a", 5), ("a", 9), ("b", 5), ("a", 9)]:
        faust_compat._track_changed_end_offset(monitor, tp, offset)
    assert calls == [("a", 5), ("b", 5), ("a", 9)]
    assert monitor.tp_end_offsets == {"a": 9, "b": 5}
