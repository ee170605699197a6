"""The event-time merge: the same release order whatever the arrival order."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.merge import EventTimeMerge, OrderKey, order_key
from streams.core.task import BrokerContact

KINDS = ("sensor", "hotline", "inspection", "ack")


@st.composite
def sources(draw: st.DrawFn) -> dict[str, list[OrderKey]]:
    """Up to five sources, each a list of keys in event-time order (ties allowed)."""
    count = draw(st.integers(1, 5))
    out: dict[str, list[OrderKey]] = {}
    serial = 0
    for s in range(count):
        times = sorted(draw(st.lists(st.integers(0, 40), max_size=25)))
        keys = []
        for t in times:
            serial += 1
            keys.append(order_key(float(t), draw(st.sampled_from(KINDS)), f"e{serial:05d}"))
        out[f"s{s}"] = keys
    return out


def interleave(
    data: st.DataObject, by_source: dict[str, list[OrderKey]]
) -> list[tuple[str, OrderKey]]:
    """Any arrival order that keeps each source's own order."""
    queues = {name: list(keys) for name, keys in by_source.items() if keys}
    arrival = []
    while queues:
        name = data.draw(st.sampled_from(sorted(queues)))
        arrival.append((name, queues[name].pop(0)))
        if not queues[name]:
            del queues[name]
    return arrival


@settings(max_examples=300, deadline=None)
@given(sources(), st.data())
def test_release_order_is_the_canonical_order_whatever_the_interleaving(by_source, data):
    merge: EventTimeMerge[OrderKey] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=None)
    for name in by_source:
        merge.add_source(name, 0.0)
    left = {name: len(keys) for name, keys in by_source.items()}
    released: list[OrderKey] = []
    for now, (name, key) in enumerate(interleave(data, by_source), start=1):
        assert merge.push(name, key, key, float(now))
        left[name] -= 1
        if left[name] == 0:
            # A source that delivered everything has nothing more: caught up.
            merge.caught_up(name, float(now))
        released.extend(merge.release(float(now)))
    released.extend(merge.release(1e9))
    released.extend(merge.flush())
    expected = sorted(key for keys in by_source.values() for key in keys)
    assert released == expected


@settings(max_examples=200, deadline=None)
@given(sources(), st.data())
def test_nothing_is_released_while_a_source_lags_behind(by_source, data):
    merge: EventTimeMerge[OrderKey] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=None)
    names = sorted(by_source)
    merge.add_source("quiet", 0.0)  # lagging: no item, no progress, never caught up
    for now, (name, key) in enumerate(interleave(data, by_source), start=1):
        merge.push(name, key, key, float(now))
        merge.caught_up(name, float(now))
        assert merge.release(float(now) + 100) == []
    assert len(merge) == sum(len(by_source[n]) for n in names)


def test_a_caught_up_quiet_source_holds_an_event_for_the_idle_wait_only():
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.25, max_wait_s=None)
    merge.add_source("sensor", 0.0)
    merge.add_source("hotline", 0.0)
    merge.push("sensor", order_key(100.0, "sensor", "a"), "a", 10.0)
    merge.push("sensor", order_key(101.0, "sensor", "b"), "b", 10.0)
    merge.caught_up("hotline", 10.1)  # seen with nothing left, but only 0.1 s after "a"
    assert merge.release(10.1) == []
    merge.caught_up("hotline", 10.3)  # 0.3 s after: anything it had before "b" would be here
    assert merge.release(10.3) == ["a"]  # "b" waits for the sensor source to move past 101
    merge.push("sensor", order_key(102.0, "sensor", "c"), "c", 10.4)
    assert merge.release(10.4) == ["b"]


def test_a_late_arrival_after_the_release_is_a_straggler():
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=None)
    merge.add_source("sensor", 0.0)
    merge.push("sensor", order_key(100.0, "sensor", "a"), "a", 1.0)
    merge.push("sensor", order_key(200.0, "sensor", "b"), "b", 1.0)
    assert merge.release(1.0) == ["a"]
    assert not merge.push("sensor", order_key(50.0, "sensor", "old"), "old", 2.0)
    # Not ordered before anything released: still placed in order.
    assert merge.push("sensor", order_key(150.0, "sensor", "mid"), "mid", 2.0)
    assert merge.flush() == ["mid", "b"]


