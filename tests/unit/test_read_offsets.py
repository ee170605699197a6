"""ReadOffsets: records fetched before a seek cannot make Faust drop what the seek fetches."""

from __future__ import annotations

from streams.runtime.faust_compat import ReadOffsets

SENSOR = ("t.sensor", 0)
CHANGELOG = ("t.app-asset-state-changelog", 0)


def delivered(reads: ReadOffsets, tp: tuple[str, int], offsets: range) -> list[int]:
    """Faust's delivery loop: a record passes if it is at or past the read offset."""
    passed = []
    for offset in offsets:
        read = reads[tp]
        if read is None or offset >= read:
            passed.append(offset)
            reads[tp] = offset
    return passed


def test_records_from_before_a_seek_do_not_hide_what_the_seek_fetches():
    reads = ReadOffsets(lambda tp: tp == SENSOR)
    reads.sought(SENSOR, 687)
    assert delivered(reads, SENSOR, range(796, 844)) == list(range(796, 844))  # in flight
    # The seek's own records: all of them pass, then reading goes on as before.
    assert delivered(reads, SENSOR, range(687, 850)) == list(range(687, 850))
    # Faust passes the last record read again (>=), and drops what came before it.
    assert delivered(reads, SENSOR, range(840, 852)) == [849, 850, 851]


def test_faust_seek_to_committed_is_a_seek_and_changelogs_are_plain():
    reads = ReadOffsets(lambda tp: tp == SENSOR)
    reads.update({SENSOR: 10, CHANGELOG: 5})
    assert delivered(reads, SENSOR, range(20, 22)) == [20, 21]
    assert reads[SENSOR] == 10
    assert delivered(reads, CHANGELOG, range(20, 22)) == [20, 21]
    assert reads[CHANGELOG] == 21  # no seek is held for a changelog


def test_a_revoked_partition_forgets_its_seek():
    reads = ReadOffsets(lambda tp: True)
    reads.sought(SENSOR, 3)
    reads.pop(SENSOR, None)
    reads[SENSOR] = 9
    assert reads[SENSOR] == 9
