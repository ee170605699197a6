"""OffsetGuard: every offset of a partition is handled, or shown absent by the broker."""

from __future__ import annotations

import asyncio

from streams.runtime.agents.offsets import GuardedIntake, OffsetGuard, Verdict

TP = ("t.sensor", 0)


def test_consecutive_offsets_from_the_committed_one_are_handled():
    guard = OffsetGuard()
    assert [guard.admit(TP, offset, 10) for offset in (10, 11, 12)] == [Verdict(True)] * 3
    assert guard.waiting() == 0


def test_a_jump_seeks_back_once_and_holds_later_offsets_until_the_missing_one_comes():
    guard = OffsetGuard()
    assert guard.admit(TP, 10, 10) == Verdict(True)
    assert guard.admit(TP, 15, 10) == Verdict(False, seek_to=11)
    assert guard.admit(TP, 16, 10) == Verdict(False)  # no second seek
    assert guard.waiting() == 1
    # After the seek: 11 onwards, then 15 and 16 again, all handled once in order.
    assert [guard.admit(TP, offset, 10).handle for offset in range(11, 18)] == [True] * 7
    assert guard.waiting() == 0


def test_a_partition_just_assigned_starts_at_its_committed_offset():
    guard = OffsetGuard()
    assert guard.admit(TP, 799, 710) == Verdict(False, seek_to=710)
    assert guard.admit(TP, 710, 710) == Verdict(True)


def test_offsets_the_broker_does_not_have_are_a_gap_once_delivered_again_after_the_seek():
    guard = OffsetGuard()
    assert guard.admit(TP, 5, 5) == Verdict(True)
    assert guard.admit(TP, 8, 5) == Verdict(False, seek_to=6)
    # Read again from 6: the first record there is 8 (6 and 7 are transaction markers).
    assert guard.admit(TP, 8, 5) == Verdict(True, gap=(6, 8))
    assert guard.admit(TP, 9, 5) == Verdict(True)
    assert guard.waiting() == 0


def test_redeliveries_are_handled_and_a_rebalance_forgets():
    guard = OffsetGuard()
    assert guard.admit(TP, 3, 3) == Verdict(True)
    assert guard.admit(TP, 2, 3) == Verdict(True)  # a redelivery: the agents skip it
    assert guard.admit(TP, 9, 3) == Verdict(False, seek_to=4)
    guard.forget()
    assert guard.admit(TP, 9, 9) == Verdict(True)
    assert guard.waiting() == 0


def test_a_message_before_its_partitions_start_is_known_is_held_back():
    # Faust's fetcher delivered 801 before its seek to the committed 692 (CI).
    guard = OffsetGuard()
    assert guard.admit(TP, 801, None) == Verdict(False)
    assert guard.admit(TP, 802, None) == Verdict(False)
    assert guard.unstarted() == [TP]
    # Known now: a later offset is a jump back to the start, the start itself is handled.
    assert guard.admit(TP, 803, 692) == Verdict(False, seek_to=692)
    assert guard.unstarted() == []
    assert guard.admit(TP, 692, 692) == Verdict(True)


class _Consumer:
    """Start offsets that become known later, and the seeks asked for."""

    def __init__(self) -> None:
        self.starts: dict[tuple[str, int], int] = {}
        self.sought: list[tuple[str, int, int]] = []

    def start_offset(self, topic: str, partition: int) -> int | None:
        return self.starts.get((topic, partition))

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        self.sought.append((topic, partition, offset))

    def skip_gap(self, topic: str, partition: int, start: int, end: int) -> None:
        raise AssertionError("no gap here")


def test_held_back_partitions_are_read_again_from_their_start_once_it_is_known():
    consumer = _Consumer()
    rereads: list[int] = []
    intake = GuardedIntake(consumer, lambda: rereads.append(1), lambda n: None)  # type: ignore[arg-type]
    assert not intake.admit(*TP, 801)
    asyncio.run(intake.seek())
    assert consumer.sought == []  # the start is still being looked up
    consumer.starts[TP] = 692
    asyncio.run(intake.seek())
    assert consumer.sought == [(*TP, 692)]
    assert len(rereads) == 1
    asyncio.run(intake.seek())
    assert consumer.sought == [(*TP, 692)]  # once
    assert intake.admit(*TP, 692)
    assert intake.admit(*TP, 693)
