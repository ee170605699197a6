"""The merge judges a partition caught up as of when its fetch was sent, not answered."""

from __future__ import annotations

import asyncio
import time
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
    assert asyncio.run(_proc_fetch_request_stamped(None, assignment, 1, request)) is True
    answered = assignment.state_value(TopicPartition("t.sensor", 0))
    sent = getattr(answered, FETCH_SENT_ATTR)
    assert before <= sent
    assert answered.timestamp - sent >= 299  # what aiokafka alone would report
    discarded = assignment.state_value(TopicPartition("t.sensor", 1))
    assert not hasattr(discarded, FETCH_SENT_ATTR)