def test_equal_times_release_by_kind_then_id():
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=None)
    merge.add_source("log", 0.0)
    for kind, item in (
        ("inspection", "i1"),
        ("hotline", "h2"),
        ("sensor", "s9"),
        ("hotline", "h1"),
    ):
        merge.push("log", order_key(10.0, kind, item), item, 0.0)
    assert merge.release(0.0) == []  # the log may still hold more at 10.0
    merge.push("log", order_key(11.0, "sensor", "s1"), "s1", 0.0)
    assert merge.release(0.0) == ["s9", "h1", "h2", "i1"]


def test_a_source_without_progress_is_passed_over_after_max_wait():
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=30.0)
    merge.add_source("sensor", 0.0)
    merge.add_source("dead", 0.0)
    merge.push("sensor", order_key(5.0, "sensor", "a"), "a", 1.0)
    merge.push("sensor", order_key(6.0, "sensor", "b"), "b", 1.0)
    assert merge.release(29.0) == []
    assert merge.release(31.0) == ["a"]
    assert merge.passed_over == 1
    assert merge.last_passed_over == "dead"


def test_time_the_broker_did_not_answer_does_not_count_towards_max_wait():
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=30.0)
    merge.add_source("sensor", 0.0)
    merge.add_source("hotline", 0.0)
    merge.push("sensor", order_key(5.0, "sensor", "a"), "a", 1.0)
    merge.push("sensor", order_key(6.0, "sensor", "b"), "b", 1.0)
    # Down from 2 s to 66 s: nothing is passed over while it is down ...
    assert merge.release(40.0, answering_since=None) == []
    # ... nor right after it is back: the hotline source gets its full max_wait.
    assert merge.release(67.0, answering_since=66.0) == []
    assert merge.release(95.0, answering_since=66.0) == []
    assert merge.passed_over == 0
    assert merge.release(96.5, answering_since=66.0) == ["a"]
    assert merge.last_passed_over == "hotline"


def test_broker_contact_sees_an_outage_nobody_watched():
    contact = BrokerContact(silence_s=10.0)
    assert contact.answering_since(None, 0.0) is None
    assert contact.answering_since(1.0, 1.2) == 1.0
    assert contact.answering_since(1.5, 1.7) == 1.0
    assert contact.answering_since(1.5, 12.0) is None  # silent for 10.5 s
    assert contact.answering_since(70.0, 70.1) == 70.0
    assert contact.answering_since(70.5, 70.6) == 70.0
    # Nobody asked during the second outage: the jump between fetches shows it.
    assert contact.answering_since(140.0, 140.2) == 140.0


def test_progress_markers_advance_a_source_without_items():
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=None)
    merge.add_source("sensor", 0.0)
    merge.add_source("hotline/0", 0.0)
    merge.push("sensor", order_key(5.0, "sensor", "a"), "a", 1.0)
    merge.push("sensor", order_key(9.0, "sensor", "b"), "b", 1.0)
    merge.progress("hotline/0", 7.0, 1.5)
    assert merge.release(1.5) == ["a"]
    assert merge.watermark(1.5) == 7.0
    merge.progress("hotline/0", math.inf, 2.0)
    assert merge.release(2.0) == []  # "b" waits for the sensor source itself
    assert merge.watermark(2.0) == 9.0


def test_clear_drops_everything():
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.1, max_wait_s=None)
    merge.add_source("a", 0.0)
    merge.push("a", order_key(1.0, "sensor", "x"), "x", 0.0)
    assert merge.clear() == ["x"]
    assert len(merge) == 0
    assert merge.sources == []
    assert merge.released is None


def test_an_arrival_earlier_than_the_last_counts_as_the_last():
    # Fetch times of lists taken out of their fetch order (the router's markers go ahead
    # of a waiting backlog): arrival never goes back, so coverage is never overstated.
    merge: EventTimeMerge[str] = EventTimeMerge(idle_wait_s=0.25, max_wait_s=None)
    merge.add_source("sensor", 0.0)
    merge.add_source("hotline", 0.0)
    merge.push("sensor", order_key(100.0, "sensor", "a"), "a", 10.0)
    merge.push("sensor", order_key(101.0, "sensor", "b"), "b", 9.0)  # fetched before "a" was
    merge.push("sensor", order_key(102.0, "sensor", "c"), "c", 10.5)
    merge.caught_up("hotline", 10.2)
    assert merge.release(11.0) == []  # "a" arrived at 10.0, not 0.25 s before 10.2
    merge.caught_up("hotline", 10.3)
    assert merge.release(11.0) == ["a", "b"]  # "b" counts as arrived at 10.0, with "a"
