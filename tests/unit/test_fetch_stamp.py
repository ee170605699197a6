"""The merge judges a partition caught up as of when its fetch was sent, not answered."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition

from streams.runtime import faust_compat
from streams.runtime.faust_compat import FETCH_SENT_ATTR, _proc_fetch_request_stamped


class _States:
    def __init__(self) -> None:
        self.states: dict[Any, SimpleNamespace] = {}

    def state_value(self, tp: Any) -> SimpleNamespace:
        return self.states.setdefault(tp, SimpleNamespace(timestamp=None))


def test_a_slow_response_keeps_the_time_its_request_was_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assignment = _States()
    request = SimpleNamespace(topics=[("t.sensor", [(0, 10, 1 << 20), (1, 4, 1 << 20)])])

    async def slow_fetch(self: Any, assignment: Any, node_id: Any, request: Any) -> bool:
        await asyncio.sleep(0.3)  # the response waits in a busy client
        answered = int(1000 * time.time())
        for partition in (0,):  # partition 1's response was discarded (position moved)
            assignment.state_value(TopicPartition("t.sensor", partition)).timestamp = answered
        return True

    monkeypatch.setattr(faust_compat, "_original_proc_fetch_request", slow_fetch)
    before = int(1000 * time.time())
    fetcher = SimpleNamespace(_records=OrderedDict())
    assert asyncio.run(_proc_fetch_request_stamped(fetcher, assignment, 1, request)) is True
    answered = assignment.state_value(TopicPartition("t.sensor", 0))
    sent = getattr(answered, FETCH_SENT_ATTR)
    assert before <= sent
    assert answered.timestamp - sent >= 299  # what aiokafka alone would report
    discarded = assignment.state_value(TopicPartition("t.sensor", 1))
    assert not hasattr(discarded, FETCH_SENT_ATTR)


def test_the_records_of_the_topics_fetched_first_are_handed_out_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(faust_compat, "FETCHED_FIRST", {"t.repartition"})
    sensor = [TopicPartition("t.sensor", p) for p in range(3)]
    markers = TopicPartition("t.repartition", 1)
    request = SimpleNamespace(topics=[("t.repartition", [(1, 0, 1 << 20)])])

    async def fetch(self: Any, assignment: Any, node_id: Any, request: Any) -> bool:
        self._records[markers] = "markers"  # the response came after the sensor backlog's
        return True

    monkeypatch.setattr(faust_compat, "_original_proc_fetch_request", fetch)
    fetcher = SimpleNamespace(_records=OrderedDict((tp, "readings") for tp in sensor))
    asyncio.run(_proc_fetch_request_stamped(fetcher, _States(), 1, request))
    assert list(fetcher._records) == [markers, *sensor]
    # Without such topics the order is the fetches' order.
    monkeypatch.setattr(faust_compat, "FETCHED_FIRST", set())
    fetcher = SimpleNamespace(_records=OrderedDict((tp, "readings") for tp in sensor))
    asyncio.run(_proc_fetch_request_stamped(fetcher, _States(), 1, request))
    assert list(fetcher._records) == [*sensor, markers]
